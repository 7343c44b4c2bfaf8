"""Benchmark of the sweep engine: runs per minute on 1 and 2 workers, parallel
efficiency, and the engine's overhead per run against a plain loop.

    python -m experiments.bench.sweep [--runs 64] [--ticks 40]

All three time the same ``runs`` baseline runs (one design point, ``runs``
seeds). Clusters are started before timing (their start-up is printed apart).
Targets: parallel efficiency >= 85% on 2 workers; overhead <= 5% per run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from experiments.cluster import local_cluster
from experiments.engine import execute
from experiments.scenarios import load_scenario
from experiments.studies.plan import SweepPlan
from experiments.studies.run import MarketRunner
from experiments.studies.sweep import tasks_of

BASELINE = "experiments/scenarios/baseline.toml"
OUTPUTS = ("unmet_share", "price_accelerator", "contract_coverage")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=64)
    parser.add_argument("--ticks", type=int, default=None, help="default: the horizon")
    args = parser.parse_args(argv)
    base = load_scenario(BASELINE).model_dump(mode="python")
    runner = MarketRunner({"base": base}, OUTPUTS, args.ticks)
    plan = SweepPlan(name="bench", sampler="grid", seeds=args.runs,
                     parameters=[{"path": "behaviour.foresight", "values": [0.3]}])  # fmt: skip
    tasks = tasks_of(plan)

    start = time.perf_counter()
    for t in tasks:
        runner(t.params, t.seed)
    loop = time.perf_counter() - start
    rows = {"plain loop": (loop, 0.0)}
    for workers in (1, 2):
        t0 = time.perf_counter()
        cluster = local_cluster(workers)
        startup = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as out:
            t1 = time.perf_counter()
            df = execute(tasks, runner, Path(out), scheduler=cluster.scheduler_address,
                         progress=False)  # fmt: skip
            rows[f"dask, {workers} worker(s)"] = (time.perf_counter() - t1, startup)
        cluster.close()
        assert (df["status"] == "done").all()
    print(f"{args.runs} baseline runs ({args.ticks or 'all'} ticks each)")
    print(f"{'':22}{'seconds':>10}{'runs/min':>10}{'cluster start s':>17}")
    for label, (secs, startup) in rows.items():
        print(f"{label:22}{secs:>10.2f}{60 * args.runs / secs:>10.1f}{startup:>17.2f}")
    t1, t2 = rows["dask, 1 worker(s)"][0], rows["dask, 2 worker(s)"][0]
    print(f"parallel efficiency on 2 workers: {100 * t1 / (2 * t2):.1f}% (target >= 85%)")
    print(f"engine overhead per run vs plain loop: {100 * (t1 - loop) / loop:.1f}% "
          f"({1e3 * (t1 - loop) / args.runs:.1f} ms per run; target <= 5%)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
