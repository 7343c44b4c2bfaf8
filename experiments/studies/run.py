"""One run: a scenario and seeds in, the model's tidy tables and a manifest out.

``run_scenario`` runs the model on one seed with a progress bar and returns its
tables (with a ``seed`` column) and manifest (scenario hash, seed, package
versions, solver options, wall time, ticks); ``run_seeds`` runs several seeds, in
this process or on the worker pool (``experiments.cluster``), and returns all
seeds' tables as one set; ``experiments.outputs.tables`` writes them.
``MarketRunner`` is the same for studies: plain data in, KPIs (and optionally
per-tick series) out, picklable for Dask workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from tqdm import tqdm

from experiments.cluster import dask_client, scheduler_address
from experiments.engine import RunOutputs
from experiments.errors import RunError
from experiments.kpis import kpis, rents, select, window
from experiments.outputs.files import versions
from experiments.outputs.tables import combine, headline, with_seed
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
    """Tables (name -> column -> values, with a ``seed`` column) and the manifest of a
    run; ``model`` is the last model run in this process (None when run on workers)."""

    tables: dict[str, dict[str, list]]
    manifest: dict
    model: MarketModel | None = None
    scenario: dict | None = None  # the scenario as plain (JSON) data, for the report


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
        "seeds": [seed],
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
    return RunResult(with_seed(model.tables(), seed), manifest, model,
                     scenario.model_dump(mode="json"))  # fmt: skip


def _seed_run(data: dict, seed: int, ticks: int | None) -> tuple[dict, dict]:
    """One seed of a multi-seed run (on a worker): tables and manifest as plain data."""
    scenario = validate_scenario(data, "scenario")
    result = run_scenario(scenario, seed, ticks, SolverOptions(threads=1), progress=False)
    return result.tables, result.manifest


def run_seeds(
    scenario: Scenario,
    seeds: list[int],
    ticks: int | None = None,
    workers: int = 0,
    scheduler: str | None = None,
    progress: bool = True,
) -> RunResult:
    """Run ``scenario`` on each of ``seeds``; all seeds' tables as one set (a ``seed``
    column tells them apart, rows in the order of ``seeds``).

    ``workers=0`` and no scheduler runs in this process; otherwise on dask.distributed
    (``experiments.cluster.dask_client``). HiGHS uses one thread either way, so the
    tables are the same on any number of workers. The manifest records the seeds and
    per-seed wall times.
    """
    seeds = list(seeds)
    if len(seeds) == 1 and workers <= 0 and not scheduler_address(scheduler):
        return run_scenario(scenario, seeds[0], ticks, SolverOptions(threads=1), progress)
    start = time.perf_counter()
    results: dict[int, tuple[dict, dict]] = {}
    bar = tqdm(total=len(seeds), desc=scenario.meta.name, unit="seed",
               disable=None if progress else True)  # fmt: skip
    try:
        if workers <= 0 and not scheduler_address(scheduler):
            for s in seeds:
                result = run_scenario(scenario, s, ticks, SolverOptions(threads=1), False)
                results[s] = (result.tables, result.manifest)
                bar.update(1)
        else:
            from dask.distributed import as_completed

            data = scenario.model_dump(mode="python")
            with dask_client(workers, scheduler) as client:
                futures = {client.submit(_seed_run, data, s, ticks, pure=False): s for s in seeds}
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    bar.update(1)
    finally:
        bar.close()
    first = results[seeds[0]][1]
    manifest = {k: v for k, v in first.items() if k not in ("seed", "wall_seconds",
                "seconds_in_clearing", "seconds_in_agents", "clearing_rebuilds")}  # fmt: skip
    manifest.update(
        seeds=seeds,
        workers=workers,
        wall_seconds=round(time.perf_counter() - start, 3),
        seconds_per_seed={str(s): results[s][1]["wall_seconds"] for s in seeds},
        seconds_in_clearing=round(sum(results[s][1]["seconds_in_clearing"] for s in seeds), 3),
        seconds_in_agents=round(sum(results[s][1]["seconds_in_agents"] for s in seeds), 3),
    )
    return RunResult(combine([results[s][0] for s in seeds]), manifest,
                     scenario=scenario.model_dump(mode="json"))  # fmt: skip


@dataclass(frozen=True)
class MarketRunner:
    """Runs the market model for one (params, seed): plain data in, KPIs out (picklable).

    ``scenarios`` maps a label to a scenario as plain data; ``params`` may pick
    one with the key ``"scenario"`` (default: the first) and override any field
    by dotted path. ``ticks`` defaults to the scenario's horizon. ``outputs`` are
    KPI names (``experiments.kpis``; ``family[*]`` keeps every lab or region).

    ``windows`` adds each output over ticks ``start <= t < end`` as
    ``<output>@<name>`` for each ``(name, start, end)``; with ``series`` the runner
    returns ``engine.RunOutputs`` with the run's per-tick series (columns tick,
    series, value: the headline series of ``outputs.tables.headline``, each lab's and
    region's received compute, and tariff revenue and quota rents).
    """

    scenarios: Mapping[str, Mapping[str, Any]]
    outputs: tuple[str, ...]
    ticks: int | None = None
    windows: tuple[tuple[str, int, int], ...] = ()
    series: bool = False

    def __call__(self, params: Mapping[str, Any], seed: int):
        params = dict(params)
        label = params.pop("scenario", next(iter(self.scenarios)))
        scenario = validate_scenario(self.scenarios[label], f"scenario {label!r}")
        if params:
            scenario = with_overrides(scenario, params)
        model = MarketModel(scenario, seed=seed, solver_options=SolverOptions(threads=1))
        run_model(model, self.ticks)
        tables = model.tables()
        values = select(self.outputs, kpis(tables, scenario.shocks))
        for name, start, end in self.windows:
            part = select(self.outputs, kpis(window(tables, start, end), scenario.shocks))
            values.update({f"{k}@{name}": v for k, v in part.items()})
        if not self.series:
            return values
        return RunOutputs(values, run_series(tables, scenario.shocks))


def run_series(tables: dict[str, dict[str, list]], shocks=()) -> pd.DataFrame:
    """A run's per-tick series, long: columns tick, series, value (see ``MarketRunner``)."""
    head = headline(with_seed(tables, 0)).drop(columns="seed")
    a = pd.DataFrame(tables["agents"])
    labs = a[a["type"] == "Lab"]
    parts = [head]
    for key, label in (("agent", "compute received by {} (H100e-quarters)"),
                       ("region", "compute received by region {} (H100e-quarters)")):  # fmt: skip
        by = labs.groupby(["tick", key])["received"].sum().reset_index()
        by["series"] = [label.format(k) for k in by[key]]
        parts.append(by.rename(columns={"received": "value"})[["tick", "series", "value"]])
    money = rents(tables, shocks)
    for i, label in enumerate(("tariff revenue ($)", "quota rent ($)")):
        parts.append(pd.DataFrame({"tick": list(money), "series": label,
                                   "value": [v[i] for v in money.values()]}))  # fmt: skip
    out = pd.concat(parts, ignore_index=True)
    date = dict(zip(tables["ticks"]["tick"], tables["ticks"]["date"]))
    out.insert(1, "date", out["tick"].map(date))
    return out


__all__ = ["MODEL_ERRORS", "MarketRunner", "RunResult", "run_model", "run_scenario", "run_seeds",
           "run_series"]  # fmt: skip
