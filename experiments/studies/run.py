"""One run: a scenario and a seed in, the model's tidy tables and a manifest out.

``run_scenario`` runs the model with a progress bar and returns its tables and
manifest (scenario hash, seed, package versions, solver options, wall time,
ticks); ``experiments.outputs.tables`` writes them. ``MarketRunner`` is the same
for studies: plain data in, KPIs out, picklable for Dask workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from experiments.errors import RunError
from experiments.kpis import kpis
from experiments.outputs.files import versions
from experiments.scenarios import scenario_hash, validate_scenario, with_overrides
from market import MarketModel, Scenario
from optimizers import SolverOptions
from optimizers.errors import ClearingError, OrderBookError

MODEL_ERRORS: dict[type[Exception], str] = {
    OrderBookError: "the market's order book was invalid",
    ClearingError: "the market could not be cleared",
    OverflowError: "a number grew beyond the floating-point range",
    FloatingPointError: "a calculation gave no finite number",
    ZeroDivisionError: "a calculation divided by zero",
}
"""Errors the model raises when a scenario's values drive it out of range, and what
each means; ``run_model`` turns them into a ``RunError`` naming the tick."""

FIX = ("a scenario value is probably extreme (a quantity, price, growth rate or volatility "
       "far from the shipped scenarios): bring it closer to them, or run fewer ticks "
       "(--ticks {tick}) to see the tables up to this point")  # fmt: skip


def run_model(
    model: MarketModel, ticks: int | None = None, progress: Callable[[int], Any] | None = None
) -> None:
    """Run ``model`` for ``ticks`` ticks (default: to its horizon), calling
    ``progress(tick)`` after each; a model error becomes a ``RunError`` that names
    the scenario, the tick and its date, and what to change."""
    n = model.world.meta.horizon - model.tick if ticks is None else ticks
    for _ in range(n):
        tick = model.tick
        try:
            model.step()
        except tuple(MODEL_ERRORS) as exc:
            what = next(v for k, v in MODEL_ERRORS.items() if isinstance(exc, k))
            raise RunError(
                f"scenario {model.world.meta.name!r}: the run failed at tick {tick} "
                f"({model.date(tick)}): {what} ({type(exc).__name__}: {exc}); "
                + FIX.format(tick=max(1, tick))
            ) from exc
        if progress is not None:
            progress(model.tick)


@dataclass
class RunResult:
    """Tables (name -> column -> values) and the manifest of one run."""

    tables: dict[str, dict[str, list]]
    manifest: dict
    model: MarketModel


def run_scenario(
    scenario: Scenario,
    seed: int = 0,
    ticks: int | None = None,
    options: SolverOptions | None = None,
    progress: bool = True,
) -> RunResult:
    """Run ``scenario`` for ``ticks`` (default: its horizon) and return its tables."""
    options = options or SolverOptions()
    model = MarketModel(scenario, seed=seed, solver_options=options)
    n = scenario.meta.horizon if ticks is None else ticks
    start = time.perf_counter()
    with tqdm(
        total=n, desc=scenario.meta.name, unit="tick", disable=None if progress else True
    ) as bar:
        run_model(model, n, lambda t: (bar.update(1), bar.set_postfix(date=model.date(t - 1))))
    wall = time.perf_counter() - start
    manifest = {
        "scenario": scenario.meta.name,
        "scenario_hash": scenario_hash(scenario),
        "seed": seed,
        "ticks": n,
        "start": model.date(0),
        "end": model.date(n - 1),
        "wall_seconds": round(wall, 3),
        "seconds_in_clearing": round(model.timing["clearing"], 3),
        "seconds_in_agents": round(model.timing["agents"], 3),
        "clearing_rebuilds": model.clearer.rebuilds,
        "solver_options": options.as_dict(),
        "versions": versions(),
    }
    return RunResult(model.tables(), manifest, model)


@dataclass(frozen=True)
class MarketRunner:
    """Runs the market model for one (params, seed): plain data in, KPIs out (picklable).

    ``scenarios`` maps a label to a scenario as plain data; ``params`` may pick
    one with the key ``"scenario"`` (default: the first) and override any field
    by dotted path. ``ticks`` defaults to the scenario's horizon.
    """

    scenarios: Mapping[str, Mapping[str, Any]]
    outputs: tuple[str, ...]
    ticks: int | None = None

    def __call__(self, params: Mapping[str, Any], seed: int) -> dict[str, float]:
        params = dict(params)
        label = params.pop("scenario", next(iter(self.scenarios)))
        scenario = validate_scenario(self.scenarios[label], f"scenario {label!r}")
        if params:
            scenario = with_overrides(scenario, params)
        model = MarketModel(scenario, seed=seed, solver_options=SolverOptions(threads=1))
        run_model(model, self.ticks)
        values = kpis(model.tables())
        return {k: values[k] for k in self.outputs}


__all__ = ["MODEL_ERRORS", "MarketRunner", "RunResult", "run_model", "run_scenario"]
