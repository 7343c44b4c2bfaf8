"""One run: a scenario and a seed in, the model's tidy tables and a manifest out.

``run_scenario`` runs the model with a progress bar and returns its tables and
manifest (scenario hash, seed, package versions, solver options, wall time,
ticks); ``experiments.outputs.tables`` writes them. ``MarketRunner`` is the same
for studies: plain data in, KPIs out, picklable for Dask workers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from experiments.kpis import kpis
from experiments.outputs.files import versions
from experiments.scenarios import scenario_hash, validate_scenario, with_overrides
from market import MarketModel, Scenario
from optimizers import SolverOptions


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
        model.run(n, progress=lambda t: (bar.update(1), bar.set_postfix(date=model.date(t - 1))))
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
        model.run(self.ticks)
        values = kpis(model.tables())
        return {k: values[k] for k in self.outputs}


__all__ = ["MarketRunner", "RunResult", "run_scenario"]
