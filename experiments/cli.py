"""The ``aimarket`` command line.

aimarket run SCENARIO [--seed N] [--ticks N] [--out DIR]
aimarket demo
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from experiments.version import package_version


def _demo(_args: argparse.Namespace) -> int:
    from experiments.demo import run_demo

    run_demo()
    return 0


def _run(args: argparse.Namespace) -> int:
    from experiments.report import run_report
    from experiments.runs import run_scenario, summary, write_run
    from experiments.scenarios import load_scenario

    scenario = load_scenario(args.scenario)
    horizon = scenario.meta.horizon
    if args.ticks is not None and not 1 <= args.ticks <= horizon:
        print(f"aimarket: --ticks must be between 1 and the horizon ({horizon})", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("runs") / f"{scenario.meta.name}-seed{args.seed}"
    result = run_scenario(scenario, seed=args.seed, ticks=args.ticks, progress=not args.quiet)
    write_run(result, out)
    run_report(out)  # also draws the PNG plots
    paths = [p for p in out.iterdir() if not p.name.startswith(".")]
    m = result.manifest
    print(
        f"\n{scenario.meta.name}: {m['ticks']} ticks ({m['start']}..{m['end']}), seed {args.seed}"
    )
    print(summary(result.tables))
    print(
        f"\nwall {m['wall_seconds']:.1f} s (clearing {m['seconds_in_clearing']:.1f} s, "
        f"agents {m['seconds_in_agents']:.1f} s); wrote {len(paths)} files to {out}/ "
        "(tables as Parquet, manifest.json, PNG plots, report.html)"
    )
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from experiments.sweep import load_sweep, summarise, sweep

    plan, _ = load_sweep(args.sweep)
    out = Path(args.out) if args.out else Path("runs") / "sweeps" / plan.name
    df = sweep(args.sweep, out, workers=args.workers, scheduler=args.scheduler,
               resume=args.resume, progress=not args.quiet)  # fmt: skip
    print(summarise(df))
    print(f"\nwrote {len(df)} runs to {out}/ (parts/*.parquet, results.parquet, manifest.json)")
    return 0 if (df["status"] == "done").all() else 1


def _whatif(args: argparse.Namespace) -> int:
    from experiments.whatif import format_whatif, whatif

    df = whatif(args.base, args.policies, seeds=args.seeds, out=args.out, workers=args.workers,
                scheduler=args.scheduler, ticks=args.ticks, progress=not args.quiet,
                resume=args.resume)  # fmt: skip
    print(format_whatif(df))
    print(f"\nwrote runs and whatif.parquet/.csv to {df.attrs.get('out')}/")
    return 0


def _sensitivity(args: argparse.Namespace) -> int:
    from experiments.sensitivity import format_sensitivity, plot_sensitivity, sensitivity

    df = sensitivity(args.sweep, out=args.out, workers=args.workers, scheduler=args.scheduler,
                     progress=not args.quiet, resume=args.resume)  # fmt: skip
    out = Path(df.attrs["out"])
    plots = plot_sensitivity(df, out)
    print(format_sensitivity(df))
    print(f"\nwrote sensitivity.parquet/.csv and {len(plots)} plots to {out}/")
    return 0


def _report(args: argparse.Namespace) -> int:
    from experiments.report import build_report

    print(f"wrote {build_report(args.folder)}")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from experiments.app import serve  # lazy: Solara is slow to import

    print(f"dashboard for {args.scenario} at http://{args.host}:{args.port}/ (Ctrl-C to stop)")
    serve(args.scenario, args.port, args.host)
    return 0


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="local worker processes (0 = run in this process; default: cores)",
    )
    p.add_argument("--scheduler", help="address of an existing Dask scheduler, "
                   "e.g. tcp://host:8786 (or set DASK_SCHEDULER_ADDRESS)")  # fmt: skip
    p.add_argument("--out", help="output folder")
    p.add_argument("--resume", action="store_true", help="skip runs already finished in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="aimarket", description="AI-infrastructure market simulator"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
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
    _add_engine_options(sw)
    sw.set_defaults(func=_sweep)
    wi = sub.add_parser("whatif", help="policies against a baseline on paired seeds, with CIs")
    wi.add_argument("base", help="baseline scenario TOML")
    wi.add_argument("policies", nargs="+", help="policy scenario TOML files")
    wi.add_argument("--seeds", type=int, default=8, help="paired seeds (default 8)")
    wi.add_argument("--ticks", type=int, help="ticks per run (default: the horizon)")
    _add_engine_options(wi)
    wi.set_defaults(func=_whatif)
    se = sub.add_parser("sensitivity", help="Sobol or Morris indices (SALib) of a sweep")
    se.add_argument("sweep", help="sweep TOML file with sampler sobol or morris")
    _add_engine_options(se)
    se.set_defaults(func=_sensitivity)
    rp = sub.add_parser("report", help="build report.html from a run, sweep or what-if folder")
    rp.add_argument("folder", help="the --out folder of aimarket run, sweep, whatif or sensitivity")
    rp.set_defaults(func=_report)
    db = sub.add_parser("dashboard", help="interactive dashboard (Mesa SolaraViz) for a scenario")
    db.add_argument("scenario", help="scenario TOML file, e.g. experiments/scenarios/baseline.toml")
    db.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    db.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    db.set_defaults(func=_dashboard)
    demo = sub.add_parser("demo", help="clear one wafer + HBM + CoWoS -> accelerator market")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    from experiments.scenarios import ScenarioError

    try:
        return args.func(args)
    except (ScenarioError, FileExistsError, FileNotFoundError) as e:
        # Bad input files or folders: one clear message, no traceback.
        print(f"aimarket: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
