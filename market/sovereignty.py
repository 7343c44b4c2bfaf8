"""Sovereignty metrics: regional self-sufficiency and labs' single points of failure.

Plain functions on plain data (no Mesa, no I/O); ``tick_metrics`` feeds them each tick.

**Self-sufficiency** of region r in good g (a fraction in [0, 1]):

    capacity_rg = sum of the available capacity (after shocks) of the agents located
                  in r that make g                         (g's unit per tick)
    use_rg      = sum of the units of g received this tick (spot + contract) by the
                  buyers located in r                      (g's unit per tick)
    self_sufficiency_rg = min(1, capacity_rg / use_rg)     if use_rg > 0
                        = NaN                              if use_rg == 0

so a region that uses a good but has no capacity for it scores 0, one whose own
capacity could serve all it uses scores 1, and a region that uses none of the good
has no self-sufficiency to speak of (NaN, whatever its capacity). A designer with no
capacity limit of its own (capacity ``inf``, limited only by its inputs) makes its
region's accelerator self-sufficiency 1 whenever the region uses accelerators: the
binding limits then show in the wafer, HBM and CoWoS tiers.

**Single points of failure.** For a lab and an upstream tier (a good), the share of
the lab's supply that passes through each supplier of that tier, traced upstream by
proportional mixing over a chain of layers of edges (shares multiply along the
chain, as ``metrics.trace_exposure`` would find on the same layered graph), e.g.

    lab <- hyperscaler (compute received this tick, H100e-quarters)
    hyperscaler <- designer (its installed fleet of the designer's chips, H100e)
    designer <- supplier (units of the tier's good received this tick)

share_{lab, s} = sum over paths s -> ... -> lab of the product of each edge's share
of its head's supply. A supplier is a single point of failure of the lab in that
tier when its share is >= :data:`SPOF_SHARE`. Shares of origins that are not
suppliers of the tier (a designer that received none of the good this tick) are
dropped, so a lab's shares in a tier sum to at most 1.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence

__all__ = [
    "SPOF_SHARE",
    "regional_capacity",
    "regional_use",
    "self_sufficiency",
    "single_points_of_failure",
    "upstream_shares",
]

SPOF_SHARE = 0.5
"""Share of a lab's supply in a tier (fraction) from which one supplier counts as a
single point of failure: losing it would cut at least half of that supply. A
reporting threshold, not a behaviour: nothing in the model reads it."""

Region = Hashable
Good = Hashable
Edge = tuple[Hashable, Hashable, float]


def regional_capacity(
    rows: Iterable[tuple[Hashable, Good, float]], region_of: Mapping[Hashable, Region]
) -> dict[tuple[Region, Good], float]:
    """Available capacity by (region, good): ``rows`` are (agent, good, available units
    per tick); an agent missing from ``region_of`` raises ValueError naming it."""
    out: dict[tuple[Region, Good], float] = defaultdict(float)
    for agent, good, available in rows:
        if agent not in region_of:
            raise ValueError(f"capacity of agent {agent!r}: the agent has no region")
        out[(region_of[agent], good)] += float(available)
    return dict(out)


def regional_use(
    flows: Mapping[tuple[Hashable, Hashable, Good], float], region_of: Mapping[Hashable, Region]
) -> dict[tuple[Region, Good], float]:
    """Units received by (buyer's region, good) from ``flows`` keyed (seller, buyer, good)
    (units per tick, spot + contract); a buyer missing from ``region_of`` raises
    ValueError naming the flow."""
    out: dict[tuple[Region, Good], float] = defaultdict(float)
    for (seller, buyer, good), q in flows.items():
        if buyer not in region_of:
            raise ValueError(f"flow {seller!r} -> {buyer!r} of {good!r}: the buyer has no region")
        out[(region_of[buyer], good)] += float(q)
    return dict(out)


def self_sufficiency(capacity: float, use: float) -> float:
    """min(1, capacity / use), a fraction; NaN when ``use`` is 0 (nothing to serve).
    Negative or NaN inputs raise ValueError."""
    if not (capacity >= 0 and use >= 0):
        raise ValueError(f"self-sufficiency needs capacity >= 0 and use >= 0, got "
                         f"capacity={capacity!r}, use={use!r}")  # fmt: skip
    if use == 0:
        return float("nan")
    return min(1.0, capacity / use)


Shares = dict[Hashable, dict[Hashable, float]]


def upstream_shares(
    layers: Sequence[Iterable[Edge]], labs: Iterable[Hashable], suppliers: Iterable[Hashable]
) -> Shares:
    """Share of each lab's supply that passes through each of ``suppliers``.

    ``layers`` are edges (upstream, downstream, flow >= 0) of a chain of tiers, from the
    labs' own suppliers upward, e.g. [compute edges, fleet edges, wafer edges]: the
    downstream ends of a layer are the upstream ends of the layer before it. Shares
    multiply along the chain (``step_upstream``), as ``metrics.trace_exposure`` finds
    on the same layered graph. Of the origins reached, those in ``suppliers`` are kept.
    Returns ``{lab: {supplier: share}}`` (fractions; empty for a lab that received
    nothing). Time: linear in the edges plus the labs' reach.
    """
    shares: Shares = {lab: {lab: 1.0} for lab in labs}
    for layer in layers:
        shares = step_upstream(shares, layer)
    return only(shares, suppliers)


def step_upstream(shares: Shares, layer: Iterable[Edge]) -> Shares:
    """One layer up: each node's share passes to its suppliers in the layer in
    proportion to their flows,

        x_{lab, u} = sum_v x_{lab, v} * flow_{u v} / sum_w flow_{w v},

    and a node with no in-flow in the layer is an origin whose share stays with it.
    Flows of one layer share a unit; parallel edges add up; flows <= 0 are ignored."""
    inflow: dict[Hashable, dict[Hashable, float]] = defaultdict(lambda: defaultdict(float))
    for u, v, f in layer:
        if f > 0:
            inflow[v][u] += float(f)
    mix = {v: [(u, f / sum(us.values())) for u, f in us.items()] for v, us in inflow.items()}
    out: Shares = {}
    for lab, held in shares.items():
        nxt: dict[Hashable, float] = defaultdict(float)
        for v, x in held.items():
            if v in mix:
                for u, w in mix[v]:
                    nxt[u] += x * w
            else:
                nxt[v] += x
        out[lab] = nxt
    return out


def only(shares: Shares, suppliers: Iterable[Hashable]) -> Shares:
    """``shares`` restricted to the nodes in ``suppliers`` (an origin that is the lab
    itself, i.e. a lab that received nothing, is never one)."""
    keep = set(suppliers)
    return {
        lab: {s: x for s, x in h.items() if s in keep and s != lab} for lab, h in shares.items()
    }


def single_points_of_failure(
    shares: Mapping[Hashable, Mapping[Hashable, float]], threshold: float = SPOF_SHARE
) -> dict[Hashable, list[tuple[Hashable, float]]]:
    """Per lab, the suppliers whose share is >= ``threshold``: ``{lab: [(supplier, share)]}``
    (largest first; at most one when ``threshold`` > 0.5)."""
    return {
        lab: sorted(((s, x) for s, x in sh.items() if x >= threshold), key=lambda p: -p[1])
        for lab, sh in shares.items()
    }
