"""The ``aimarket`` command line.

aimarket run SCENARIO [--seed N] [--ticks N] [--out DIR]
aimarket demo
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _demo(_args: argparse.Namespace) -> int:
    from experiments.demo import run_demo

    run_demo()
    return 0


def _run(args: argparse.Namespace) -> int:
    from experiments.plots import plot_run
    from experiments.runs import run_scenario, summary, write_run
    from experiments.scenarios import ScenarioError, load_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as e:
        print(f"aimarket: {e}", file=sys.stderr)
        return 2
    horizon = scenario.meta.horizon
    if args.ticks is not None and not 1 <= args.ticks <= horizon:
        print(f"aimarket: --ticks must be between 1 and the horizon ({horizon})", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("runs") / f"{scenario.meta.name}-seed{args.seed}"
    result = run_scenario(scenario, seed=args.seed, ticks=args.ticks, progress=not args.quiet)
    paths = write_run(result, out)
    paths += plot_run(result.tables, out, title=scenario.meta.name)
    m = result.manifest
    print(
        f"\n{scenario.meta.name}: {m['ticks']} ticks ({m['start']}..{m['end']}), seed {args.seed}"
    )
    print(summary(result))
    print(
        f"\nwall {m['wall_seconds']:.1f} s (clearing {m['seconds_in_clearing']:.1f} s, "
        f"agents {m['seconds_in_agents']:.1f} s); wrote {len(paths)} files to {out}/ "
        "(tables as Parquet, manifest.json, PNG plots)"
    )
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from experiments.scenarios import ScenarioError
    from experiments.sweep import load_sweep, summarise, sweep

    try:
        plan, _ = load_sweep(args.sweep)
    except ScenarioError as e:
        print(f"aimarket: {e}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("runs") / "sweeps" / plan.name
    try:
        df = sweep(args.sweep, out, workers=args.workers, scheduler=args.scheduler,
                   resume=args.resume, progress=not args.quiet)  # fmt: skip
    except FileExistsError as e:
        print(f"aimarket: {e}", file=sys.stderr)
        return 2
    print(summarise(df))
    print(f"\nwrote {len(df)} runs to {out}/ (parts/*.parquet, results.parquet, manifest.json)")
    return 0 if (df["status"] == "done").all() else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="aimarket", description="AI-infrastructure market simulator"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario; print a summary; write tables and manifest")
    run.add_argument(
        "scenario", help="scenario TOML file, e.g. experiments/scenarios/baseline.toml"
    )
    run.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    run.add_argument("--ticks", type=int, help="ticks to run (default: the scenario's horizon)")
    run.add_argument("--out", help="output folder (default runs/<scenario>-seed<N>)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)
    sw = sub.add_parser("sweep", help="run a parameter sweep (TOML) on dask.distributed")
    sw.add_argument("sweep", help="sweep TOML file")
    sw.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="local worker processes (0 = run in this process; default: cores)",
    )
    sw.add_argument("--scheduler", help="address of an existing Dask scheduler, "
                    "e.g. tcp://host:8786 (or set DASK_SCHEDULER_ADDRESS)")  # fmt: skip
    sw.add_argument("--out", help="output folder (default runs/sweeps/<name>)")
    sw.add_argument("--resume", action="store_true", help="skip runs already finished in --out")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(func=_sweep)
    demo = sub.add_parser("demo", help="clear one wafer + HBM + CoWoS -> accelerator market")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
