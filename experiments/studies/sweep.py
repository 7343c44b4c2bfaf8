"""Parameter sweeps: a plan (``experiments.studies.plan``) sampled
(``experiments.samplers``) into tasks, run by the engine (``experiments.engine``).

    df = sweep("experiments/sweeps/demand_and_hbm.toml", out="runs/s", workers=2)
    print(summarise(df))

One row per run: ``run``, ``point``, ``replicate``, ``seed``, ``param:<path>``,
``out:<kpi>``, ``status``, ``error``, ``seconds``; also written to
``out/results.parquet`` beside the parts.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.engine import Runner, Task, execute
from experiments.kpis import unit
from experiments.outputs.files import write_frame
from experiments.outputs.format import text_table
from experiments.samplers import replication_seeds, sample
from experiments.scenarios import ScenarioError
from experiments.studies.plan import (
    SweepPlan,
    check_size,
    load_sweep,
    plan_identity,
    plan_manifest,
)
from experiments.studies.run import MarketRunner


def run_seeds(plan: SweepPlan) -> list[int]:
    """One seed per replication, from the root seed (the same for every design point)."""
    return replication_seeds(plan.root_seed, plan.seeds)


def tasks_of(plan: SweepPlan) -> list[Task]:
    """Every run of ``plan``: each design point times each replication seed."""
    names = [p.path for p in plan.parameters]
    seeds = run_seeds(plan)
    out = []
    for i, row in enumerate(sample(plan)):
        params = {n: (v.item() if isinstance(v, np.generic) else v) for n, v in zip(names, row)}
        for r, seed in enumerate(seeds):
            out.append(Task(f"p{i:05d}-r{r:03d}", i, r, seed, params))
    return out


def sweep(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    workers: int = 0,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    runner: Runner | None = None,
    confirm: bool = False,
    samples: int | None = None,
    ticks: int | None = None,
) -> pd.DataFrame:
    """Run the sweep file at ``path`` into folder ``out``; one row per run (DataFrame).

    ``runner(params, seed) -> {kpi: value}`` defaults to the market model on the
    plan's base scenario; any picklable callable works (e.g. a test function).
    A plan of more than ``LARGE_STUDY`` runs starts only with ``confirm=True``
    (``StudyError`` otherwise, saying how many runs and roughly how long).
    ``samples`` and ``ticks`` replace the plan's (see ``load_sweep``).
    """
    plan, base = load_sweep(path, samples, ticks)
    check_size(plan, base, os.fspath(path), workers, confirm)
    if runner is None:
        if base is None:
            raise ScenarioError(os.fspath(path), ["base: missing; name a base scenario file"])
        runner = MarketRunner({"base": base}, plan.outputs, plan.ticks)
    df = execute(tasks_of(plan), runner, Path(out), workers, scheduler, resume, progress,
                 manifest=plan_manifest(plan, base, os.fspath(path)),
                 identity=plan_identity(plan, base))  # fmt: skip
    write_frame(df, Path(out) / "results.parquet")
    return df


def summarise(df: pd.DataFrame) -> str:
    """Runs done and failed, and each output's mean, sd, min and max over the runs."""
    done = df[df["status"] == "done"]
    lines = [f"runs: {len(df)} ({len(done)} done, {len(df) - len(done)} failed)"]
    outs = [c for c in df.columns if c.startswith("out:")]
    if outs and len(done):
        stats = done[outs].astype(float).agg(["mean", "std", "min", "max"]).T
        stats.columns = ["mean", "sd", "min", "max"]
        stats.insert(0, "output", [c[4:] for c in outs])
        stats["unit"] = [unit(c[4:]) or "-" for c in outs]
        lines.append(text_table(stats.reset_index(drop=True), left=["output", "unit"]))
    for _, row in df[df["status"] == "failed"].head(5).iterrows():
        lines.append(f"failed {row['run']}: {row['error'].splitlines()[0]}")
    return "\n".join(lines)


def _varies(values: pd.Series) -> bool:
    """Whether ``values`` differ by more than float noise (1e-12 of their size)."""
    spread = float(values.max() - values.min())
    return spread > 1e-12 * max(1.0, float(values.abs().max()))


def input_output_sensitivity(df: pd.DataFrame) -> pd.DataFrame:
    """The sensitivity of each output to each numeric input over a sweep's finished runs.

    Columns: output, parameter, spearman (rank correlation, scipy) and its p-value,
    src (standardised regression coefficient: a least-squares fit of the output on
    all inputs, each in standard deviations) and r2 (of that fit, per output).
    """
    from scipy import stats

    done = df[df["status"] == "done"]
    params = [c for c in done.columns if c.startswith("param:")
              and pd.api.types.is_numeric_dtype(done[c]) and done[c].nunique() > 1]  # fmt: skip
    rows = []
    for out in [c for c in done.columns if c.startswith("out:")]:
        data = done[[*params, out]].astype(float).dropna()
        if len(data) < 3 or not params or not _varies(data[out]):
            continue
        varied = [p for p in params if _varies(data[p])]  # fixed in these runs: left out
        if not varied:
            continue
        x = (data[varied] - data[varied].mean()) / data[varied].std()
        y = (data[out] - data[out].mean()) / data[out].std()
        design = np.column_stack([np.ones(len(x)), x.to_numpy()])
        coef, *_ = np.linalg.lstsq(design, y.to_numpy(), rcond=None)
        fitted = design @ coef
        r2 = 1.0 - float(((y - fitted) ** 2).sum()) / float((y**2).sum())
        for j, p in enumerate(varied):
            rho, pval = stats.spearmanr(data[p], data[out])
            rows.append({"output": out[4:], "parameter": p[6:], "spearman": float(rho),
                         "spearman_p": float(pval), "src": float(coef[j + 1]),
                         "r2": r2})  # fmt: skip
    return pd.DataFrame(rows, columns=["output", "parameter", "spearman", "spearman_p", "src",
                                       "r2"])  # fmt: skip


__all__ = ["input_output_sensitivity", "run_seeds", "summarise", "sweep", "tasks_of"]
