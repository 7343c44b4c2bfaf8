"""Calibration: fit named parameters to the in-sample history (issue 9 part 5).

    aimarket calibrate PLAN.toml [--out DIR] [engine options]

A plan names a history scenario and parameters with ranges, like a sweep plan::

    name = "markups"
    scenario = "history_2023"       # shipped name, or a path relative to the plan
    samples = 16                    # space-filling search: Latin-hypercube points
    refine = 2                      # rounds of local refinement around the best point
    refine_samples = 6              # points per round
    seeds = 2                       # seeds per point (the model's median is scored)
    [[parameters]]
    path = "behaviour.max_markup"
    range = [2.0, 10.0]

Every point runs on the study engine (``experiments.engine.execute``), like the
backtest (``experiments.studies.backtest``). The objective of a point is the mean
over the scored series of their in-sample error (2023Q1-2024Q4; MAPE and mean log
error as they are, errors in points / 100), from the median over seeds; series that
are inputs of the scenario (capex, CoWoS capacity) are left out. Refinement round r
samples a box around the best point so far, of half-width ``range x 0.25 / 2^r``.

Written into ``out``: ``candidates.csv`` (every point: stage, parameters, objective,
per-series errors), ``identifiability.csv`` (per parameter, over the search's
points: the span of the values within ``tolerance`` of the best objective as a share
of its range, and the Spearman correlation of value and objective; a parameter is
pinned down when that span is below half its range, given at least ``MIN_NEAR``
such points), ``fitted.toml`` (the scenario with the chosen values as
``[overrides]``, its header giving the fit's date and score), ``calibration.json``
and ``report.html``.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field
from scipy import stats
from scipy.stats import qmc

from experiments.engine import RunOutputs, Task, collect_series, execute
from experiments.errors import StudyError
from experiments.outputs.files import empty_for_run, write_frame, write_json
from experiments.outputs.format import text_table
from experiments.scenarios import (
    ScenarioError,
    load_scenario,
    read_toml,
    resolve_scenario,
    scenario_hash,
    validate_model,
    validate_scenario,
    with_overrides,
)
from experiments.studies.backtest import SERIES, history_points, model_points, model_series, score
from experiments.studies.plan import Parameter
from experiments.studies.run import run_model
from market import MarketModel
from market.scenario import Strict
from optimizers import SolverOptions

INPUT_SERIES = ("cowos_capacity", "hyperscaler_capex")
"""Series that are inputs of a history scenario, not fitted."""
MIN_NEAR = 3
"""Fewest search points within ``tolerance`` of the best for a verdict on a parameter."""


class CalibrationPlan(Strict):
    """Parameters to fit, their ranges, and the search's size."""

    name: str = Field(description="Name of the calibration (output folder).")
    scenario: str = Field("history_2023", description="History scenario: shipped name or path.")
    samples: int = Field(16, ge=2, le=10_000, description="Points of the space-filling search.")
    refine: int = Field(2, ge=0, le=20, description="Rounds of local refinement.")
    refine_samples: int = Field(6, ge=1, le=10_000, description="Points per refinement round.")
    seeds: int = Field(2, ge=1, le=1_000, description="Seeds per point.")
    root_seed: int = Field(0, ge=0, description="Seed of the Latin-hypercube samplers.")
    tolerance: float = Field(
        0.1, gt=0, le=10, description="Points within this share of the best objective "
        "count as fitting as well (identifiability)."
    )  # fmt: skip
    series: tuple[str, ...] = Field((), description="Series to fit (default: all but inputs).")
    parameters: tuple[Parameter, ...] = Field(min_length=1)


def load_plan(path: str | os.PathLike[str]) -> tuple[CalibrationPlan, Path]:
    """Read and check a plan; ``ScenarioError`` naming the file and field if it is wrong."""
    source = os.fspath(path)
    plan = validate_model(CalibrationPlan, read_toml(path), source)
    known = {s.name for s in SERIES}
    for name in plan.series:
        if name not in known:
            raise ScenarioError(source, [f"series: unknown series {name!r}; known: "
                                         f"{', '.join(sorted(known))}"])  # fmt: skip
    for i, p in enumerate(plan.parameters):
        if p.range is None:
            raise ScenarioError(source, [f"parameters[{i}].range: calibration needs a range "
                                         "[low, high], not values"])  # fmt: skip
    candidate = Path(path).parent / plan.scenario
    scenario = candidate if candidate.is_file() else resolve_scenario(plan.scenario)
    base = load_scenario(scenario)
    for i, p in enumerate(plan.parameters):  # every path must exist and take a number
        try:
            with_overrides(base, {p.path: p.range[0]})
        except ScenarioError as exc:
            problems = [f"parameters[{i}].path: {m}" for m in exc.problems]
            raise ScenarioError(source, problems) from None
    return plan, scenario


@dataclass(frozen=True)
class CalibrationRunner:
    """One point and seed: the scenario with the point's values, its backtest series."""

    scenario: Mapping[str, Any]

    def __call__(self, params: Mapping[str, Any], seed: int) -> RunOutputs:
        scenario = with_overrides(validate_scenario(self.scenario, "scenario"), params)
        model = MarketModel(scenario, seed=seed, solver_options=SolverOptions(threads=1))
        run_model(model)
        return RunOutputs({"ticks": float(model.tick)}, model_series(model.tables(), scenario))


def objective(metrics: pd.DataFrame, series: tuple[str, ...]) -> float:
    """Mean in-sample error over ``series`` (points / 100 so shares weigh like MAPE)."""
    m = metrics[(metrics["sample"] == "in") & metrics["series"].isin(series)]
    if not len(m):
        return math.nan
    err = np.where(m["error_kind"] == "points", m["error"] / 100, m["error"])
    return float(np.nanmean(err))


def _lhs(n: int, low: np.ndarray, high: np.ndarray, seed: int) -> np.ndarray:
    unit = qmc.LatinHypercube(d=len(low), seed=seed).random(n)
    return qmc.scale(unit, low, high)


def _evaluate(points: np.ndarray, stage: str, plan: CalibrationPlan, world, hist: pd.DataFrame,
              out: Path, workers: int, scheduler: str | None, progress: bool,
              first: int) -> list[dict[str, Any]]:  # fmt: skip
    paths = [p.path for p in plan.parameters]
    tasks = [Task(f"p{first + i:04d}-s{s:03d}", first + i, s, s,
                  dict(zip(paths, map(float, x))))
             for i, x in enumerate(points) for s in range(plan.seeds)]  # fmt: skip
    runner = CalibrationRunner(world.model_dump(mode="python"))
    folder = out / stage
    runs = execute(tasks, runner, folder, workers=workers, scheduler=scheduler, progress=progress,
                   identity={"study": "calibrate", "stage": stage, "plan": plan.model_dump(
                       mode="json"), "scenario_hash": scenario_hash(world)})  # fmt: skip
    series = collect_series(folder)
    by_run = runs.set_index("run")
    series["seed"] = series["run"].map(by_run["seed"])
    series["point"] = series["run"].map(by_run["point"])
    fitted = plan.series or tuple(s.name for s in SERIES if s.name not in INPUT_SERIES)
    rows = []
    for point, part in series.groupby("point"):
        _, metrics = score(hist, model_points(hist, part))
        row = {"point": int(point), "stage": stage,
               **dict(zip(paths, map(float, points[int(point) - first])))}  # fmt: skip
        row["objective"] = objective(metrics, fitted)
        for _, m in metrics[metrics["sample"] == "in"].iterrows():
            row[f"error:{m['series']}"] = m["error"]
        rows.append(row)
    failed = runs[runs["status"] != "done"]
    for _, f in failed.drop_duplicates("point").iterrows():
        rows = [r for r in rows if r["point"] != f["point"]]
        rows.append({"point": int(f["point"]), "stage": stage, "objective": math.nan,
                     **dict(zip(paths, map(float, points[int(f["point"]) - first])))})  # fmt: skip
    return rows


def identifiability(candidates: pd.DataFrame, plan: CalibrationPlan) -> pd.DataFrame:
    """Per parameter: the span (share of its range) of the points fitting within
    ``tolerance`` of the best, Spearman's rho of value and objective, and a verdict."""
    ok = candidates.dropna(subset=["objective"])
    best = ok["objective"].min()
    # Only the space-filling search covers the ranges evenly (refinement points crowd
    # round the best by construction).
    search = ok[ok["stage"] == "search"] if "stage" in ok else ok
    near = search[search["objective"] <= best * (1 + plan.tolerance) + 1e-12]
    rows = []
    for p in plan.parameters:
        low, high = p.range
        span = (near[p.path].max() - near[p.path].min()) / (high - low)
        rho = (stats.spearmanr(search[p.path], search["objective"]).statistic
               if len(search) > 2 else math.nan)  # fmt: skip
        verdict = ("too few points near the best" if len(near) < MIN_NEAR
                   else "pinned" if span < 0.5 else "not pinned")  # fmt: skip
        rows.append({"parameter": p.path, "low": low, "high": high,
                     "best": float(ok.loc[ok["objective"].idxmin(), p.path]),
                     "near_points": len(near), "span_near_best": float(span),
                     "spearman_objective": float(rho), "verdict": verdict})  # fmt: skip
    return pd.DataFrame(rows)


def _toml_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(float(value))


def fitted_toml(plan: CalibrationPlan, scenario: Path, chosen: Mapping[str, float],
                score_: float, when: str) -> str:  # fmt: skip
    """A scenario file: the history scenario with the chosen values as overrides."""
    from experiments.scenarios import SHIPPED_SCENARIOS

    base = scenario.stem if scenario.parent == SHIPPED_SCENARIOS else str(scenario.resolve())
    lines = [
        f"# Fitted by `aimarket calibrate` (plan {plan.name!r}) on {when}: in-sample",
        f"# objective {score_:.4f} (mean in-sample error of the scored series; see",
        "# experiments/studies/calibrate.py). Everything else is the base scenario's.",
        "",
        f"base = {json.dumps(base)}",
        "",
        "[meta]",
        f"name = {json.dumps(plan.name + '_fitted')}",
        f"description = {json.dumps(f'{base} with parameters fitted to 2023-24 ({when})')}",
        "",
        "[overrides]",
    ]
    lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in chosen.items()]
    return "\n".join(lines) + "\n"


def calibrate(
    plan_path: str | os.PathLike[str],
    out: str | Path | None = None,
    workers: int = 0,
    scheduler: str | None = None,
    progress: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Fit the plan's parameters; return the candidates, the identifiability table, the
    chosen point and its objective, and write them (with ``fitted.toml``) to ``out``."""
    plan, scenario = load_plan(plan_path)
    world = load_scenario(scenario)
    out = Path(out) if out else Path("runs") / "calibrations" / plan.name
    empty_for_run(out, force)
    write_json(out / "manifest.json", {"study": "calibrate", "plan": plan.model_dump(mode="json"),
               "scenario": world.meta.name, "scenario_hash": scenario_hash(world)})  # fmt: skip
    hist = history_points(world)
    low = np.array([p.range[0] for p in plan.parameters], float)
    high = np.array([p.range[1] for p in plan.parameters], float)
    rows = _evaluate(_lhs(plan.samples, low, high, plan.root_seed), "search", plan, world, hist,
                     out, workers, scheduler, progress, 0)  # fmt: skip
    for r in range(plan.refine):
        frame = pd.DataFrame(rows).dropna(subset=["objective"])
        if not len(frame):
            break
        best = frame.loc[frame["objective"].idxmin(), [p.path for p in plan.parameters]]
        half = (high - low) * 0.25 / 2**r
        lo, hi = np.maximum(low, best.to_numpy(float) - half), np.minimum(high, best + half)
        pts = _lhs(plan.refine_samples, lo, np.maximum(hi, lo + 1e-12), plan.root_seed + r + 1)
        rows += _evaluate(pts, f"refine{r + 1}", plan, world, hist, out, workers, scheduler,
                          progress, len(rows))  # fmt: skip
    candidates = pd.DataFrame(rows).sort_values("point").reset_index(drop=True)
    if candidates["objective"].isna().all():
        raise StudyError(f"calibration {plan.name!r}: every point failed; see {out}/*/parts")
    ident = identifiability(candidates, plan)
    best_row = candidates.loc[candidates["objective"].idxmin()]
    chosen = {p.path: float(best_row[p.path]) for p in plan.parameters}
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    write_frame(candidates, out / "candidates.csv")
    write_frame(ident, out / "identifiability.csv")
    text = fitted_toml(plan, Path(scenario), chosen, float(best_row["objective"]), when)
    (out / "fitted.toml").write_text(text, encoding="utf-8")
    load_scenario(out / "fitted.toml")  # the fitted scenario must load
    write_json(out / "calibration.json", {"plan": plan.model_dump(mode="json"),
               "chosen": chosen, "objective": float(best_row["objective"]), "date": when,
               "points": len(candidates)})  # fmt: skip
    _report(out, plan, candidates, ident, chosen, float(best_row["objective"]))
    return {"candidates": candidates, "identifiability": ident, "chosen": chosen,
            "objective": float(best_row["objective"]), "out": out}  # fmt: skip


def format_calibration(result: Mapping[str, Any]) -> str:
    """The chosen point, its objective and the identifiability table as text."""
    lines = [f"objective (mean in-sample error) {result['objective']:.4f} at:"]
    lines += [f"  {k} = {v:.6g}" for k, v in result["chosen"].items()]
    ident = result["identifiability"]
    lines += ["", text_table(ident, left=("parameter", "verdict"), digits=3)]
    return "\n".join(lines)


def _report(out: Path, plan, candidates, ident, chosen, best) -> Path:
    from experiments.outputs.report import _table, _write

    sections = [
        ("Chosen point", f"<p>Objective {best:.4f} (mean in-sample error).</p><pre>"
         + html.escape("\n".join(f"{k} = {v:.6g}" for k, v in chosen.items())) + "</pre>"),
        ("Which parameters the data pins down", _table(ident)),
        ("Objective per candidate", _table(candidates)),
    ]  # fmt: skip
    return _write(out, f"aimarket calibration: {plan.name}", sections)


__all__ = ["CalibrationPlan", "CalibrationRunner", "calibrate", "fitted_toml",
           "format_calibration", "identifiability", "load_plan", "objective"]  # fmt: skip
