"""Sweep plans: the TOML file that names a base scenario, parameters, a sampler,
replications and outputs; read and validated here, sampled by ``experiments.samplers``.

::

    name = "hbm"
    base = "baseline.toml"          # relative to the sweep file
    sampler = "lhs"                 # grid | random | lhs | sobol | morris
    samples = 16                    # random/lhs: points; sobol: N (N*(D+2)); morris: trajectories
    seeds = 4                       # replications per point
    root_seed = 0                   # per-run seeds come from numpy SeedSequence(root_seed)
    outputs = ["unmet_share", "price_accelerator"]
    [[parameters]]
    path = "memory_makers[SK hynix].capacity"
    range = [1.4e8, 3.2e8]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StrictFloat, StrictInt, model_validator

from experiments.errors import StudyError
from experiments.kpis import KPIS
from experiments.scenarios import (
    ScenarioError,
    read_toml,
    resolve_sweep_plan,
    validate_model,
    with_overrides,
)
from market.scenario import Strict

FiniteFloat = Annotated[StrictFloat | StrictInt, Field(allow_inf_nan=False)]
"""A finite number written as a number (not a string or a boolean)."""

MAX_SAMPLES = 1_000_000
"""Most ``samples`` a plan may ask for (points, Sobol N or Morris trajectories)."""
MAX_SEEDS = 10_000
"""Most replications per design point."""
MAX_LEVELS = 1_000
"""Most grid or Morris levels per parameter."""
MAX_RUNS = 10_000_000
"""Most runs a plan may have at all (its tasks are held in memory)."""
LARGE_STUDY = 10_000
"""Runs above which a study starts only when confirmed (``--yes``, ``confirm=True``)."""
SECONDS_PER_AGENT_TICK = 6e-4
"""Rough time of one tick per agent on one worker (s), for the size warning: the
baseline (32 agents, 40 ticks) runs in ~0.76 s on a 2020s laptop core."""


class Parameter(Strict):
    """One swept parameter: a dotted path and either a range or a list of values."""

    path: str = Field(description="Dotted path into the scenario, e.g. labs[OpenAI].training.")
    range: tuple[FiniteFloat, FiniteFloat] | None = Field(
        None, description="[low, high] for samplers (finite numbers)."
    )
    values: tuple[Any, ...] | None = Field(None, description="Explicit values (grid only).")

    @model_validator(mode="after")
    def _one_of(self) -> Parameter:
        if (self.range is None) == (self.values is None):
            raise ValueError(f"parameter {self.path!r}: give exactly one of range or values")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"parameter {self.path!r}: range must be [low, high] with low < high")
        if self.values is not None and not self.values:
            raise ValueError(f"parameter {self.path!r}: values is empty; give at least one value")
        return self


class SweepPlan(Strict):
    """A sweep: base scenario, parameters, sampler, replications, outputs."""

    name: str
    base: str = Field("", description="Base scenario file, relative to the sweep file.")
    sampler: Literal["grid", "random", "lhs", "sobol", "morris"] = "grid"
    samples: Annotated[int, Field(ge=1, le=MAX_SAMPLES)] = 8
    levels: Annotated[int, Field(ge=2, le=MAX_LEVELS)] = Field(
        4, description="Grid levels per parameter; Morris levels (even)."
    )
    seeds: Annotated[int, Field(ge=1, le=MAX_SEEDS)] = 1
    root_seed: Annotated[int, Field(ge=0)] = 0
    ticks: Annotated[int, Field(ge=1)] | None = None
    outputs: tuple[str, ...] = ("unmet_share", "price_accelerator", "price_compute")
    parameters: tuple[Parameter, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> SweepPlan:
        first: dict[str, int] = {}
        for i, p in enumerate(self.parameters):
            if p.path in first:
                raise ValueError(
                    f"parameters[{i}].path: {p.path!r} is listed twice (also parameters"
                    f"[{first[p.path]}]); list each path once"
                )
            first[p.path] = i
        if self.sampler != "grid":
            for i, p in enumerate(self.parameters):
                if p.range is None:
                    raise ValueError(
                        f"parameters[{i}].range: sampler {self.sampler!r} needs a range "
                        "(values are for the grid sampler)"
                    )
        if self.sampler == "morris" and self.levels % 2:
            raise ValueError(f"levels: Morris needs an even number of levels (got {self.levels})")
        if self.sampler == "sobol" and self.samples & (self.samples - 1):
            raise ValueError(f"samples: Sobol needs a power of two (got {self.samples})")
        if self.runs > MAX_RUNS:
            raise ValueError(
                f"this plan has {self.runs:,} runs ({self.points:,} design points x "
                f"{self.seeds} seeds), more than {MAX_RUNS:,}; lower samples, levels, "
                "values or seeds"
            )
        return self

    @property
    def points(self) -> int:
        """Design points (without sampling; see ``experiments.samplers.point_count``)."""
        from experiments.samplers import point_count

        return point_count(self)

    @property
    def runs(self) -> int:
        """Runs: design points times seeds."""
        return self.points * self.seeds


def check_size(plan: SweepPlan, base: dict[str, Any] | None, source: str, workers: int,
               confirm: bool) -> None:  # fmt: skip
    """Refuse to start more than ``LARGE_STUDY`` runs unless ``confirm``; the message says
    how many runs and roughly how long they take."""
    if plan.runs <= LARGE_STUDY or confirm:
        return
    how_long = ""
    if base is not None:
        from experiments.scenarios import validate_scenario

        scenario = validate_scenario(base)
        ticks = plan.ticks or scenario.meta.horizon
        per_run = ticks * len(list(scenario.agent_specs())) * SECONDS_PER_AGENT_TICK
        hours = plan.runs * per_run / max(1, workers) / 3600
        how_long = (f", roughly {hours:,.1f} hours on {max(1, workers)} worker(s) at "
                    f"~{per_run:.2g} s per run")  # fmt: skip
    raise StudyError(
        f"{source}: this study has {plan.runs:,} runs ({plan.points:,} design points x "
        f"{plan.seeds} seeds){how_long}; pass --yes to start it, or lower samples, levels, "
        "values or seeds"
    )


def plan_identity(plan: SweepPlan, base: dict[str, Any] | None) -> dict[str, Any]:
    """What makes a sweep itself, for the engine's ``identity``: the plan (as JSON) and
    the base scenario's hash (None without a base)."""
    from experiments.scenarios import scenario_hash, validate_scenario

    base_hash = scenario_hash(validate_scenario(base)) if base is not None else None
    return {"plan": plan.model_dump(mode="json"), "base_hash": base_hash}


def plan_manifest(plan: SweepPlan, base: dict[str, Any] | None, source: str) -> dict[str, Any]:
    """Manifest entries of a sweep: its file, plan, the plan's hash and the base's hash."""
    from experiments.engine import digest

    identity = plan_identity(plan, base)
    return {"sweep_file": source, "plan": identity["plan"],
            "plan_hash": digest(identity["plan"]), "base_hash": identity["base_hash"]}  # fmt: skip


def load_sweep(
    path: str | os.PathLike[str], samples: int | None = None, ticks: int | None = None
) -> tuple[SweepPlan, dict[str, Any] | None]:
    """Read and validate a sweep file; also load and validate its base scenario (as data).

    ``samples`` and ``ticks`` (the CLI's ``--samples``, ``--ticks``) replace the
    file's values before validation. With a ``base``, outputs must be KPIs of
    ``experiments.kpis``, ``ticks`` at most the base's horizon and every parameter
    path must exist in the base scenario; without one (a custom runner), outputs
    are whatever the runner returns. Raises ``ScenarioError`` naming the file (and
    the option) and field (unknown KPI, bad range, a path that does not exist, ...).
    """
    path = resolve_sweep_plan(path)
    source = os.fspath(path)
    data = read_toml(path)
    plan = validate_model(SweepPlan, data, source)
    assert isinstance(plan, SweepPlan)
    options = {k: v for k, v in (("samples", samples), ("ticks", ticks)) if v is not None}
    if options:
        source = f"{source} with " + " ".join(f"--{k} {v}" for k, v in options.items())
        if "samples" in options and plan.sampler == "grid":
            raise ScenarioError(source, ["samples: the grid sampler takes no samples; "
                                         "change its levels or values instead"])  # fmt: skip
        plan = validate_model(SweepPlan, {**data, **options}, source)
        assert isinstance(plan, SweepPlan)
    for i, name in enumerate(plan.outputs if plan.base else ()):  # market KPIs only with a base
        if name not in KPIS:
            raise ScenarioError(
                source, [f"outputs[{i}]: unknown KPI {name!r}; known KPIs: {', '.join(KPIS)}"]
            )
    base = None
    if plan.base:
        base_path = Path(path).parent / plan.base
        from experiments.scenarios import load_scenario

        scenario = load_scenario(base_path)
        horizon = scenario.meta.horizon
        if plan.ticks is not None and plan.ticks > horizon:
            raise ScenarioError(
                source,
                [f"ticks: {plan.ticks} is past the base scenario's horizon ({horizon} ticks, "
                 f"meta.horizon in {base_path}); use at most {horizon}"],
            )  # fmt: skip
        for i, p in enumerate(plan.parameters):
            probe = p.range[0] if p.range is not None else p.values[0]
            try:
                with_overrides(scenario, {p.path: probe})
            except ScenarioError as exc:
                raise ScenarioError(source, [f"parameters[{i}].path: {exc}"]) from None
        base = scenario.model_dump(mode="python")
    return plan, base


__all__ = ["LARGE_STUDY", "Parameter", "SweepPlan", "check_size", "load_sweep", "plan_identity",
           "plan_manifest"]  # fmt: skip
