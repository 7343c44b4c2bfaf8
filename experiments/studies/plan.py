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

from pydantic import Field, model_validator

from experiments.kpis import KPIS
from experiments.scenarios import ScenarioError, read_toml, validate_model, with_overrides
from market.scenario import Strict


class Parameter(Strict):
    """One swept parameter: a dotted path and either a range or a list of values."""

    path: str = Field(description="Dotted path into the scenario, e.g. labs[OpenAI].training.")
    range: tuple[float, float] | None = Field(None, description="[low, high] for samplers.")
    values: tuple[Any, ...] | None = Field(None, description="Explicit values (grid only).")

    @model_validator(mode="after")
    def _one_of(self) -> Parameter:
        if (self.range is None) == (self.values is None):
            raise ValueError(f"parameter {self.path!r}: give exactly one of range or values")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"parameter {self.path!r}: range must be [low, high] with low < high")
        return self


class SweepPlan(Strict):
    """A sweep: base scenario, parameters, sampler, replications, outputs."""

    name: str
    base: str = Field("", description="Base scenario file, relative to the sweep file.")
    sampler: Literal["grid", "random", "lhs", "sobol", "morris"] = "grid"
    samples: Annotated[int, Field(ge=1)] = 8
    levels: Annotated[int, Field(ge=2)] = Field(
        4, description="Grid levels per parameter; Morris levels (even)."
    )
    seeds: Annotated[int, Field(ge=1)] = 1
    root_seed: Annotated[int, Field(ge=0)] = 0
    ticks: Annotated[int, Field(ge=1)] | None = None
    outputs: tuple[str, ...] = ("unmet_share", "price_accelerator", "price_compute")
    parameters: tuple[Parameter, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> SweepPlan:
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
        return self


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


def load_sweep(path: str | os.PathLike[str]) -> tuple[SweepPlan, dict[str, Any] | None]:
    """Read and validate a sweep file; also load and validate its base scenario (as data).

    With a ``base``, outputs must be KPIs of ``experiments.kpis`` and every parameter
    path must exist in the base scenario; without one (a custom runner), outputs
    are whatever the runner returns. Raises ``ScenarioError`` naming the file and
    field (unknown KPI, bad range, a path that does not exist, ...).
    """
    source = os.fspath(path)
    plan = validate_model(SweepPlan, read_toml(path), source)
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
        for i, p in enumerate(plan.parameters):
            probe = p.range[0] if p.range is not None else p.values[0]
            try:
                with_overrides(scenario, {p.path: probe})
            except ScenarioError as exc:
                raise ScenarioError(source, [f"parameters[{i}].path: {exc}"]) from None
        base = scenario.model_dump(mode="python")
    return plan, base


__all__ = ["Parameter", "SweepPlan", "load_sweep", "plan_identity", "plan_manifest"]
