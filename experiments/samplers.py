"""Designs of a study: the points a sweep plan samples, and the seeds of its replications.

One root seed feeds both: ``SeedSequence(root_seed).spawn(2)`` gives the
replication seeds (first child) and the sampler's stream (second child), so a
sweep, a what-if study and a sensitivity analysis with the same root share seeds.

Samplers (``plan.sampler``):

- ``grid``: every combination of each parameter's values (or ``levels`` evenly
  spaced points of its range);
- ``random``: ``samples`` uniform points in the box of ranges;
- ``lhs``: ``samples`` Latin-hypercube points (``scipy.stats.qmc.LatinHypercube``):
  one point in each of ``samples`` equal strata of every parameter;
- ``sobol``: Saltelli's design for Sobol indices (SALib), ``samples * (D + 2)`` points;
- ``morris``: ``samples`` Morris trajectories (SALib), ``samples * (D + 1)`` points.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import qmc

if TYPE_CHECKING:
    from experiments.studies.plan import SweepPlan


def replication_seeds(root_seed: int, n: int) -> list[int]:
    """``n`` run seeds (uint32) from one root seed: the rule every study uses."""
    if n < 1:
        raise ValueError(f"seeds must be >= 1 (got {n})")
    children = np.random.SeedSequence(root_seed).spawn(2)[0].spawn(n)
    return [int(c.generate_state(1, dtype=np.uint32)[0]) for c in children]


def _sampler_rng(root_seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(root_seed).spawn(2)[1])


def salib_problem(plan: SweepPlan) -> dict[str, Any]:
    """The SALib problem dict of a plan (parameter names are their paths)."""
    return {
        "num_vars": len(plan.parameters),
        "names": [p.path for p in plan.parameters],
        "bounds": [list(p.range) for p in plan.parameters],
    }


def point_count(plan: SweepPlan) -> int:
    """The number of design points ``sample(plan)`` gives, computed without sampling."""
    d = len(plan.parameters)
    if plan.sampler == "grid":
        return math.prod(len(p.values) if p.values is not None else plan.levels
                         for p in plan.parameters)  # fmt: skip
    if plan.sampler == "sobol":
        return plan.samples * (d + 2)
    if plan.sampler == "morris":
        return plan.samples * (d + 1)
    return plan.samples


def sample(plan: SweepPlan) -> np.ndarray | list[tuple]:
    """The design points: rows of parameter values (in ``plan.parameters`` order), in a
    deterministic order given ``plan.root_seed``."""
    if plan.sampler == "grid":
        axes = [
            list(p.values) if p.values is not None else list(np.linspace(*p.range, plan.levels))
            for p in plan.parameters
        ]
        return list(itertools.product(*axes))
    lo = np.array([p.range[0] for p in plan.parameters], dtype=float)
    hi = np.array([p.range[1] for p in plan.parameters], dtype=float)
    d = len(plan.parameters)
    if plan.sampler == "random":
        return lo + (hi - lo) * _sampler_rng(plan.root_seed).random((plan.samples, d))
    if plan.sampler == "lhs":
        unit = qmc.LatinHypercube(d, rng=_sampler_rng(plan.root_seed)).random(plan.samples)
        return qmc.scale(unit, lo, hi)
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    problem = salib_problem(plan)
    if plan.sampler == "sobol":
        return sobol_sample.sample(
            problem, plan.samples, calc_second_order=False, seed=plan.root_seed
        )
    return morris_sample.sample(problem, plan.samples, num_levels=plan.levels, seed=plan.root_seed)


__all__ = ["point_count", "replication_seeds", "salib_problem", "sample"]
