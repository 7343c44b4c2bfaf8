"""Prices and allocations satisfy the LP optimality conditions, checked from the book alone.

The node price p is the dual of the balance row (a seller there is paid p), so
for the welfare-maximising LP of ``form.py``:

- bid filled at all -> bid price >= p; bid not completely filled -> bid price <= p;
- ask sold at all -> ask price <= p; ask not completely sold -> ask price >= p;
- route s -> b carrying flow -> p_b - p_s >= cost; route below capacity -> p_b - p_s <= cost
  (so a route strictly between 0 and capacity has p_b - p_s == cost);
- recipe active -> p_out - sum_g r_g p_g >= cost; below capacity -> <= cost;
- every node balances: asks + inflows + recipe output == bids + outflows + recipe inputs;
- welfare is bid value - ask cost - recipe cost - route cost of the allocation, and equals
  the dual objective sum_j upper_j * max(0, reduced value_j) (strong duality).

With nonnegative prices and costs and no commitments, the least-norm price rule gives
nonnegative prices: raising any negative price to 0 stays on the optimal dual face.
In a pure network (no recipes) the conditions above are difference constraints
p_v >= p_u + w, so the face has a componentwise least nonnegative point, found as
longest-path distances from a zero-price root; ``prices.py`` promises that point.
"""

from __future__ import annotations

import math
from collections import defaultdict
from functools import cache

import networkx as nx
import numpy as np
import pytest
from markets import random_chain_market, random_single_good_market

from optimizers import Clearing, OrderBook, clear

SINGLE_SEEDS = range(150)
CHAIN_SEEDS = range(150)
CASES = [("single", s) for s in SINGLE_SEEDS] + [("chain", s) for s in CHAIN_SEEDS]
GENERATORS = {"single": random_single_good_market, "chain": random_chain_market}
# The engine counts a value within 1e-6 * max(1, |bound|) of a bound as at it; classifying
# with a 10x wider band keeps our "strictly inside" a subset of the engine's.
X_REL = 1e-5
P_REL = 1e-6


@cache
def cleared(kind: str, seed: int) -> tuple[OrderBook, Clearing]:
    book = GENERATORS[kind](np.random.default_rng(seed))
    return book, clear(book)


def price_scale(book: OrderBook) -> float:
    values = [o.price for o in (*book.bids, *book.asks)]
    values += [r.cost for r in (*book.routes, *book.recipes)]
    return max([1.0, *values])


def above_lower(x: float) -> bool:
    return x > X_REL


def below_upper(x: float, upper: float) -> bool:
    return math.isinf(upper) or x < upper - X_REL * max(1.0, upper)


def route_upper(route) -> float:
    return route.capacity if route.allowed else 0.0


def book_nodes(book: OrderBook) -> set:
    nodes = {(o.agent, o.good) for o in (*book.bids, *book.asks)}
    for r in book.recipes:
        nodes.add((r.agent, r.output))
        nodes.update((r.agent, g) for g in r.inputs)
    for r in book.routes:
        nodes.update({(r.seller, r.good), (r.buyer, r.good)})
    return nodes


ids = [f"{k}-{s}" for k, s in CASES]


@pytest.mark.parametrize(("kind", "seed"), CASES, ids=ids)
def test_bid_and_ask_conditions(kind: str, seed: int) -> None:
    book, res = cleared(kind, seed)
    tol = P_REL * price_scale(book)
    for bid, x in zip(book.bids, res.bid_fills):
        p = res.prices[(bid.agent, bid.good)]
        if above_lower(x):
            assert bid.price >= p - tol, f"filled bid {bid} ({x}) pays {p} above its price"
        if below_upper(x, bid.quantity):
            assert bid.price <= p + tol, f"unfilled bid {bid} ({x}) outbids price {p}"
    for ask, x in zip(book.asks, res.ask_fills):
        p = res.prices[(ask.agent, ask.good)]
        if above_lower(x):
            assert ask.price <= p + tol, f"sold ask {ask} ({x}) paid {p} below its price"
        if below_upper(x, ask.quantity):
            assert ask.price >= p - tol, f"unsold ask {ask} ({x}) undercuts price {p}"


@pytest.mark.parametrize(("kind", "seed"), CASES, ids=ids)
def test_route_conditions(kind: str, seed: int) -> None:
    book, res = cleared(kind, seed)
    tol = P_REL * price_scale(book)
    for r, x in zip(book.routes, res.route_flows):
        spread = res.prices[(r.buyer, r.good)] - res.prices[(r.seller, r.good)]
        upper = route_upper(r)
        if above_lower(x):
            assert spread >= r.cost - tol, f"{r} carries {x} at spread {spread}"
        if below_upper(x, upper):
            assert spread <= r.cost + tol, f"{r} carries only {x} at spread {spread}"
        if above_lower(x) and below_upper(x, upper):
            assert math.isclose(spread, r.cost, abs_tol=tol)


@pytest.mark.parametrize("seed", CHAIN_SEEDS)
def test_recipe_conditions(seed: int) -> None:
    book, res = cleared("chain", seed)
    for r, x in zip(book.recipes, res.recipe_activity):
        margin = res.prices[(r.agent, r.output)] - sum(
            units * res.prices[(r.agent, g)] for g, units in r.inputs.items()
        )
        tol = P_REL * price_scale(book) * (1 + sum(r.inputs.values()))
        if above_lower(x):
            assert margin >= r.cost - tol, f"{r} runs at {x} with margin {margin}"
        if below_upper(x, r.capacity):
            assert margin <= r.cost + tol, f"{r} idles at {x} with margin {margin}"
        if above_lower(x) and below_upper(x, r.capacity):
            assert math.isclose(margin, r.cost, abs_tol=tol)


@pytest.mark.parametrize(("kind", "seed"), CASES, ids=ids)
def test_every_node_balances(kind: str, seed: int) -> None:
    book, res = cleared(kind, seed)
    nodes = book_nodes(book)
    assert set(res.nodes) == nodes
    assert set(res.prices) == nodes
    sources: dict = defaultdict(float)
    uses: dict = defaultdict(float)
    for a, x in zip(book.asks, res.ask_fills):
        sources[(a.agent, a.good)] += x
    for b, x in zip(book.bids, res.bid_fills):
        uses[(b.agent, b.good)] += x
    for r, x in zip(book.routes, res.route_flows):
        uses[(r.seller, r.good)] += x
        sources[(r.buyer, r.good)] += x
    for r, x in zip(book.recipes, res.recipe_activity):
        sources[(r.agent, r.output)] += x
        for g, units in r.inputs.items():
            uses[(r.agent, g)] += units * x
    for n in nodes:
        scale = max(1.0, sources[n], uses[n])
        assert abs(sources[n] - uses[n]) <= 1e-6 * scale, (n, sources[n], uses[n])


@pytest.mark.parametrize("seed", CHAIN_SEEDS)
def test_recipe_inputs_arrive_in_proportion(seed: int) -> None:
    """Each designer's only use of an input is its recipe: net receipts = ratio * activity."""
    book, res = cleared("chain", seed)
    received: dict = defaultdict(float)
    for r, x in zip(book.routes, res.route_flows):
        received[(r.buyer, r.good)] += x
        received[(r.seller, r.good)] -= x
    for r, x in zip(book.recipes, res.recipe_activity):
        per_unit = [received[(r.agent, g)] / units for g, units in r.inputs.items()]
        assert np.allclose(per_unit, x, rtol=1e-6, atol=1e-6), (r, x, per_unit)


@pytest.mark.parametrize(("kind", "seed"), CASES, ids=ids)
def test_prices_nonnegative(kind: str, seed: int) -> None:
    book, res = cleared(kind, seed)
    tol = P_REL * price_scale(book)
    negative = {n: p for n, p in res.prices.items() if p < -tol}
    assert not negative


@pytest.mark.parametrize(("kind", "seed"), CASES, ids=ids)
def test_welfare_is_value_of_allocation(kind: str, seed: int) -> None:
    book, res = cleared(kind, seed)
    value = (
        sum(b.price * x for b, x in zip(book.bids, res.bid_fills))
        - sum(a.price * x for a, x in zip(book.asks, res.ask_fills))
        - sum(r.cost * x for r, x in zip(book.recipes, res.recipe_activity))
        - sum(r.cost * x for r, x in zip(book.routes, res.route_flows))
    )
    gross = sum(b.price * b.quantity for b in book.bids) + 1.0
    assert math.isclose(res.welfare, value, rel_tol=1e-9, abs_tol=1e-9 * gross)


@pytest.mark.parametrize(("kind", "seed"), CASES, ids=ids)
def test_strong_duality(kind: str, seed: int) -> None:
    """Welfare == sum over columns of upper bound * positive part of (value - price terms)."""
    book, res = cleared(kind, seed)
    p = res.prices
    tol = P_REL * price_scale(book)
    dual = 0.0
    terms: list[tuple[float, float]] = [
        (b.quantity, b.price - p[(b.agent, b.good)]) for b in book.bids
    ]
    terms += [(a.quantity, p[(a.agent, a.good)] - a.price) for a in book.asks]
    terms += [
        (route_upper(r), p[(r.buyer, r.good)] - p[(r.seller, r.good)] - r.cost) for r in book.routes
    ]
    terms += [
        (
            r.capacity,
            p[(r.agent, r.output)] - sum(u * p[(r.agent, g)] for g, u in r.inputs.items()) - r.cost,
        )
        for r in book.recipes
    ]
    for upper, rent in terms:
        if upper == 0.0:
            continue
        if math.isinf(upper):
            assert rent <= tol * 100, "positive rent on an unbounded column"
            continue
        dual += upper * max(rent, 0.0)
    gross = sum(b.price * b.quantity for b in book.bids) + 1.0
    assert math.isclose(res.welfare, dual, rel_tol=1e-6, abs_tol=1e-6 * gross), (res.welfare, dual)


def test_cases_cover_interesting_states() -> None:
    """The random books reach partial fills, binding capacities and active recipes."""
    partial_routes = at_cap_routes = active_recipes = capped_recipes = 0
    for kind, seed in CASES:
        book, res = cleared(kind, seed)
        for r, x in zip(book.routes, res.route_flows):
            if above_lower(x) and below_upper(x, route_upper(r)):
                partial_routes += 1
            if above_lower(x) and not below_upper(x, route_upper(r)):
                at_cap_routes += 1
        for r, x in zip(book.recipes, res.recipe_activity):
            active_recipes += above_lower(x)
            capped_recipes += above_lower(x) and not below_upper(x, r.capacity)
    assert partial_routes >= 50
    assert at_cap_routes >= 50
    assert active_recipes >= 50
    assert capped_recipes >= 10


def least_network_prices(book: OrderBook, res: Clearing) -> dict:
    """Componentwise least nonnegative prices meeting the conditions, via Bellman-Ford.

    Each condition is p_v >= p_u + w, an arc u -> v of weight w; ROOT has price 0.
    The least solution is the longest-path distance from ROOT (shortest with -w).
    """
    root = "__root__"
    g = nx.DiGraph()

    def arc(u, v, w: float) -> None:  # p_v >= p_u + w, stored as weight -w (keep the tightest)
        if not g.has_edge(u, v) or g[u][v]["neg"] > -w:
            g.add_edge(u, v, neg=-w)

    for n in book_nodes(book):
        arc(root, n, 0.0)
    for b, x in zip(book.bids, res.bid_fills):
        n = (b.agent, b.good)
        if above_lower(x):
            arc(n, root, -b.price)
        if below_upper(x, b.quantity):
            arc(root, n, b.price)
    for a, x in zip(book.asks, res.ask_fills):
        n = (a.agent, a.good)
        if above_lower(x):
            arc(root, n, a.price)
        if below_upper(x, a.quantity):
            arc(n, root, -a.price)
    for r, x in zip(book.routes, res.route_flows):
        s, b = (r.seller, r.good), (r.buyer, r.good)
        if above_lower(x):
            arc(s, b, r.cost)
        if below_upper(x, route_upper(r)):
            arc(b, s, -r.cost)
    dist = nx.single_source_bellman_ford_path_length(g, root, weight="neg")
    assert abs(dist[root]) <= 1e-9
    return {n: -d for n, d in dist.items() if n != root}


@pytest.mark.parametrize("seed", SINGLE_SEEDS)
def test_single_good_prices_are_least_clearing(seed: int) -> None:
    book, res = cleared("single", seed)
    tol = P_REL * price_scale(book)
    least = least_network_prices(book, res)
    for n, p in res.prices.items():
        assert math.isclose(p, least[n], abs_tol=tol), (n, p, least[n])
