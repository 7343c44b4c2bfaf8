"""Optional adapter to EMA Workbench: the market as an EMA model, and a Dask evaluator.

Install with ``pip install -e ".[ema]"`` (the ``dev`` extra includes it). Then::

    from ema_workbench import perform_experiments
    from ema_workbench.analysis import prim
    from experiments.connectors.ema import DaskEvaluator, market_model

    model = market_model(
        "experiments/scenarios/baseline.toml",
        uncertainties={"labs[OpenAI].training_growth": (0.2, 1.0)},
        levers={"behaviour.contract_share": (0.1, 0.6)},
        outcomes=("unmet_share", "price_accelerator"),
        ticks=20,
    )
    with DaskEvaluator(model, workers=2) as evaluator:
        experiments, outcomes = perform_experiments(model, scenarios=64, evaluator=evaluator)
    box = prim.Prim(experiments[...], outcomes["unmet_share"] > 0.3, threshold=0.8).find_box()

Uncertainties and levers are scenario fields by dotted path (as in sweeps; EMA
sees them as identifiers, ``labs[OpenAI].training_growth`` becoming
``labs_OpenAI_training_growth``, see ``identifier``) and outcomes are KPIs of
``experiments.kpis``. EMA Workbench ships no Dask evaluator; ``DaskEvaluator``
subclasses its ``BaseEvaluator`` and runs each
experiment on dask.distributed (a LocalCluster, or an existing scheduler) with
the same rules as the sweep engine: plain data to the workers, one HiGHS thread.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ema_workbench import Constant, Model, RealParameter, ScalarOutcome
from ema_workbench.em_framework.evaluators import BaseEvaluator
from ema_workbench.em_framework.experiment_runner import ExperimentRunner

from experiments.cluster import dask_client
from experiments.kpis import KPIS
from experiments.scenarios import ScenarioError, load_scenario, with_overrides
from experiments.studies.run import MarketRunner

SEED = "seed"


def identifier(path: str) -> str:
    """An EMA parameter name (a Python identifier) for a dotted scenario path."""
    name = re.sub(r"\W+", "_", path).strip("_")
    return name if name and not name[0].isdigit() else f"p_{name}"


class MarketFunction:
    """The market as an EMA model function: keyword arguments (parameter identifiers,
    and ``seed``) in, KPIs out. Picklable: it holds the base scenario as plain data."""

    def __init__(
        self,
        base: Mapping[str, Any],
        outcomes: tuple[str, ...],
        ticks: int | None,
        paths: Mapping[str, str],
    ) -> None:
        self.runner = MarketRunner({"base": dict(base)}, outcomes, ticks)
        self.paths = dict(paths)  # identifier -> dotted path

    def __call__(self, **kwargs: Any) -> dict[str, float]:
        seed = int(kwargs.pop(SEED, 0))
        return self.runner({self.paths[k]: v for k, v in kwargs.items()}, seed)


def market_model(
    base: str | os.PathLike[str],
    uncertainties: Mapping[str, tuple[float, float]],
    levers: Mapping[str, tuple[float, float]] | None = None,
    outcomes: Iterable[str] = ("unmet_share", "price_accelerator", "contract_coverage"),
    ticks: int | None = None,
    seed: int = 0,
    name: str = "aimarket",
) -> Model:
    """An ``ema_workbench.Model`` of the market on scenario file ``base``.

    Raises ``ScenarioError`` for an unknown outcome or a path not in the scenario.
    """
    scenario = load_scenario(base)
    outcomes = tuple(outcomes)
    for o in outcomes:
        if o not in KPIS:
            raise ScenarioError("outcomes", [f"{o!r} is not a KPI; known: {', '.join(KPIS)}"])
    paths: dict[str, str] = {}
    for path, (lo, _) in {**uncertainties, **(levers or {})}.items():
        with_overrides(scenario, {path: lo})  # raises ScenarioError naming the path
        ident = identifier(path)
        if ident in paths:
            raise ScenarioError("uncertainties", [f"{path!r} and {paths[ident]!r} clash"])
        paths[ident] = path
    function = MarketFunction(scenario.model_dump(mode="python"), outcomes, ticks, paths)
    model = Model(name, function=function)
    model.uncertainties = [
        RealParameter(identifier(p), lo, hi) for p, (lo, hi) in uncertainties.items()
    ]
    model.levers = [RealParameter(identifier(p), lo, hi) for p, (lo, hi) in (levers or {}).items()]
    model.outcomes = [ScalarOutcome(o) for o in outcomes]
    model.constants = [Constant(SEED, seed)]
    return model


def _run(msis: list, experiment) -> tuple[Any, dict]:
    """Run one EMA experiment on a worker."""
    runner = ExperimentRunner(msis)
    return experiment, runner.run_experiment(experiment)


class DaskEvaluator(BaseEvaluator):
    """Evaluates EMA experiments on dask.distributed.

    ``scheduler`` (or ``DASK_SCHEDULER_ADDRESS``) joins an existing cluster;
    otherwise a LocalCluster of ``workers`` single-threaded processes is started
    for the evaluator's lifetime (use it as a context manager).
    """

    def __init__(self, msis, workers: int = 2, scheduler: str | None = None) -> None:
        super().__init__(msis)
        self.workers = workers
        self.scheduler = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
        self._client = None
        self._context = None

    def initialize(self) -> None:
        self._context = dask_client(self.workers, self.scheduler)
        self._client = self._context.__enter__()

    def finalize(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
        self._client = self._context = None

    def evaluate_experiments(self, experiments: Iterable, callback: Callable, **kwargs) -> None:
        from dask.distributed import as_completed

        if self._client is None:
            raise RuntimeError("use DaskEvaluator as a context manager (with ... as evaluator)")
        futures = [self._client.submit(_run, self._msis, e, pure=False) for e in experiments]
        for fut in as_completed(futures):
            experiment, outcomes = fut.result()
            callback(experiment, outcomes)
