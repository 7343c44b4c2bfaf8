"""Global sensitivity analysis: run a Sobol or Morris sweep, then SALib indices per output.

A sensitivity file is a sweep file (see ``experiments.studies.plan``) whose sampler is
``"sobol"`` (Saltelli design, first-order and total indices, no second order)
or ``"morris"`` (elementary effects; ``levels`` even, as ``SweepPlan`` checks)::

    df = sensitivity("experiments/sweeps/hbm_sobol.toml", out="runs/hbm-sobol")
    print(format_sensitivity(df))
    plot_sensitivity(df, "runs/hbm-sobol")   # experiments.outputs.plots

The design is ``experiments.samplers.sample(plan)`` (the same call, so the same
rows and order that SALib's analysis expects), run through
``experiments.engine.execute`` (parts written as they finish, resumable).
Replicates of a design point are averaged (mean over seeds) before the analysis.
Results are one row per (output, parameter), written to ``out/sensitivity.parquet``
and ``out/sensitivity.csv``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.engine import Runner, execute
from experiments.kpis import KPIS
from experiments.outputs.files import write_frame
from experiments.outputs.format import text_table
from experiments.samplers import salib_problem, sample
from experiments.scenarios import ScenarioError
from experiments.studies.plan import (
    SweepPlan,
    check_size,
    load_sweep,
    plan_identity,
    plan_manifest,
)
from experiments.studies.run import MarketRunner
from experiments.studies.sweep import tasks_of

SOBOL_COLUMNS = ("S1", "S1_conf", "ST", "ST_conf")
MORRIS_COLUMNS = ("mu_star", "mu_star_conf", "sigma", "mu")
COLUMNS = ("output", "parameter", "method", *SOBOL_COLUMNS, *MORRIS_COLUMNS)
"""Columns of a sensitivity table; the other method's columns are NaN."""


def check_plan(plan: SweepPlan, source: str) -> None:
    """Raise ``ScenarioError`` (naming ``source`` and the field) unless ``plan`` suits SALib."""
    if plan.sampler not in ("sobol", "morris"):
        raise ScenarioError(
            source,
            [f"sampler: sensitivity analysis needs sampler 'sobol' or 'morris' "
             f"(got {plan.sampler!r})"],
        )  # fmt: skip


def point_means(plan: SweepPlan, runs: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each output's mean over the finished replicates of each design point, in point order.

    Raises ``RuntimeError`` if a design point has no finished run (SALib needs
    the whole design) or the runs do not belong to ``plan``'s design.
    """
    X = np.asarray(sample(plan), dtype=float)
    n_points = len(X)
    if runs.empty:
        raise RuntimeError("no runs finished; nothing to analyse")
    names = [p.path for p in plan.parameters]
    done = runs[runs["status"] == "done"]
    design = runs.groupby("point")[[f"param:{n}" for n in names]].first()
    if len(design) != n_points or not np.allclose(design.to_numpy(float), X[design.index]):
        raise RuntimeError(
            f"the runs ({len(design)} design points) do not match the plan's design "
            f"({n_points} points); was the output folder written by another plan?"
        )
    out: dict[str, np.ndarray] = {}
    for name in plan.outputs:
        col = f"out:{name}"
        means = (done.groupby("point")[col].mean() if col in done.columns
                 else pd.Series(dtype=float)).reindex(range(n_points))  # fmt: skip
        missing = np.flatnonzero(means.isna().to_numpy())
        if len(missing):
            failed = runs[(runs["point"] == missing[0]) & (runs["status"] == "failed")]
            why = failed["error"].iloc[0].splitlines()[0] if len(failed) else "NaN output"
            raise RuntimeError(
                f"output {name!r}: {len(missing)} of {n_points} design points have no "
                f"finished run or a NaN value (first: point {missing[0]}: {why})"
            )
        out[name] = means.to_numpy(float)
    return out


def constant(Y: np.ndarray) -> bool:
    """Whether an output is the same at every design point (within 1e-12 relative): its
    indices are all 0 (Sobol's would divide by a zero variance)."""
    return bool(np.ptp(Y) <= 1e-12 * max(1.0, float(np.abs(Y).max())))


def analyse(plan: SweepPlan, runs: pd.DataFrame) -> pd.DataFrame:
    """SALib indices from the runs of ``plan``: one row per (output, parameter).

    Sobol: ``SALib.analyze.sobol.analyze(..., calc_second_order=False)`` (the
    design ``experiments.samplers.sample`` draws) gives S1, ST and their 95% confidence half
    widths. Morris: ``SALib.analyze.morris.analyze`` gives mu_star (in the
    output's unit per unit of the parameter's range scaled to [0, 1]), its
    confidence half width, sigma and mu. Seeds are ``plan.root_seed``. An output that is
    the same at every point (``constant``, e.g. a KPI a scenario never moves) gets 0 for
    every index and half width.
    """
    from SALib.analyze import morris, sobol

    problem = salib_problem(plan)
    means = point_means(plan, runs)
    rows: list[dict[str, Any]] = []
    for name, Y in means.items():
        if constant(Y):  # no variance to share out, no effect to measure: all 0 (no SALib)
            cols = SOBOL_COLUMNS if plan.sampler == "sobol" else MORRIS_COLUMNS
            for param in problem["names"]:
                rows.append({"output": name, "parameter": param, "method": plan.sampler,
                             **dict.fromkeys(cols, 0.0)})  # fmt: skip
            continue
        if plan.sampler == "sobol":
            res = sobol.analyze(problem, Y, calc_second_order=False, seed=plan.root_seed)
            cols = SOBOL_COLUMNS
        else:
            X = np.asarray(sample(plan), dtype=float)
            res = morris.analyze(problem, X, Y, num_levels=plan.levels, seed=plan.root_seed)
            cols = MORRIS_COLUMNS
        for i, param in enumerate(problem["names"]):
            row: dict[str, Any] = {"output": name, "parameter": param, "method": plan.sampler}
            row.update({c: float(np.asarray(res[c])[i]) for c in cols})
            rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def run_sensitivity(
    plan: SweepPlan,
    runner: Runner,
    out: str | os.PathLike[str] | None = None,
    workers: int = 0,
    scheduler: str | None = None,
    progress: bool = True,
    resume: bool = False,
    manifest: dict[str, Any] | None = None,
    source: str = "<plan>",
    base: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Run ``plan`` with ``runner`` through ``engine.execute`` and analyse it (see ``analyse``).

    The lower-level entry of :func:`sensitivity`, for a plan built in code and
    any picklable ``runner(params, seed) -> {output: value}``. Writes the runs
    and ``sensitivity.parquet`` / ``.csv`` under ``out`` (default a new
    temporary folder, returned as ``df.attrs["out"]``). ``base`` (the base
    scenario as data, if any) is hashed into the study's identity.
    """
    check_plan(plan, source)
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="aimarket-sens-"))
    meta = {"study": "sensitivity", **plan_manifest(plan, base, source), **(manifest or {})}
    identity = {"study": "sensitivity", **plan_identity(plan, base)}
    runs = execute(tasks_of(plan), runner, folder, workers, scheduler, resume, progress,
                   manifest=meta, identity=identity)  # fmt: skip
    df = analyse(plan, runs)
    write_frame(df, folder / "sensitivity.parquet")
    write_frame(df, folder / "sensitivity.csv")
    df.attrs["out"] = os.fspath(folder)
    return df


def sensitivity(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    workers: int = 0,
    scheduler: str | None = None,
    runner: Runner | None = None,
    progress: bool = True,
    resume: bool = False,
    confirm: bool = False,
    samples: int | None = None,
    ticks: int | None = None,
) -> pd.DataFrame:
    """Run the Sobol or Morris sweep file at ``path`` and return its SALib indices.

    ``runner`` defaults to the market model on the plan's base scenario (as
    ``experiments.studies.sweep.sweep``). Returns one row per (output, parameter), columns
    ``COLUMNS``; also written to ``out/sensitivity.parquet`` and ``.csv``.

    Raises ``ScenarioError`` naming the file and field if the sweep file is
    invalid (e.g. odd Morris levels), its sampler is not sobol or morris, or it
    has no base scenario and no runner is given; ``StudyError`` for more than
    ``LARGE_STUDY`` runs without ``confirm``.
    """
    source = os.fspath(path)
    plan, base = load_sweep(path, samples, ticks)
    check_plan(plan, source)
    check_size(plan, base, source, workers, confirm)
    if runner is None:
        if base is None:
            raise ScenarioError(source, ["base: missing; name a base scenario file"])
        runner = MarketRunner({"base": base}, plan.outputs, plan.ticks)
    return run_sensitivity(plan, runner, out, workers, scheduler, progress, resume,
                           source=source, base=base)  # fmt: skip


# ----------------------------------------------------------------------------- reporting


def _method(block: pd.DataFrame) -> str:
    return str(block["method"].iloc[0])


def format_sensitivity(df: pd.DataFrame) -> str:
    """A plain-text table of a sensitivity result, one block per output, largest effect first."""
    if df.empty:
        return "(no results)"
    lines: list[str] = []
    for output, block in df.groupby("output", sort=False):
        method = _method(block)
        if method == "sobol":
            block = block.sort_values("ST", ascending=False)
            head = ("parameter", "S1", "S1 +-", "ST", "ST +-")
            cols = SOBOL_COLUMNS
        else:
            block = block.sort_values("mu_star", ascending=False)
            head = ("parameter", "mu*", "mu* +-", "sigma", "mu")
            cols = MORRIS_COLUMNS
        table = block[["parameter", *cols]].reset_index(drop=True)
        table.columns = list(head)
        unit = f" ({KPIS[output]})" if output in KPIS else ""
        flat = (block[list(cols)] == 0).all().all()
        note = " (the same at every design point: no parameter moves it)" if flat else ""
        lines.append(f"{output}{unit}: {method}{note}")
        lines.append(text_table(table, left=["parameter"], digits=3))
        lines.append("")
    lines.append("+- : 95% confidence half width (bootstrap)")
    return "\n".join(lines)


__all__ = [
    "COLUMNS",
    "analyse",
    "check_plan",
    "constant",
    "format_sensitivity",
    "point_means",
    "run_sensitivity",
    "sensitivity",
]
