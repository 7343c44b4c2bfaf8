"""Per-tick metrics of lock-in and dependency: plain functions on plain data.

Units: a *quantity* is in its good's unit per tick (wafers, GB of HBM, H100e, MW, ...),
or in a common basis ($ of value, accelerator-equivalents) where goods are mixed.
Shares are fractions in [0, 1]; HHI is on the 0-10,000 scale (shares in percent,
squared and summed). No Mesa, no file I/O; agents, goods and graph nodes are any
hashable ids.

Conventions for undefined cases (also stated on each function):

- ``hhi`` and ``top_share`` of an empty or all-zero input are 0.0.
- Flows with zero quantity are not trading relationships and are dropped.
- ``contract_coverage`` is 0.0 for a buyer that received nothing.
- ``relationship_persistence`` is NaN when there is no current relationship.
- ``utilisation`` is NaN when nothing is available.
- ``trace_exposure`` gives an empty dict for a sink that received nothing.

Bad inputs (negative, NaN or infinite quantities; contracted above received; a
closed cycle of flow with no supply from outside) raise ``ValueError`` naming the
offending key, flow, node or edge.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Hashable, Iterable, Mapping

import networkx as nx
import numpy as np

__all__ = [
    "buyer_supplier_hhi",
    "buyer_top1_share",
    "capex_opex_revenue",
    "contract_coverage",
    "cost_per_mtok",
    "exposure_by",
    "fleet_returns",
    "hhi",
    "lab_dependency",
    "market_hhi",
    "relationship_persistence",
    "stranded_capacity",
    "supplier_shares",
    "top_holder",
    "top_share",
    "trace_exposure",
    "usable_capacity",
    "utilisation",
]

Node = Hashable
Good = Hashable

#: Relative tolerance for "contracted <= received" and "used <= available".
REL_TOL = 1e-9


def _quantity(value: object, what: str) -> float:
    """``value`` as a float, or ValueError naming ``what`` if it is not a finite number >= 0."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected a number, got {value!r}") from None
    if not math.isfinite(x) or x < 0.0:
        raise ValueError(f"{what}: must be a finite number >= 0, got {value!r}")
    return x


# ---------------------------------------------------------------------------
# Concentration
# ---------------------------------------------------------------------------


def hhi(quantities: Mapping[Hashable, float]) -> float:
    """Herfindahl-Hirschman index of ``quantities`` (any common unit), on the 0-10,000 scale.

    The sum of squared shares in percent: a monopoly is 10,000, n equal firms
    10,000 / n. 0.0 for an empty or all-zero input. A negative, NaN or infinite
    quantity raises ValueError naming its key.
    """
    values = [_quantity(q, f"quantity of {k!r}") for k, q in quantities.items()]
    total = math.fsum(values)
    if total == 0.0:
        return 0.0
    return math.fsum((100.0 * q / total) ** 2 for q in values)


def top_share(quantities: Mapping[Hashable, float]) -> float:
    """The largest share of the total of ``quantities``, in [0, 1]; 0.0 if the total is zero."""
    values = [_quantity(q, f"quantity of {k!r}") for k, q in quantities.items()]
    total = math.fsum(values)
    if total == 0.0:
        return 0.0
    return max(values) / total


def supplier_shares(
    flows: Iterable[tuple[Node, Node, Good, float]],
) -> dict[tuple[Node, Good], dict[Node, float]]:
    """Units received by each (buyer, good), by seller, from ``(seller, buyer, good, quantity)``.

    Returns quantities (good units per tick), not normalised: pass each inner dict
    to :func:`hhi` or :func:`top_share`. Repeated (seller, buyer, good) flows are
    summed; zero-quantity flows are dropped (no relationship). A negative, NaN or
    infinite quantity raises ValueError naming the flow.
    """
    out: dict[tuple[Node, Good], dict[Node, float]] = {}
    for seller, buyer, good, quantity in flows:
        q = _quantity(quantity, f"flow {seller!r} -> {buyer!r} of {good!r}")
        if q == 0.0:
            continue
        by_seller = out.setdefault((buyer, good), {})
        by_seller[seller] = by_seller.get(seller, 0.0) + q
    return out


def buyer_supplier_hhi(
    flows: Iterable[tuple[Node, Node, Good, float]],
) -> dict[tuple[Node, Good], float]:
    """Supplier HHI (0-10,000) of each (buyer, good) with positive receipts; see supplier_shares."""
    return {key: hhi(q) for key, q in supplier_shares(flows).items()}


def buyer_top1_share(
    flows: Iterable[tuple[Node, Node, Good, float]],
) -> dict[tuple[Node, Good], float]:
    """Share in [0, 1] of each (buyer, good)'s receipts from its largest supplier."""
    return {key: top_share(q) for key, q in supplier_shares(flows).items()}


def market_hhi(sales: Iterable[tuple[Node, Good, float]]) -> dict[Good, float]:
    """Seller HHI (0-10,000) of each good from ``(seller, good, quantity)`` sales.

    Repeated (seller, good) sales are summed; a good whose sales are all zero
    maps to 0.0. A negative, NaN or infinite quantity raises ValueError naming
    the sale.
    """
    by_good: dict[Good, dict[Node, float]] = {}
    for seller, good, quantity in sales:
        q = _quantity(quantity, f"sale by {seller!r} of {good!r}")
        by_seller = by_good.setdefault(good, {})
        by_seller[seller] = by_seller.get(seller, 0.0) + q
    return {good: hhi(q) for good, q in by_good.items()}


# ---------------------------------------------------------------------------
# Contracts and relationships
# ---------------------------------------------------------------------------


def contract_coverage(
    contracted: Mapping[Node, float], total: Mapping[Node, float]
) -> dict[Node, float]:
    """Share in [0, 1] of each buyer's receipts that came under contract.

    ``contracted[b]`` and ``total[b]`` are units received this tick (same unit). A
    buyer missing from one mapping counts 0 there. 0.0 where the total is 0. A
    contracted amount above the total by more than ``REL_TOL`` (relative) raises
    ValueError naming the buyer; within it, the coverage is clipped to 1.
    """
    out: dict[Node, float] = {}
    for buyer in dict.fromkeys([*total, *contracted]):
        c = _quantity(contracted.get(buyer, 0.0), f"contracted of buyer {buyer!r}")
        t = _quantity(total.get(buyer, 0.0), f"total of buyer {buyer!r}")
        if c > t * (1.0 + REL_TOL):
            raise ValueError(f"buyer {buyer!r}: contracted {c!r} exceeds total received {t!r}")
        out[buyer] = 0.0 if t == 0.0 else min(c / t, 1.0)
    return out


def relationship_persistence(
    previous: set[tuple[Node, Node, Good]], current: set[tuple[Node, Node, Good]]
) -> float:
    """Share in [0, 1] of this tick's (seller, buyer, good) relationships that existed last tick.

    ``|previous & current| / |current|`` (not Jaccard: relationships that ended do
    not lower it). Pass only relationships with positive flow. NaN when
    ``current`` is empty (no relationship to persist).
    """
    if not current:
        return math.nan
    return len(previous & current) / len(current)


# ---------------------------------------------------------------------------
# Capacity
# ---------------------------------------------------------------------------


def utilisation(used: float, available: float) -> float:
    """``used / available`` in [0, 1] (same unit, e.g. wafers per tick or MW).

    NaN when ``available`` is 0. ``used`` above ``available`` by more than
    ``REL_TOL`` (relative) raises ValueError; within it, the result is clipped to 1.
    """
    u = _quantity(used, "used")
    a = _quantity(available, "available")
    if u > a * (1.0 + REL_TOL):
        raise ValueError(f"used {u!r} exceeds available {a!r}")
    if a == 0.0:
        return math.nan
    return min(u / a, 1.0)


def stranded_capacity(capacity: float, used: float) -> float:
    """Idle capacity ``max(capacity - used, 0)``, in the capacity's unit per tick."""
    c = _quantity(capacity, "capacity")
    u = _quantity(used, "used")
    return max(c - u, 0.0)


# ---------------------------------------------------------------------------
# Upstream exposure
# ---------------------------------------------------------------------------


def _positive_inflows(
    graph: nx.DiGraph,
) -> tuple[dict[Node, list[tuple[Node, float]]], dict[Node, float]]:
    """Positive in-flows ``{v: [(u, flow)]}`` and positive own supply ``{v: own}``, validated."""
    preds: dict[Node, list[tuple[Node, float]]] = defaultdict(list)
    for u, v, data in graph.edges(data=True):
        if "flow" not in data:
            raise ValueError(f"edge {u!r} -> {v!r} has no 'flow' attribute")
        f = _quantity(data["flow"], f"flow of edge {u!r} -> {v!r}")
        if f > 0.0:
            preds[v].append((u, f))
    own: dict[Node, float] = {}
    for v, data in graph.nodes(data=True):
        x = _quantity(data.get("own", 0.0), f"'own' of node {v!r}")
        if x > 0.0:
            own[v] = x
    return preds, own


def _mix_block(
    members: list[Node],
    preds: Mapping[Node, list[tuple[Node, float]]],
    own: Mapping[Node, float],
    mix: Mapping[Node, dict[Node, float]],
) -> dict[Node, dict[Node, float]]:
    """Origin mixes of a strongly connected set of nodes: solve ``A m = r`` with numpy.

    For each member v: ``T_v m_v - sum_{u in block} f_uv m_u = own_v e_v + sum_{u outside}
    f_uv m_u``, with ``T_v`` its total supply. ``A`` is a nonsingular M-matrix as soon
    as some member has supply from outside the block.
    """
    index = {v: i for i, v in enumerate(members)}
    k = len(members)
    a = np.zeros((k, k))
    rhs: list[dict[Node, float]] = []
    for i, v in enumerate(members):
        r: dict[Node, float] = defaultdict(float)
        a[i, i] += own.get(v, 0.0)
        if v in own:
            r[v] += own[v]
        for u, f in preds.get(v, ()):
            a[i, i] += f
            if u in index:
                a[i, index[u]] -= f
            else:
                for o, share in mix[u].items():
                    r[o] += f * share
        rhs.append(r)
    if all(not r for r in rhs):
        raise ValueError(
            f"node {members[0]!r} is on a cycle of flow with no supply from outside it "
            "(no in-flow from other nodes and no 'own'): its origins are undefined"
        )
    origins = list(dict.fromkeys(o for r in rhs for o in r))
    col = {o: j for j, o in enumerate(origins)}
    b = np.zeros((k, len(origins)))
    for i, r in enumerate(rhs):
        for o, x in r.items():
            b[i, col[o]] = x
    m = np.clip(np.linalg.solve(a, b), 0.0, None)
    m /= m.sum(axis=1, keepdims=True)
    return {
        v: {o: float(m[i, j]) for j, o in enumerate(origins) if m[i, j] > 0.0}
        for i, v in enumerate(members)
    }


def trace_exposure(graph: nx.DiGraph, sinks: Iterable[Node]) -> dict[Node, dict[Node, float]]:
    """Share of each sink's supply that comes from each origin, traced upstream through flows.

    Edges carry ``flow`` (units moved this tick, in one common basis such as $ of
    value or H100e); nodes may carry ``own`` (units they supply themselves, e.g.
    production from own capacity; default 0). Proportional mixing (input-output
    attribution): a node's supply is its in-flow plus ``own``, and its out-flows
    have the same origin mix as its supply, so

        m_v = (own_v * {v: 1} + sum_u flow_uv * m_u) / (own_v + sum_u flow_uv).

    A node with no positive in-flow is an origin, ``m_v = {v: 1}``. Zero-flow edges
    are ignored. Out-flows are not checked against supply (stocks, losses and
    unit conversions are the caller's business).

    Returns ``{sink: {origin: share}}`` with shares summing to 1, or an empty dict
    for a sink with neither in-flow nor ``own``. Only the sinks' upstream is
    visited. A DAG is solved in topological order, in time linear in the edges
    (times the size of the origin mixes); a cycle of flow is solved exactly as a
    linear system per strongly connected component (numpy), and a cycle that gets
    no supply from outside raises ValueError naming a node on it. A missing,
    negative, NaN or infinite ``flow`` or ``own``, or a sink not in the graph,
    raises ValueError naming the edge or node.
    """
    sinks = list(dict.fromkeys(sinks))
    for s in sinks:
        if s not in graph:
            raise ValueError(f"sink {s!r} is not a node of the graph")
    preds, own = _positive_inflows(graph)

    # The sinks' upstream, by a reverse breadth-first search over positive flows.
    upstream = nx.DiGraph()
    upstream.add_nodes_from(sinks)
    queue = deque(sinks)
    while queue:
        v = queue.popleft()
        for u, _ in preds.get(v, ()):
            if u not in upstream:
                upstream.add_node(u)
                queue.append(u)
            upstream.add_edge(u, v)

    mix: dict[Node, dict[Node, float]] = {}
    blocks = nx.condensation(upstream)
    for c in nx.topological_sort(blocks):
        members = list(blocks.nodes[c]["members"])
        if len(members) > 1 or upstream.has_edge(members[0], members[0]):
            mix.update(_mix_block(members, preds, own, mix))
            continue
        (v,) = members
        inflow = preds.get(v, ())
        if not inflow:
            mix[v] = {v: 1.0}
            continue
        acc: dict[Node, float] = defaultdict(float)
        total = own.get(v, 0.0)
        if v in own:
            acc[v] += own[v]
        for u, f in inflow:
            total += f
            for o, share in mix[u].items():
                acc[o] += f * share
        mix[v] = {o: x / total for o, x in acc.items()}

    out: dict[Node, dict[Node, float]] = {}
    for s in sinks:
        if s not in preds and s not in own:
            out[s] = {}
            continue
        norm = math.fsum(mix[s].values())
        out[s] = {o: x / norm for o, x in mix[s].items()}
    return out


def exposure_by(
    attribute: str, graph: nx.DiGraph, exposure: Mapping[Node, Mapping[Node, float]]
) -> dict[Node, dict[Hashable, float]]:
    """Aggregate each sink's origin shares by the origins' node ``attribute`` (e.g. ``region``).

    ``exposure`` is the output of :func:`trace_exposure` on ``graph``. Shares of
    origins with the same attribute value are summed (still summing to 1). An
    origin not in the graph or without the attribute raises ValueError naming it.
    """
    out: dict[Node, dict[Hashable, float]] = {}
    for sink, shares in exposure.items():
        acc: dict[Hashable, float] = {}
        for origin, share in shares.items():
            if origin not in graph:
                raise ValueError(f"origin {origin!r} is not a node of the graph")
            data = graph.nodes[origin]
            if attribute not in data:
                raise ValueError(f"origin {origin!r} has no attribute {attribute!r}")
            value = data[attribute]
            acc[value] = acc.get(value, 0.0) + share
        out[sink] = acc
    return out


# --- margins ------------------------------------------------------------------------------
def revenue_and_cost(
    rows: Iterable[tuple[str, str, float, str]], capital_goods: Iterable[str]
) -> tuple[dict[str, float], dict[str, float]]:
    """Revenue and cost of goods sold per agent ($) from one tick's ledger rows (payer,
    payee, $, kind).

    revenue = $ received for goods (kinds ``spot:<good>``, ``contract:<good>``) and
    from outside (``revenue``: labs' value of compute); cost of goods sold = $ paid
    for goods that are not ``capital_goods`` (durables a buyer installs are capital
    spending, not a cost of this tick's sales) plus ``operating`` and ``transport``.
    """
    capital = set(capital_goods)
    revenue: dict[str, float] = defaultdict(float)
    cost: dict[str, float] = defaultdict(float)
    for payer, payee, amount, kind in rows:
        head, _, good = kind.partition(":")
        if head in ("spot", "contract") or kind in RENTED:
            revenue[payee] += amount
            if good not in capital:
                cost[payer] += amount
        elif kind == "revenue":
            revenue[payee] += amount
        elif kind in ("operating", "transport", "carbon", "clean_energy"):
            cost[payer] += amount
    return dict(revenue), dict(cost)


def gross_margins(
    rows: Iterable[tuple[str, str, float, str]], capital_goods: Iterable[str]
) -> dict[str, float]:
    """Gross margin per agent, (revenue - cost) / revenue (``revenue_and_cost``); NaN for
    an agent without revenue."""
    revenue, cost = revenue_and_cost(rows, capital_goods)
    return {
        a: (revenue.get(a, 0.0) - cost.get(a, 0.0)) / revenue[a]
        if revenue.get(a, 0.0) > 0
        else NAN_MARGIN
        for a in set(revenue) | set(cost)
    }


NAN_MARGIN = float("nan")


# --- the field's KPIs (ODD 7.16) -----------------------------------------------------------
#: Ledger kinds that are operating costs for the payer (with purchases of goods that are not
#: capital goods): running cost, transport and switching on routes, carbon price.
OPEX_KINDS = ("operating", "transport", "switching", "carbon", "clean_energy")

#: Ledger kinds that pay for compute outside ``spot:``/``contract:`` rows (ODD 7.17): a
#: lease's rent and a backstop's purchase of unsold compute; opex for the payer, revenue
#: for the payee.
RENTED = ("lease", "backstop")


def capex_opex_revenue(
    rows: Iterable[tuple[str, str, float, str]],
    capital_goods: Iterable[str],
    capital_purchases: Iterable[str] = (),
) -> dict[str, dict[str, float]]:
    """Capex, opex and revenue per agent ($ this tick) from one tick's ledger rows (payer,
    payee, $, kind): ``{"capex": {agent: $}, "opex": {...}, "revenue": {...}}``.

    capex = $ paid of kind ``capex`` (a supplier's new capacity) and for capital goods
    (``spot:<g>``/``contract:<g>`` with ``g`` in ``capital_goods``, or a kind in
    ``capital_purchases``); opex = $ paid of ``OPEX_KINDS`` and for goods that are not
    capital goods; revenue = $ received for goods and from outside (kind ``revenue``).
    Rent of a lease and a backstop's purchases (``RENTED``) count as compute bought and
    sold. Financing and transfers (prepayment, interest, deficiency, penalty, default,
    asset_sale, vendor_investment, funding, loan_loss, lease_funding, lease_purchase,
    residual_sale) are in none of them. Payments by and to ``<external>`` are kept under
    that name.
    """
    capital = set(capital_goods)
    purchases = set(capital_purchases)
    out: dict[str, dict[str, float]] = {"capex": {}, "opex": {}, "revenue": {}}
    capex, opex, revenue = out["capex"], out["opex"], out["revenue"]
    # Each kind's (payer's side, payee's side), worked out once per kind: few kinds, many rows.
    sides: dict[str, tuple[dict | None, dict | None]] = {}
    for payer, payee, amount, kind in rows:
        side = sides.get(kind)
        if side is None:
            head, _, good = kind.partition(":")
            if kind == "capex":
                side = (capex, None)
            elif kind in OPEX_KINDS:
                side = (opex, None)
            elif kind == "revenue":
                side = (None, revenue)
            elif kind in RENTED:
                side = (opex, revenue)
            elif head in ("spot", "contract"):
                side = (capex if good in capital or kind in purchases else opex, revenue)
            else:
                side = (None, None)
            sides[kind] = side
        paid, got = side
        if paid is not None:
            paid[payer] = paid.get(payer, 0.0) + amount
        if got is not None:
            got[payee] = got.get(payee, 0.0) + amount
    return out


def usable_capacity(
    fleet: float,
    grid_mw: float,
    shell_mw: float | None,
    mw_per_h100e: float,
    capacity_factor: float = 1.0,
) -> tuple[float, str]:
    """Usable H100e of an installed ``fleet`` and the limit that binds.

    usable = min(fleet, energised MW / mw_per_h100e) x capacity_factor, where energised
    MW = min(grid_mw, shell_mw) (just grid_mw when ``shell_mw`` is None: shells not
    modelled). The binding limit is ``"outage"`` when capacity_factor < 1, else
    ``"shell"`` or ``"power"`` when energised MW power fewer H100e than installed (shell
    when it is the smaller), else ``"fleet"`` (every installed H100e can run).
    Networking is bought with each install, so it limits installs, never usable capacity.
    """
    f = _quantity(fleet, "fleet")
    grid = _quantity(grid_mw, "grid_mw")
    shell = grid if shell_mw is None else _quantity(shell_mw, "shell_mw")
    if not mw_per_h100e > 0:
        raise ValueError(f"mw_per_h100e: must be > 0, got {mw_per_h100e!r}")
    powered_h100e = min(grid, shell) / mw_per_h100e
    powered = min(f, powered_h100e)
    if capacity_factor < 1.0:
        binding = "outage"
    elif powered_h100e < f:
        binding = "shell" if shell < grid else "power"
    else:
        binding = "fleet"
    return powered * capacity_factor, binding


def fleet_returns(
    revenue: float, opex: float, sold: float, fleet: float, capital_per_h100e: float,
    life_ticks: int,
) -> dict[str, float]:  # fmt: skip
    """Returns on a fleet's capital this tick (per tick, dimensionless; $ for ``idle_cost``).

    With capital k $ per installed H100e, straight-line depreciation d = k / life_ticks
    $ per H100e-tick, ``sold`` H100e rented out of ``fleet`` installed:

    - roi_served = (revenue - opex - d x sold) / (k x sold): the return on the H100e that
      served demand (NaN when nothing was sold);
    - idle_cost = d x (fleet - sold): $ of depreciation carried by idle H100e;
    - roi_fleet = (revenue - opex - d x fleet) / (k x fleet) (NaN for an empty fleet),
      so roi_fleet = roi_served x sold / fleet - idle_cost / (k x fleet).
    """
    k = _quantity(capital_per_h100e, "capital_per_h100e")
    s = _quantity(sold, "sold")
    f = _quantity(fleet, "fleet")
    if life_ticks <= 0:
        raise ValueError(f"life_ticks: must be >= 1, got {life_ticks!r}")
    d = k / life_ticks
    margin = revenue - opex
    return dict(
        roi_served=(margin - d * s) / (k * s) if s > 0 and k > 0 else math.nan,
        idle_cost=d * (f - s if f - s > REL_TOL * f else 0.0),  # rounding noise is not idle
        roi_fleet=(margin - d * f) / (k * f) if f > 0 and k > 0 else math.nan,
    )


SECONDS_PER_YEAR = 365.25 * 24 * 3600.0


def cost_per_mtok(price: float, tokens_per_s: float, ticks_per_year: int) -> float:
    """$ per million tokens from a compute price ($ per H100e-tick) and a throughput
    (tokens per H100e-second): price / (tokens_per_s x seconds per tick) x 1e6. NaN
    for a NaN price; ValueError for a throughput <= 0."""
    if not tokens_per_s > 0:
        raise ValueError(f"tokens_per_s: must be > 0, got {tokens_per_s!r}")
    seconds = SECONDS_PER_YEAR / ticks_per_year
    return price / (tokens_per_s * seconds) * 1e6


def top_holder(shares: Mapping[Node, float]) -> tuple[Node | None, float]:
    """(holder, share) of the largest entry of ``shares`` (ties: the first in sorted
    order); (None, 0.0) when it is empty or all zero. Shares are given, not normalised."""
    best, top = None, 0.0
    for k in sorted(shares, key=str):
        v = _quantity(shares[k], f"share of {k!r}")
        if v > top:
            best, top = k, v
    return best, top


def lab_dependency(
    compute: Mapping[Node, float], equity: Mapping[Node, float]
) -> tuple[Node | None, float, Node | None, float]:
    """A lab's dependency: (top provider, its share of the lab's compute received this
    tick, top equity holder, the share of the lab's equity it holds).

    ``compute``: H100e-quarters received by provider; ``equity``: shares of the lab given
    by holder (equity-for-compute, summed over contracts). The compute share is of the
    total received (0.0 and provider None when nothing was received)."""
    total = math.fsum(_quantity(q, f"compute from {k!r}") for k, q in compute.items())
    provider, q = top_holder(compute)
    holder, e = top_holder(equity)
    return provider, (q / total if total > 0 else 0.0), holder, e
