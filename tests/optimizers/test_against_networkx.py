"""The engine's welfare on single-good network markets equals networkx's min-cost flow.

A single-good book is a min-cost-flow problem: a super source feeds every ask
(capacity = quantity, cost = +ask price), every bid drains to a super sink
(capacity = quantity, cost = -bid price), routes are arcs (capacity, cost), and
a zero-cost bypass source -> sink lets any amount of supply stay unsold. The
maximum welfare is minus the minimum flow cost. The markets use integer data,
so ``networkx.network_simplex`` (integer arithmetic) is an exact oracle.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from markets import GOOD, random_single_good_market

from optimizers import Ask, Bid, OrderBook, Route, clear

SOURCE, SINK = "__source__", "__sink__"
SEEDS = range(120)


def _int(v: float) -> int:
    assert float(v).is_integer(), f"oracle needs integer data, got {v!r}"
    return int(v)


def min_cost_flow_welfare(book: OrderBook) -> tuple[float, dict]:
    """(max welfare, flow dict) of a single-good book, by networkx network simplex."""
    g = nx.MultiDiGraph()
    supply = sum(_int(a.quantity) for a in book.asks)
    g.add_node(SOURCE, demand=-supply)
    g.add_node(SINK, demand=supply)
    for agent in book.agents:
        g.add_node(("n", agent), demand=0)
    g.add_edge(SOURCE, SINK, capacity=supply, weight=0)
    for a in book.asks:
        g.add_edge(SOURCE, ("n", a.agent), capacity=_int(a.quantity), weight=_int(a.price))
    for b in book.bids:
        g.add_edge(("n", b.agent), SINK, capacity=_int(b.quantity), weight=-_int(b.price))
    for r in book.routes:
        if not r.allowed:
            continue
        attrs = {"weight": _int(r.cost)}
        if math.isfinite(r.capacity):
            attrs["capacity"] = _int(r.capacity)
        g.add_edge(("n", r.seller), ("n", r.buyer), **attrs)
    cost, flow = nx.network_simplex(g)
    return -float(cost), flow


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)


def _check_allocation(book: OrderBook, result) -> float:
    """The engine's allocation is feasible; returns the welfare it actually attains."""
    assert np.all(result.bid_fills >= -1e-9)
    assert np.all(result.bid_fills <= [b.quantity + 1e-9 for b in book.bids])
    assert np.all(result.ask_fills >= -1e-9)
    assert np.all(result.ask_fills <= [a.quantity + 1e-9 for a in book.asks])
    for r, f in zip(book.routes, result.route_flows):
        assert f >= -1e-9
        assert f <= (r.capacity if r.allowed else 0.0) + 1e-9, (r, f)
    net = dict.fromkeys(book.agents, 0.0)
    for a, f in zip(book.asks, result.ask_fills):
        net[a.agent] += f
    for b, f in zip(book.bids, result.bid_fills):
        net[b.agent] -= f
    for r, f in zip(book.routes, result.route_flows):
        net[r.seller] -= f
        net[r.buyer] += f
    for agent, v in net.items():
        assert abs(v) <= 1e-6, f"node {agent} does not balance: {v}"
    return (
        sum(b.price * f for b, f in zip(book.bids, result.bid_fills))
        - sum(a.price * f for a, f in zip(book.asks, result.ask_fills))
        - sum(r.cost * f for r, f in zip(book.routes, result.route_flows))
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_welfare_matches_min_cost_flow(seed: int) -> None:
    book = random_single_good_market(np.random.default_rng(seed))
    result = clear(book)
    expected, _ = min_cost_flow_welfare(book)
    assert _close(result.welfare, expected), (result.welfare, expected)
    attained = _check_allocation(book, result)
    assert _close(attained, expected), (attained, expected)


def test_generator_covers_closed_routes_and_trade() -> None:
    """The random markets exercise what the comparison claims to cover."""
    books = [random_single_good_market(np.random.default_rng(s)) for s in SEEDS]
    with_closed = sum(any(not r.allowed for r in b.routes) for b in books)
    with_inf = sum(any(math.isinf(r.capacity) for r in b.routes) for b in books)
    with_hubs = sum(any(a.startswith("H") for a in b.agents) for b in books)
    trading = sum(min_cost_flow_welfare(b)[0] > 0 for b in books)
    assert with_closed >= 20
    assert with_inf >= 50
    assert with_hubs >= 30
    assert trading >= 60


@pytest.mark.parametrize("seed", range(30))
def test_closing_used_routes_matches_network_without_them(seed: int) -> None:
    """Close every route that carried flow; the welfare matches the pruned network."""
    rng = np.random.default_rng(1000 + seed)
    for _ in range(50):  # the first random market in which some route carries flow
        book = random_single_good_market(rng)
        first = clear(book)
        used = first.route_flows > 1e-9
        if used.any():
            break
    assert used.any()
    closed = OrderBook(
        bids=book.bids,
        asks=book.asks,
        routes=tuple(
            Route(r.seller, r.buyer, r.good, r.capacity, r.cost, allowed=r.allowed and not u)
            for r, u in zip(book.routes, used)
        ),
        agents=book.agents,
    )
    result = clear(closed)
    expected, _ = min_cost_flow_welfare(closed)
    assert _close(result.welfare, expected), (result.welfare, expected)
    assert np.all(result.route_flows[used] == 0.0)
    assert result.welfare <= first.welfare + 1e-6
    _check_allocation(closed, result)


def test_closed_route_blocks_the_only_path() -> None:
    """Hand-made: a cheap seller reachable only by a closed route; trade goes to the dear one."""
    book = OrderBook(
        bids=(Bid("B", GOOD, 10.0, 20.0),),
        asks=(Ask("S_cheap", GOOD, 10.0, 2.0), Ask("S_dear", GOOD, 4.0, 15.0)),
        routes=(
            Route("S_cheap", "B", GOOD, math.inf, 1.0, allowed=False),
            Route("S_dear", "B", GOOD, math.inf, 1.0),
        ),
    )
    result = clear(book)
    expected, _ = min_cost_flow_welfare(book)
    assert _close(expected, 4 * (20 - 15 - 1))
    assert _close(result.welfare, expected)
    assert result.route_flows[0] == 0.0
    assert math.isclose(result.route_flows[1], 4.0, abs_tol=1e-9)
