"""Inference traffic classes (ODD 7.19): premium and economy compute.

Labs' inference demand splits into a premium class (latency-sensitive, frontier models:
a share ``s`` of it, bid at ``V_p = premium_value x V`` $ per H100e-quarter, V the lab's
``inference_value``) and an economy class (the rest, bid at ``V_e = economy_value x V``).
Training and economy inference buy ``compute``; premium inference buys
``compute_premium``, which only premium-eligible hardware makes: at tick t a generation g
of designer d is eligible when it has launched (L_g <= t) and is among the
``premium_generations`` newest launched generations of d (by launch tick, later in the
designer's list first on ties, as ``generations.shares``); a designer without
generations counts as one eligible generation.

In the clearing (one LP a tick, no new constraint type):

- a hyperscaler asks each eligible bucket's compute as ``compute_premium`` and the
  others as ``compute``, and holds a recipe ``compute = 1 compute_premium`` (cost 0,
  unlimited): eligible hardware serves either class, its compute sold in total at most
  its asks (the joint capacity), so p_P >= p_E at every hyperscaler;
- a lab holds a recipe ``compute_premium = 1 compute`` at cost
  ``delta = V_p - V_e`` $/H100e-quarter (a moved request is worth what an economy
  request is worth), capacity ``phi x`` its premium bids (``movable_share``): premium
  traffic moves to economy hardware when p_P - p_E at the lab exceeds delta, and at
  most a share phi of it.

Also here: tokens per H100e-second by generation (``token_speedups``) for cost per
token by class and generation.
"""

from __future__ import annotations

from collections.abc import Iterable

from market.scenario import DesignerSpec, TrafficSpec

PREMIUM = "compute_premium"
"""The premium class's good: H100e-quarters of premium-eligible accelerator time."""

ECONOMY = "compute"
"""The economy class's good (and training's): H100e-quarters on any hardware."""

COMPUTE_GOODS = (ECONOMY, PREMIUM)
CLASSES = ("premium", "economy")


def enabled(spec: TrafficSpec) -> bool:
    """Traffic classes are on when some inference is premium."""
    return spec.premium_share > 0


def class_values(value: float, spec: TrafficSpec) -> tuple[float, float]:
    """($ per H100e-quarter) premium and economy values of a lab's inference: V_p, V_e."""
    return value * spec.premium_value, value * spec.economy_value


def fallback_cost(value: float, spec: TrafficSpec) -> float:
    """delta = V_p - V_e: $ per H100e-quarter a premium request loses on economy hardware."""
    v_p, v_e = class_values(value, spec)
    return max(0.0, v_p - v_e)


def newest_generations(designer: DesignerSpec, tick: int, count: int) -> tuple[str, ...]:
    """Names of the ``count`` newest generations of ``designer`` launched by ``tick``
    (ties on the launch tick: later in the list is newer); ('',) without generations."""
    gens = designer.generations
    if not gens:
        return ("",)
    launched = [i for i, g in enumerate(gens) if g.launch <= tick]
    launched.sort(key=lambda i: (gens[i].launch, i), reverse=True)
    return tuple(gens[i].name for i in launched[:count])


def premium_buckets(
    designers: Iterable[DesignerSpec], tick: int, count: int
) -> frozenset[tuple[str, str]]:
    """The (designer, generation) buckets that may serve premium traffic at ``tick``."""
    return frozenset((d.name, g) for d in designers for g in newest_generations(d, tick, count))


def merged(*flows: dict[str, float]) -> dict[str, float]:
    """Units per counterparty summed over several goods' flows (e.g. both compute goods)."""
    out: dict[str, float] = {}
    for f in flows:
        for k, q in f.items():
            out[k] = out.get(k, 0.0) + q
    return out


def compute_inflows(outcome, agent: str) -> dict[str, float]:
    """H100e-quarters of compute, either class, each hyperscaler delivered to ``agent``."""
    premium = outcome.inflows(agent, PREMIUM)
    economy = outcome.inflows(agent, ECONOMY)
    return merged(economy, premium) if premium else economy


def speedup(speedups: dict[str, float], generation: str) -> float:
    """Tokens per H100e-second of ``generation`` relative to a tier's reference (H100): 1
    for a generation not in the table."""
    return speedups.get(generation, 1.0)


__all__ = [
    "CLASSES",
    "COMPUTE_GOODS",
    "ECONOMY",
    "PREMIUM",
    "class_values",
    "compute_inflows",
    "enabled",
    "fallback_cost",
    "merged",
    "newest_generations",
    "premium_buckets",
    "speedup",
]
