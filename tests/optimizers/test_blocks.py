"""All-or-nothing blocks: fill-or-kill ratios, brute-force optimality and block-node prices.

The brute-force oracle is written here from the book's meaning, not from
``optimizers/form.py``: for every accept/reject pattern of the blocks it solves
the continuous market as an LP (own matrix, passed straight to highspy) with
each accepted block's ratio in [min_ratio, 1] and each rejected one at 0, and
the best pattern's welfare must equal the engine's.
"""

from __future__ import annotations

import itertools
import math

import highspy
import numpy as np
import pytest

from optimizers import (
    Ask,
    Bid,
    Block,
    Clearer,
    Clearing,
    OrderBook,
    Recipe,
    Route,
    clear,
)

BACKENDS = ["pyomo", "highspy"]
AGENTS = ("a", "b", "c")
GOODS = ("g", "h")


# --- the independent oracle ---------------------------------------------------------------
def lp_max(c, lo, hi, a, row_lo, row_hi):
    """max c @ x s.t. row_lo <= a @ x <= row_hi, lo <= x <= hi (dense ``a``); None if infeasible."""
    a = np.asarray(a, dtype=np.float64).reshape(len(row_lo), len(c))
    lp = highspy.HighsLp()
    lp.num_col_ = len(c)
    lp.num_row_ = len(row_lo)
    lp.col_cost_ = np.asarray(c, dtype=np.float64)
    lp.col_lower_ = np.asarray(lo, dtype=np.float64)
    lp.col_upper_ = np.asarray(hi, dtype=np.float64)
    lp.row_lower_ = np.asarray(row_lo, dtype=np.float64)
    lp.row_upper_ = np.asarray(row_hi, dtype=np.float64)
    starts, index, value = [0], [], []
    for j in range(len(c)):
        nz = np.flatnonzero(a[:, j])
        index.extend(nz.tolist())
        value.extend(a[nz, j].tolist())
        starts.append(len(index))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.asarray(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.asarray(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.asarray(value, dtype=np.float64)
    lp.sense_ = highspy.ObjSense.kMaximize
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return None
    assert status == highspy.HighsModelStatus.kOptimal, h.modelStatusToString(status)
    return float(h.getInfo().objective_function_value)


def oracle_welfare(book: OrderBook, accepted: tuple[bool, ...]) -> float | None:
    """Best welfare with the blocks' decisions fixed to ``accepted``; None if infeasible.

    Columns: bids, asks, recipes, routes, accepted blocks' ratios. One row per
    (agent, good): demand (bids, outflows, recipe inputs, block bids) equals
    supply (asks, inflows, recipe outputs, block asks).
    """
    nodes = {(ag, g): k for k, (ag, g) in enumerate(itertools.product(book.agents, book.goods))}
    cols: list[tuple[float, float, float, dict]] = []  # (objective, lower, upper, {node: coef})
    for b in book.bids:
        cols.append((b.price, 0.0, b.quantity, {(b.agent, b.good): 1.0}))
    for s in book.asks:
        cols.append((-s.price, 0.0, s.quantity, {(s.agent, s.good): -1.0}))
    for r in book.recipes:
        coef = {(r.agent, g): float(u) for g, u in r.inputs.items()}
        coef[(r.agent, r.output)] = -1.0
        cols.append((-r.cost, 0.0, r.capacity, coef))
    for rt in book.routes:
        upper = rt.capacity if rt.allowed else 0.0
        coef = {(rt.seller, rt.good): 1.0, (rt.buyer, rt.good): -1.0}
        cols.append((-rt.cost, 0.0, upper, coef))
    for blk, acc in zip(book.blocks, accepted, strict=True):
        if not acc:
            continue
        coef: dict = {}
        for o in blk.bids:
            coef[(o.agent, o.good)] = coef.get((o.agent, o.good), 0.0) + o.quantity
        for o in blk.asks:
            coef[(o.agent, o.good)] = coef.get((o.agent, o.good), 0.0) - o.quantity
        value = sum(o.price * o.quantity for o in blk.bids)
        value -= sum(o.price * o.quantity for o in blk.asks)
        cols.append((value, blk.min_ratio, 1.0, coef))
    a = np.zeros((len(nodes), len(cols)))
    for j, (_, _, _, coef) in enumerate(cols):
        for node, v in coef.items():
            a[nodes[node], j] += v
    zeros = np.zeros(len(nodes))
    return lp_max(
        [col[0] for col in cols],
        [col[1] for col in cols],
        [col[2] for col in cols],
        a,
        zeros,
        zeros,
    )


def brute_force(book: OrderBook) -> tuple[float, dict]:
    """Best welfare over all accept/reject patterns, and every pattern's value."""
    values = {}
    for pattern in itertools.product((False, True), repeat=len(book.blocks)):
        values[pattern] = oracle_welfare(book, pattern)
    best = max(v for v in values.values() if v is not None)
    return best, values


def close(a: float, b: float, tol: float = 1e-7) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


# --- random instances ---------------------------------------------------------------------
def random_book(rng: np.random.Generator, min_ratios=(1.0,)) -> OrderBook:
    def node():
        return str(rng.choice(AGENTS)), str(rng.choice(GOODS))

    def order(kind, lo_price, hi_price):
        ag, g = node()
        return kind(ag, g, float(rng.integers(1, 9)), float(rng.integers(lo_price, hi_price)))

    bids = tuple(order(Bid, 5, 30) for _ in range(rng.integers(1, 5)))
    asks = tuple(order(Ask, 1, 12) for _ in range(rng.integers(1, 5)))
    recipes = ()
    if rng.random() < 0.6:
        recipes = (
            Recipe(
                "b",
                "h",
                {"g": float(rng.choice([1.0, 2.0]))},
                capacity=float(rng.choice([3.0, 6.0, math.inf])),
                cost=float(rng.integers(0, 4)),
            ),
        )
    routes = []
    for seller, buyer in itertools.permutations(AGENTS, 2):
        for g in GOODS:
            if rng.random() < 0.5:
                routes.append(
                    Route(
                        seller,
                        buyer,
                        g,
                        capacity=float(rng.choice([2.0, 5.0, 10.0, math.inf])),
                        cost=float(rng.integers(0, 3)),
                        allowed=bool(rng.random() > 0.15),
                    )
                )
    blocks = []
    all_nodes = list(itertools.product(AGENTS, GOODS))
    for k in range(rng.integers(1, 5)):
        nb = int(rng.integers(0, 3))
        na = int(rng.integers(0 if nb else 1, 3))
        # Orders of one block may share a node (drawn with replacement).
        picks = [all_nodes[i] for i in rng.integers(0, len(all_nodes), nb + na)]

        def placed(kind, where, lo_price, hi_price):
            q, p = float(rng.integers(1, 9)), float(rng.integers(lo_price, hi_price))
            return kind(where[0], where[1], q, p)

        blocks.append(
            Block(
                f"blk{k}",
                bids=tuple(placed(Bid, w, 10, 35) for w in picks[:nb]),
                asks=tuple(placed(Ask, w, 1, 10) for w in picks[nb:]),
                min_ratio=float(rng.choice(min_ratios)),
            )
        )
    return OrderBook(
        bids=bids,
        asks=asks,
        recipes=recipes,
        routes=tuple(routes),
        blocks=tuple(blocks),
        agents=AGENTS,
        goods=GOODS,
    )


def check_against_brute_force(book: OrderBook, r: Clearing) -> None:
    best, values = brute_force(book)
    assert close(r.welfare, best), (r.welfare, best, values)
    # The engine's own acceptance pattern is feasible and worth what it reports.
    ratios = np.asarray(r.block_ratios)
    pattern = tuple(bool(x > 0.5 * blk.min_ratio) for x, blk in zip(ratios, book.blocks))
    assert values[pattern] is not None
    assert close(values[pattern], r.welfare)
    for blk, ratio, bid_fills, ask_fills in zip(
        book.blocks, ratios, r.block_bid_fills, r.block_ask_fills, strict=True
    ):
        assert ratio <= 1e-9 or blk.min_ratio - 1e-9 <= ratio <= 1 + 1e-9, (ratio, blk.min_ratio)
        np.testing.assert_allclose(bid_fills, [ratio * o.quantity for o in blk.bids], atol=1e-9)
        np.testing.assert_allclose(ask_fills, [ratio * o.quantity for o in blk.asks], atol=1e-9)
    # Every node a block touches has a finite price.
    for blk in book.blocks:
        for o in (*blk.bids, *blk.asks):
            assert math.isfinite(r.price(o.agent, o.good))


@pytest.mark.parametrize("backend", BACKENDS)
def test_fill_or_kill_blocks_match_brute_force(backend):
    rng = np.random.default_rng(20240601)
    clearer = Clearer(backend=backend)
    accepted = rejected = 0
    for _ in range(40):
        book = random_book(rng)
        r = clearer.clear(book)
        assert r.status == "optimal"
        for ratio in r.block_ratios:
            assert min(abs(ratio), abs(ratio - 1.0)) <= 1e-9, ratio
        check_against_brute_force(book, r)
        accepted += int(np.sum(r.block_ratios > 0.5))
        rejected += int(np.sum(r.block_ratios < 0.5))
    # The instances exercise both outcomes.
    assert accepted >= 10 and rejected >= 10, (accepted, rejected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_partial_blocks_match_brute_force(backend):
    rng = np.random.default_rng(7)
    clearer = Clearer(backend=backend)
    interior = 0
    for _ in range(40):
        book = random_book(rng, min_ratios=(0.25, 0.5, 0.75, 1.0))
        r = clearer.clear(book)
        check_against_brute_force(book, r)
        interior += int(np.sum((r.block_ratios > 1e-6) & (r.block_ratios < 1 - 1e-6)))
    assert interior >= 3, interior  # some blocks are accepted at a partial ratio


# --- hand-sized cases ---------------------------------------------------------------------
def single_block_book(supply: float, min_ratio: float = 1.0) -> OrderBook:
    # A block bid for 10 units at $20 at b; a continuous ask of `supply` at $5 at a.
    return OrderBook(
        asks=(Ask("a", "g", supply, 5.0),),
        routes=(Route("a", "b", "g"),),
        blocks=(Block("x", bids=(Bid("b", "g", 10.0, 20.0),), min_ratio=min_ratio),),
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("supply", "min_ratio", "ratio", "welfare"),
    [
        (6.0, 1.0, 0.0, 0.0),  # only 6 of 10 available: killed
        (9.999, 1.0, 0.0, 0.0),
        (10.0, 1.0, 1.0, 150.0),  # 10 * (20 - 5)
        (25.0, 1.0, 1.0, 150.0),
        (6.0, 0.5, 0.6, 90.0),  # partial: 6 * (20 - 5)
        (4.0, 0.5, 0.0, 0.0),  # 0.4 < min_ratio
        (5.0, 0.5, 0.5, 75.0),
    ],
)
def test_single_block_bid(backend, supply, min_ratio, ratio, welfare):
    r = Clearer(backend=backend).clear(single_block_book(supply, min_ratio))
    assert abs(r.block_ratios[0] - ratio) <= 1e-9
    np.testing.assert_allclose(r.block_bid_fills[0], [10.0 * ratio], atol=1e-8)
    np.testing.assert_allclose(r.ask_fills, [10.0 * ratio], atol=1e-8)
    assert close(r.welfare, welfare, 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_block_competes_with_a_continuous_bid(backend):
    # 10 units at $1. Continuous bid 6 @ $15, block bid 8 @ $12 (fill-or-kill), one node.
    # Accept: 8*12 + 2*15 - 10 = 116; reject: 6*15 - 6 = 84 -> accept.
    book = OrderBook(
        asks=(Ask("a", "g", 10.0, 1.0),),
        bids=(Bid("a", "g", 6.0, 15.0),),
        blocks=(Block("x", bids=(Bid("a", "g", 8.0, 12.0),)),),
    )
    r = Clearer(backend=backend).clear(book)
    assert abs(r.block_ratios[0] - 1.0) <= 1e-9
    np.testing.assert_allclose(r.bid_fills, [2.0], atol=1e-8)
    assert close(r.welfare, 116.0, 1e-9)
    # The continuous bid is partly filled, so it sets the node's price.
    assert close(r.price("a", "g"), 15.0, 1e-6)

    # With the block bid at $10 instead: accept 8*10 + 30 - 10 = 100 > 84 still; at $8:
    # 64 + 30 - 10 = 84 = reject -> tie; at $7: 56 + 20 = 76 < 84 -> reject.
    cheap = OrderBook(
        asks=book.asks, bids=book.bids, blocks=(Block("x", bids=(Bid("a", "g", 8.0, 7.0),)),)
    )
    r = Clearer(backend=backend).clear(cheap)
    assert abs(r.block_ratios[0]) <= 1e-9
    np.testing.assert_allclose(r.bid_fills, [6.0], atol=1e-8)
    assert close(r.welfare, 84.0, 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_block_with_bids_and_asks_is_one_decision(backend):
    # A processing block: sells 4 g at a ($3 each) and buys 4 h at c ($9 each), value
    # 4*9 - 4*3 = 24. c sells h at $2 and a buys g at $1, both plentiful. Accepting earns
    # 24 + 4*1 (g sold at a) - 4*2 (h bought at c) = 20; rejecting leaves nothing to trade.
    book = OrderBook(
        asks=(Ask("c", "h", 100.0, 2.0),),
        bids=(Bid("a", "g", 100.0, 1.0),),
        blocks=(Block("x", bids=(Bid("c", "h", 4.0, 9.0),), asks=(Ask("a", "g", 4.0, 3.0),)),),
    )
    r = Clearer(backend=backend).clear(book)
    assert abs(r.block_ratios[0] - 1.0) <= 1e-9
    np.testing.assert_allclose(r.block_bid_fills[0], [4.0], atol=1e-9)
    np.testing.assert_allclose(r.block_ask_fills[0], [4.0], atol=1e-9)
    np.testing.assert_allclose(r.bid_fills, [4.0], atol=1e-8)
    np.testing.assert_allclose(r.ask_fills, [4.0], atol=1e-8)
    assert close(r.welfare, 20.0, 1e-9)

    # If nobody buys g at a, the block's ask cannot be placed, so the whole block is killed
    # even though its bid side alone would gain 4 * (9 - 2).
    nobody = OrderBook(asks=book.asks, blocks=book.blocks, bids=(Bid("a", "g", 3.0, 1.0),))
    r = Clearer(backend=backend).clear(nobody)
    assert abs(r.block_ratios[0]) <= 1e-9
    np.testing.assert_allclose(r.ask_fills, [0.0], atol=1e-8)
    assert close(r.welfare, 0.0, 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_prices_exist_at_block_nodes(backend):
    # Block ask of 5 g at a ($2) moves over a free route to b, where a continuous bid of
    # 10 @ $10 is partly filled: price at b is 10, and (interior route flow) at a too.
    # A second block bid at c for h has no supply and is rejected; its node still gets a price.
    book = OrderBook(
        bids=(Bid("b", "g", 10.0, 10.0),),
        routes=(Route("a", "b", "g"),),
        blocks=(
            Block("sell", asks=(Ask("a", "g", 5.0, 2.0),)),
            Block("buy", bids=(Bid("c", "h", 3.0, 7.0),)),
        ),
    )
    r = Clearer(backend=backend).clear(book)
    np.testing.assert_allclose(r.block_ratios, [1.0, 0.0], atol=1e-9)
    assert close(r.welfare, 5 * 10.0 - 5 * 2.0, 1e-9)
    assert set(r.prices) == {("a", "g"), ("b", "g"), ("c", "h")}
    assert close(r.price("b", "g"), 10.0, 1e-6)
    assert close(r.price("a", "g"), 10.0, 1e-6)
    assert math.isfinite(r.price("c", "h"))
    assert len(r.price_array) == len(r.nodes) == 3


def test_block_ratio_is_zero_or_one_under_clear():
    # A block whose acceptance is worth exactly 0 either way still reports 0 or 1.
    book = OrderBook(
        asks=(Ask("a", "g", 3.0, 4.0),),
        blocks=(Block("x", bids=(Bid("a", "g", 3.0, 4.0),)),),
    )
    r = clear(book)
    assert min(abs(r.block_ratios[0]), abs(r.block_ratios[0] - 1.0)) <= 1e-9
    assert close(r.welfare, 0.0, 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_block_with_two_orders_at_one_node(backend):
    # Regression (duplicate matrix entries made HiGHS return status 'Empty').
    # A stepped block bid: 2 units at $5 and 3 at $4, both at a; 10 units offered at $1.
    # Accepting: 2*5 + 3*4 - 5*1 = 17.
    book = OrderBook(
        asks=(Ask("a", "g", 10.0, 1.0),),
        blocks=(Block("x", bids=(Bid("a", "g", 2.0, 5.0), Bid("a", "g", 3.0, 4.0))),),
    )
    r = Clearer(backend=backend).clear(book)
    assert abs(r.block_ratios[0] - 1.0) <= 1e-9
    np.testing.assert_allclose(r.block_bid_fills[0], [2.0, 3.0], atol=1e-9)
    assert close(r.welfare, 17.0, 1e-9)
    # Only 4 units on offer: the block (5 units) is killed.
    short = OrderBook(asks=(Ask("a", "g", 4.0, 1.0),), blocks=book.blocks)
    r = Clearer(backend=backend).clear(short)
    assert abs(r.block_ratios[0]) <= 1e-9
    assert close(r.welfare, 0.0, 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_block_bid_and_ask_at_one_node_net_out(backend):
    # A block that buys 5 and sells 3 at the same node nets to 2 units of demand there:
    # value 5*10 - 3*4 = 38; the 2 net units come from an ask at $6 -> 38 - 12 = 26.
    book = OrderBook(
        asks=(Ask("a", "g", 2.0, 6.0),),
        blocks=(Block("x", bids=(Bid("a", "g", 5.0, 10.0),), asks=(Ask("a", "g", 3.0, 4.0),)),),
    )
    r = Clearer(backend=backend).clear(book)
    assert abs(r.block_ratios[0] - 1.0) <= 1e-9
    np.testing.assert_allclose(r.ask_fills, [2.0], atol=1e-8)
    assert close(r.welfare, 26.0, 1e-9)
