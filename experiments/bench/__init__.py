"""Benchmarks and the demo (not part of the library's API; figures, not tests).

- ``python -m experiments.bench.market``: ticks per second, clearing vs agents time,
  peak memory, up to ~1,000 agents;
- ``python -m experiments.bench.sweep``: runs per minute on 1 and 2 workers, parallel
  efficiency, engine overhead;
- ``experiments.bench.demo`` (``aimarket demo``): one hand-made quarter cleared.
"""
