"""The ``aimarket`` command line.

    aimarket run SCENARIO [--seeds N | --seed S] [--ticks N] [--workers N] [--out DIR] [--force]
    aimarket sweep PLAN [--samples N] [--ticks N] [--yes] [engine options]
    aimarket whatif BASE [POLICY ...] [--policy NAME:PATH=VALUE ...] [--seeds N] [--ticks N]
    aimarket sensitivity PLAN [--samples N] [--ticks N] [--yes] [engine options]
    aimarket backtest [SCENARIO] [--seeds N] [--out DIR] [--force] [--record] [engine options]
    aimarket calibrate PLAN [--force] [engine options]
    aimarket report DIR
    aimarket dashboard SCENARIO [--port N] [--host H]
    aimarket demo

Engine options: ``--workers N``, ``--scheduler ADDRESS``, ``--out DIR``, ``--resume``,
``--quiet``. Arguments are range-checked when parsed; anything a user can get wrong
(a bad file, folder, option or value, a run driven out of range) ends in one
message naming what to change and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import warnings
from pathlib import Path

from experiments.version import package_version

SCENARIO_HELP = (
    "scenario: a shipped name (baseline, taiwan_outage, ...) or a TOML file, "
    "e.g. experiments/scenarios/baseline.toml"
)


def _int_at_least(low: int, high: int | None = None):
    """An argparse type: an integer in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {bound} (got {value})")
        return value

    parse.__name__ = "integer"
    return parse


def _input_file(text: str) -> str:
    """An argparse type for an input file: refuse a pipe, device or socket (reading one
    would hang or make no sense); a missing file is left to the loader's message."""
    try:
        mode = os.stat(text).st_mode
    except OSError:
        return text
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise argparse.ArgumentTypeError(f"{text}: not a regular file; give a .toml file")
    return text


def _demo(_args: argparse.Namespace) -> int:
    from experiments.bench.demo import run_demo

    run_demo()
    return 0


POOL_STARTUP_SECONDS = 8.0
"""Measured cost of starting a local worker pool and importing the model on it (s)."""
SECONDS_PER_TICK = 0.02
"""Measured model time of one baseline tick of one seed (s), to estimate a run's work."""


def run_workers(requested: int | None, seeds: int, ticks: int,
                cores: int | None = None) -> int:  # fmt: skip
    """Workers for ``aimarket run``: as requested, else one per core (up to one per
    seed) when the time the pool saves exceeds its start-up cost, else 0 (this
    process): a small run, one seed or one core."""
    if requested is not None:
        return requested
    cores = min(seeds, cores or os.cpu_count() or 1)
    if cores <= 1:
        return 0
    saved = seeds * ticks * SECONDS_PER_TICK * (1 - 1 / cores)
    return cores if saved > POOL_STARTUP_SECONDS else 0


def _run(args: argparse.Namespace) -> int:
    from experiments.errors import StudyError
    from experiments.outputs.files import FolderLock, empty_for_run, safe_name
    from experiments.outputs.report import run_report
    from experiments.outputs.tables import summary, write_run
    from experiments.scenarios import load_scenario
    from experiments.studies.run import run_seeds

    scenario = load_scenario(args.scenario)
    horizon = scenario.meta.horizon
    if args.ticks is not None and args.ticks > horizon:
        raise StudyError(f"--ticks {args.ticks}: past the horizon of {args.scenario} "
                         f"({horizon} ticks); use at most {horizon}")  # fmt: skip
    seeds = [args.seed] if args.seed is not None else list(range(args.seeds))
    name = safe_name(scenario.meta.name)
    tag = f"seed{args.seed}" if args.seed is not None else f"{len(seeds)}seeds"
    out = Path(args.out) if args.out else Path("runs") / f"{name}-{tag}"
    empty_for_run(out, args.force)  # checked (and cleared) before simulating
    ticks = args.ticks or horizon
    workers = run_workers(args.workers, len(seeds), ticks)
    with FolderLock(out):
        result = run_seeds(scenario, seeds, args.ticks, workers=workers,
                           scheduler=args.scheduler, progress=not args.quiet)  # fmt: skip
        write_run(result, out)
        run_report(out)  # also draws the PNG plots
    paths = [p for p in out.iterdir() if not p.name.startswith(".")]
    m = result.manifest
    which = f"seed {args.seed}" if args.seed is not None else f"seeds 0..{len(seeds) - 1}"
    print(f"\n{scenario.meta.name}: {m['ticks']} ticks ({m['start']}..{m['end']}), {which}")
    print(summary(result.tables))
    where = f"{workers} workers" if workers else "in this process"
    print(
        f"\nwall {m['wall_seconds']:.1f} s ({where}; model time: clearing "
        f"{m['seconds_in_clearing']:.1f} s, agents {m['seconds_in_agents']:.1f} s); wrote "
        f"{len(paths)} files to {out}/ (tables as Parquet with a seed column, manifest.json, "
        "PNG plots, report.html)"
    )
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from experiments.outputs.files import safe_name
    from experiments.studies.plan import load_sweep
    from experiments.studies.sweep import summarise, sweep

    plan, _ = load_sweep(args.sweep, args.samples, args.ticks)
    out = Path(args.out) if args.out else Path("runs") / "sweeps" / safe_name(plan.name)
    df = sweep(args.sweep, out, workers=args.workers, scheduler=args.scheduler,
               resume=args.resume, progress=not args.quiet, confirm=args.yes,
               samples=args.samples, ticks=args.ticks)  # fmt: skip
    print(summarise(df))
    print(f"\nwrote {len(df)} runs to {out}/ (parts/*.parquet, results.parquet, manifest.json)")
    return 0 if (df["status"] == "done").all() else 1


def _whatif(args: argparse.Namespace) -> int:
    from experiments.studies.whatif import ShockWindowWarning, format_whatif, whatif

    overrides: dict[str, dict[str, object]] = {}
    for name, path, value in args.policy or ():
        overrides.setdefault(name, {})[path] = value
    if not args.policies and not overrides:
        print("aimarket whatif: give policy scenario files or --policy NAME:PATH=VALUE",
              file=sys.stderr)  # fmt: skip
        return 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ShockWindowWarning)
        df = whatif(args.base, args.policies, seeds=args.seeds, out=args.out,
                    workers=args.workers, scheduler=args.scheduler, ticks=args.ticks,
                    progress=not args.quiet, resume=args.resume,
                    overrides=overrides)  # fmt: skip
    for w in caught:
        print(f"aimarket: warning: {w.message}", file=sys.stderr)
    print(format_whatif(df))
    print(f"\nwrote runs, whatif.parquet/.csv (KPIs over the run, the shock window and "
          f"after it), series.parquet, series_diff.parquet and report.html to "
          f"{df.attrs.get('out')}/")  # fmt: skip
    return 0


def _sensitivity(args: argparse.Namespace) -> int:
    from experiments.outputs.plots import plot_sensitivity
    from experiments.studies.sensitivity import format_sensitivity, sensitivity

    df = sensitivity(args.sweep, out=args.out, workers=args.workers, scheduler=args.scheduler,
                     progress=not args.quiet, resume=args.resume, confirm=args.yes,
                     samples=args.samples, ticks=args.ticks)  # fmt: skip
    out = Path(df.attrs["out"])
    plots = plot_sensitivity(df, out)
    print(format_sensitivity(df))
    print(f"\nwrote sensitivity.parquet/.csv and {len(plots)} plots to {out}/")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from experiments.outputs.format import text_table
    from experiments.studies.backtest import (
        GUARD,
        backtest,
        format_metrics,
        guard_breaches,
        record_guard,
    )

    result = backtest(args.scenario, seeds=args.seeds, out=args.out, workers=args.workers,
                      scheduler=args.scheduler, resume=args.resume,
                      progress=not args.quiet, force=args.force)  # fmt: skip
    metrics, goals = result["metrics"], result["targets"]
    print(format_metrics(metrics))
    met = int(goals["met"].sum())
    print(f"\ntargets (issue 9): {met} of {len(goals)} met")
    shown = goals.assign(met=goals["met"].map({True: "met", False: "MISSED"}))
    print(text_table(shown, left=("target", "goal", "met"), digits=3))
    if args.record:
        print(f"\nrecorded the out-of-sample errors in {record_guard(metrics, args.seeds)}")
    elif GUARD.exists():
        breaches = guard_breaches(metrics)
        print(f"\nguard ({GUARD.name}): " + ("; ".join(breaches) if breaches else "all series "
              "within their recorded out-of-sample error"))  # fmt: skip
    print(f"\nwrote metrics.parquet/.csv, points.parquet/.csv, targets.csv, one PNG per series "
          f"and report.html to {result['out']}/")  # fmt: skip
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from experiments.studies.calibrate import calibrate, format_calibration

    result = calibrate(args.plan, out=args.out, workers=args.workers, scheduler=args.scheduler,
                       progress=not args.quiet, force=args.force)  # fmt: skip
    print(format_calibration(result))
    print(f"\nwrote candidates.csv, identifiability.csv, fitted.toml, calibration.json and "
          f"report.html to {result['out']}/")  # fmt: skip
    return 0


def _report(args: argparse.Namespace) -> int:
    from experiments.outputs.report import build_report

    print(f"wrote {build_report(args.folder)}")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from experiments.app import serve  # lazy: Solara is slow to import

    print(f"dashboard for {args.scenario} at http://{args.host}:{args.port}/ (Ctrl-C to stop)")
    serve(args.scenario, args.port, args.host)
    return 0


def _policy(text: str) -> tuple[str, str, object]:
    from experiments.studies.whatif import parse_policy

    try:
        return parse_policy(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_plan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--samples", type=_int_at_least(1), help="replace the plan's samples")
    p.add_argument("--ticks", type=_int_at_least(1), help="replace the plan's ticks per run")
    p.add_argument("--yes", action="store_true",
                   help="start a study of very many runs (refused otherwise)")  # fmt: skip


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers",
        type=_int_at_least(0),
        default=os.cpu_count() or 1,
        help="local worker processes (0 = run in this process; default: cores)",
    )
    p.add_argument("--scheduler", help="address of an existing Dask scheduler, "
                   "e.g. tcp://host:8786 (or set DASK_SCHEDULER_ADDRESS)")  # fmt: skip
    p.add_argument("--out", help="output folder")
    p.add_argument("--resume", action="store_true", help="skip runs already finished in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _in_this_process(p: argparse.ArgumentParser) -> None:
    """Default to no worker pool: a study of seconds does not repay starting one."""
    for action in p._actions:
        if action.dest == "workers":
            action.default = 0
            action.help = "local worker processes (default 0: this process, as a seed takes "
            action.help += "well under a second)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="aimarket", description="AI-infrastructure market simulator"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario; print a summary; write tables and manifest")
    run.add_argument("scenario", type=_input_file,
                     help=SCENARIO_HELP)  # fmt: skip
    seeds = run.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=_int_at_least(1, 10_000), default=8,
                       help="run seeds 0..N-1 (default 8); the summary shows medians "
                       "[p10, p90] and the plots fan charts")  # fmt: skip
    seeds.add_argument("--seed", type=_int_at_least(0),
                       help="run this one seed only")  # fmt: skip
    run.add_argument("--ticks", type=_int_at_least(1),
                     help="ticks to run (default: the scenario's horizon)")  # fmt: skip
    run.add_argument("--out", help="output folder (default runs/<scenario>-<N>seeds, or "
                     "-seed<S>); must be empty unless --force")  # fmt: skip
    run.add_argument("--workers", type=_int_at_least(0),
                     help="worker processes for the seeds (0 = this process; default: this "
                     "process unless the run is large enough to repay starting a pool, "
                     "then one per core)")  # fmt: skip
    run.add_argument("--scheduler", help="address of an existing Dask scheduler")
    run.add_argument("--force", action="store_true",
                     help="clear --out first if it holds an earlier run's results")  # fmt: skip
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_run)
    sw = sub.add_parser("sweep", help="run a parameter sweep (TOML) on dask.distributed")
    sw.add_argument("sweep", type=_input_file, help="sweep TOML file")
    _add_engine_options(sw)
    _add_plan_options(sw)
    sw.set_defaults(func=_sweep)
    wi = sub.add_parser("whatif", help="policies against a baseline on paired seeds, with CIs")
    wi.add_argument("base", type=_input_file, help="baseline scenario TOML")
    wi.add_argument("policies", nargs="*", type=_input_file, help="policy scenario TOML files")
    wi.add_argument("--policy", action="append", type=_policy, metavar="NAME:PATH=VALUE",
                    help="a policy without a file: the baseline with PATH (dotted, as in "
                    "sweeps, e.g. labs[OpenAI].training_growth) set to VALUE; repeat it, "
                    "also with one NAME for several changes")  # fmt: skip
    wi.add_argument("--seeds", type=_int_at_least(1, 10_000), default=8,
                    help="paired seeds (default 8)")  # fmt: skip
    wi.add_argument("--ticks", type=_int_at_least(1), help="ticks per run (default: the horizon)")
    _add_engine_options(wi)
    wi.set_defaults(func=_whatif)
    se = sub.add_parser("sensitivity", help="Sobol or Morris indices (SALib) of a sweep")
    se.add_argument("sweep", type=_input_file, help="sweep TOML file with sampler sobol or morris")
    _add_engine_options(se)
    _add_plan_options(se)
    se.set_defaults(func=_sensitivity)
    bt = sub.add_parser("backtest", help="score a history scenario against 2023-26 data")
    bt.add_argument("scenario", nargs="?", default="history_2023", type=_input_file,
                    help="history scenario (default history_2023)")  # fmt: skip
    bt.add_argument("--seeds", type=_int_at_least(1, 10_000), default=8,
                    help="seeds 0..N-1 (default 8)")  # fmt: skip
    bt.add_argument("--record", action="store_true",
                    help="write the out-of-sample errors to data/history/backtest_guard.json "
                    "(the CI guard's record)")  # fmt: skip
    bt.add_argument("--force", action="store_true",
                    help="clear --out first if it holds an earlier backtest")  # fmt: skip
    _add_engine_options(bt)
    _in_this_process(bt)
    bt.set_defaults(func=_backtest)
    ca = sub.add_parser("calibrate", help="fit parameters to the 2023-24 history (a TOML plan)")
    ca.add_argument("plan", type=_input_file, help="calibration plan TOML (docs/backtest.md)")
    ca.add_argument("--force", action="store_true",
                    help="clear --out first if it holds an earlier calibration")  # fmt: skip
    _add_engine_options(ca)
    _in_this_process(ca)
    ca.set_defaults(func=_calibrate)
    rp = sub.add_parser("report", help="build report.html from a run, sweep or what-if folder")
    rp.add_argument("folder", help="the --out folder of aimarket run, sweep, whatif or sensitivity")
    rp.set_defaults(func=_report)
    db = sub.add_parser("dashboard", help="interactive dashboard (Mesa SolaraViz) for a scenario")
    db.add_argument("scenario", type=_input_file,
                    help=SCENARIO_HELP)  # fmt: skip
    db.add_argument("--port", type=_int_at_least(1, 65535), default=8765,
                    help="port (default 8765)")  # fmt: skip
    db.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    db.set_defaults(func=_dashboard)
    demo = sub.add_parser("demo", help="clear one wafer + HBM + CoWoS -> accelerator market")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    from experiments.errors import AimarketError
    from experiments.scenarios import ScenarioError

    try:
        return args.func(args)
    except (ScenarioError, AimarketError, OSError) as e:
        # Anything a user can cause (files, folders, values, a run driven out of range):
        # one clear message, no traceback. Other exceptions are bugs and keep theirs.
        print(f"aimarket: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("aimarket: interrupted (a study resumes with --resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
