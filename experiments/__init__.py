"""Experiments: scenarios (TOML), runs, sweeps, what-if studies, sensitivity, reports, CLI.

The Python API for notebooks, each returning a pandas DataFrame::

    import experiments
    runs = experiments.sweep("experiments/sweeps/demand_and_hbm.toml", out="runs/s", workers=2)
    diffs = experiments.whatif("experiments/scenarios/baseline.toml",
                               ["experiments/scenarios/taiwan_outage.toml"], seeds=8)
    indices = experiments.sensitivity("experiments/sweeps/sobol_lockin.toml", workers=2)

The package by role:

- ``engine`` (run tasks, write parts, resume, isolate studies), ``cluster`` (the Dask
  LocalCluster factory and worker tuning), ``samplers`` (designs and seeds);
- ``studies/``: ``run`` (one run), ``plan`` (sweep files), ``sweep``, ``whatif``,
  ``sensitivity``;
- ``outputs/``: ``files`` (atomic writes, locks, reading back), ``format`` (numbers and
  text tables), ``tables`` (a run's tables), ``plots``, ``report``;
- ``connectors/``: ``ema`` (EMA Workbench); ``bench/``: benchmarks and the demo;
- ``scenarios`` (scenario files), ``kpis``, ``errors``, ``cli``, ``app`` (dashboard).
"""

from experiments.studies.sensitivity import sensitivity
from experiments.studies.sweep import sweep
from experiments.studies.whatif import whatif

__all__ = ["sensitivity", "sweep", "whatif"]
