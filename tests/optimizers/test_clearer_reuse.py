"""One persistent, warm-started ``Clearer`` agrees with fresh cold builds, tick after tick.

The market is deliberately degenerate (equal asks at one node, supply exactly
meeting demand, parallel routes of equal cost, a recipe, a contract on a shared
route), so the LP has many optimal bases and warm and cold solves land on
different vertices. Welfare and prices (the price rule) must not depend on
that; fills are compared only where they are unique, which an independent LP
(written here from the book's meaning) decides by minimising and maximising
each fill over the optimal face.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from optimizers import (
    Ask,
    Bid,
    Block,
    Clearer,
    Clearing,
    Commitment,
    OrderBook,
    Recipe,
    Route,
    SolverOptions,
)
from optimizers.testing import Face, assert_fills_on_face, close

AGENTS = ("fab", "hubA", "hubB", "designer", "memco", "lab", "cloud", "spot")
GOODS = ("wafer", "hbm", "chip")
N_TICKS = 50


# --- the market ---------------------------------------------------------------------------
def market(rng: np.random.Generator | None = None) -> OrderBook:
    """The degenerate market; ``rng`` draws new numbers on the same shape (None: base numbers).

    Degeneracy kept under every draw: the three fab asks share one price; both legs of
    the two parallel paths fab->hubA->designer and fab->hubB->designer share one cost;
    the spot ask and bid have the same quantity (supply exactly meets demand there).
    """

    def draw(base, *choices):
        return float(base if rng is None else rng.choice(choices))

    def draw_int(base, lo, hi):
        return float(base if rng is None else rng.integers(lo, hi + 1))

    def allowed():
        return True if rng is None else bool(rng.random() > 0.2)

    wafer_price = draw_int(2, 1, 5)
    leg_cost = draw_int(1, 0, 2)
    leg_cap = draw(math.inf, 4.0, 8.0, math.inf)
    spot_q = draw_int(5, 1, 8)
    chip_price = draw_int(60, 20, 80)
    return OrderBook(
        asks=(
            Ask("fab", "wafer", draw_int(6, 2, 9), wafer_price),
            Ask("fab", "wafer", draw_int(6, 2, 9), wafer_price),
            Ask("fab", "wafer", draw_int(6, 2, 9), wafer_price),
            Ask("memco", "hbm", draw_int(10, 2, 12), draw_int(3, 1, 6)),
            Ask("spot", "hbm", spot_q, draw_int(3, 1, 4)),
        ),
        bids=(
            Bid("lab", "chip", draw_int(4, 1, 8), chip_price),
            # cloud often bids exactly what lab bids
            Bid(
                "cloud",
                "chip",
                draw_int(4, 1, 8),
                chip_price if rng is None or rng.random() < 0.5 else draw_int(40, 20, 80),
            ),
            Bid("spot", "hbm", spot_q, draw_int(8, 5, 9)),
        ),
        recipes=(
            Recipe(
                "designer",
                "chip",
                {"wafer": 2.0, "hbm": 1.0},
                capacity=draw(10.0, 3.0, 6.0, 10.0, math.inf),
                cost=draw_int(4, 0, 6),
            ),
        ),
        routes=(
            Route("fab", "hubA", "wafer", capacity=leg_cap, cost=leg_cost, allowed=allowed()),
            Route("fab", "hubB", "wafer", capacity=leg_cap, cost=leg_cost, allowed=allowed()),
            Route("hubA", "designer", "wafer", cost=leg_cost),
            Route("hubB", "designer", "wafer", cost=leg_cost),
            Route(
                "memco",
                "designer",
                "hbm",
                capacity=draw(6.0, 2.0, 4.0, 6.0),
                cost=draw_int(1, 0, 2),
                allowed=allowed(),
            ),
            Route("designer", "lab", "chip", cost=draw_int(1, 0, 2), allowed=allowed()),
            Route("designer", "cloud", "chip", cost=draw_int(1, 0, 2)),
        ),
        commitments=(
            # An hbm contract on the memco->designer route shares its capacity.
            Commitment("hbm-contract", "memco", "designer", "hbm", draw_int(3, 0, 5), 4.0),
        ),
        agents=AGENTS,
        goods=GOODS,
    )


# --- the independent optimal-face oracle --------------------------------------------------
def assert_same_prices(a: Clearing, b: Clearing, what: str) -> None:
    assert a.nodes == b.nodes
    for node, pa, pb in zip(a.nodes, a.price_array, b.price_array, strict=True):
        assert close(pa, pb, 1e-6), (what, node, pa, pb)


# --- the tests ----------------------------------------------------------------------------
def test_base_market_prices_by_hand():
    r = Clearer().clear(market())
    # Spot: 5 offered at $3 and 5 bid at $8, nothing else there: the lowest clearing price
    # is the ask, $3.
    assert close(r.price("spot", "hbm"), 3.0, 1e-6)
    np.testing.assert_allclose(r.bid_fills[2], 5.0, atol=1e-7)
    # The hbm contract (3 units) is delivered in full.
    np.testing.assert_allclose(r.commitment_shortfalls, [0.0], atol=1e-7)


@pytest.mark.parametrize("backend", ["pyomo", "highspy"])
def test_persistent_clearer_matches_cold_builds(backend):
    rng = np.random.default_rng(12345)
    warm = Clearer(backend=backend)
    assert warm.clear(market()).rebuilt
    unique_seen = varying_seen = 0
    for tick in range(N_TICKS):
        book = market(rng)
        r = warm.clear(book)
        assert r.rebuilt is False
        cold = Clearer(SolverOptions(warm_start=False), backend=backend).clear(book)
        assert cold.rebuilt
        assert close(r.welfare, cold.welfare, 1e-9), (tick, r.welfare, cold.welfare)
        assert_same_prices(r, cold, f"tick {tick} warm vs cold")

        face = Face(book, r.shortfall_penalty)
        assert close(r.welfare, face.welfare, 1e-9), (tick, r.welfare, face.welfare)
        unique = assert_fills_on_face(face, {"warm": r, "cold": cold}, tick)
        unique_seen += int(unique.sum())
        varying_seen += int((~unique).sum())

        # The degenerate spot node always prices at its ask (supply exactly meets demand).
        assert close(r.price("spot", "hbm"), book.asks[4].price, 1e-6)
    # The market really is degenerate, and still has unique fills to compare.
    assert varying_seen >= N_TICKS and unique_seen >= N_TICKS, (varying_seen, unique_seen)
    assert warm.rebuilds == 1


def test_prices_agree_across_algorithms_and_presolve():
    rng = np.random.default_rng(777)
    warm = Clearer()
    ipm = Clearer(SolverOptions(algorithm="ipm"))
    no_presolve = Clearer(SolverOptions(presolve="off"))
    for tick in range(N_TICKS):
        book = market(rng)
        r = warm.clear(book)
        others = (
            ("persistent ipm", ipm.clear(book)),
            ("persistent presolve off", no_presolve.clear(book)),
            ("fresh ipm", Clearer(SolverOptions(algorithm="ipm", warm_start=False)).clear(book)),
            ("fresh presolve off", Clearer(SolverOptions(presolve="off")).clear(book)),
        )
        for name, o in others:
            assert close(r.welfare, o.welfare, 1e-9), (tick, name, r.welfare, o.welfare)
            assert_same_prices(r, o, f"tick {tick} {name}")
        if tick:
            assert r.rebuilt is False


def test_pyomo_params_track_the_book():
    rng = np.random.default_rng(99)
    clearer = Clearer()
    clearer.clear(market())
    for _ in range(15):
        book = market(rng)
        r = clearer.clear(book)
        assert not r.rebuilt
        m = clearer._model.model
        q = clearer.layout.scale  # quantities sit in LP units (a power of two: exact)
        for i, b in enumerate(book.bids):
            assert m.bid_price[i].value == b.price
            assert m.bid_quantity[i].value == b.quantity / q
        for i, a in enumerate(book.asks):
            assert m.ask_price_neg[i].value == -a.price
            assert m.ask_quantity[i].value == a.quantity / q
        for i, rc in enumerate(book.recipes):
            assert m.recipe_cost_neg[i].value == -rc.cost
            assert m.recipe_capacity[i].value == rc.capacity / q
        carried = {(c.seller, c.buyer, c.good) for c in book.commitments}
        shared = [rt for rt in book.routes if (rt.seller, rt.buyer, rt.good) in carried]
        for i, rt in enumerate(book.routes):
            assert m.route_cost_neg[i].value == -rt.cost
            if not rt.allowed:
                expected = 0.0
            elif rt in shared:
                expected = math.inf  # its capacity sits in the shared-capacity row
            else:
                expected = rt.capacity / q
            assert m.route_upper[i].value == expected, (i, rt)
        for k, rt in enumerate(shared):
            assert m.shared_capacity[k].value == rt.capacity / q
        route_of = {(rt.seller, rt.buyer, rt.good): rt for rt in book.routes}
        for i, c in enumerate(book.commitments):
            route = route_of[c.seller, c.buyer, c.good]
            assert m.commitment_upper[i].value == (c.quantity / q if route.allowed else 0.0)
            # A delivery's objective coefficient: the penalty it avoids less its route's cost.
            assert m.delivery_value[i].value == r.shortfall_penalty - route.cost


def test_shape_change_rebuilds_and_data_change_does_not():
    rng = np.random.default_rng(5)
    clearer = Clearer()
    book = market()
    assert clearer.clear(book).rebuilt
    assert not clearer.clear(market(rng)).rebuilt
    # Closing every route is data, not shape.
    closed = OrderBook(
        asks=book.asks,
        bids=book.bids,
        recipes=book.recipes,
        routes=tuple(
            Route(rt.seller, rt.buyer, rt.good, rt.capacity, rt.cost, allowed=False)
            for rt in book.routes
        ),
        commitments=book.commitments,
        agents=AGENTS,
        goods=GOODS,
    )
    r = clearer.clear(closed)
    assert not r.rebuilt
    np.testing.assert_array_equal(r.route_flows, 0.0)
    # One more bid is a new shape.
    bigger = OrderBook(
        asks=book.asks,
        bids=(*book.bids, Bid("cloud", "chip", 2.0, 70.0)),
        recipes=book.recipes,
        routes=book.routes,
        commitments=book.commitments,
        agents=AGENTS,
        goods=GOODS,
    )
    r = clearer.clear(bigger)
    assert r.rebuilt
    cold = Clearer(SolverOptions(warm_start=False)).clear(bigger)
    assert close(r.welfare, cold.welfare, 1e-9)
    assert_same_prices(r, cold, "after rebuild")
    assert len(r.bid_fills) == 4
    assert not clearer.clear(bigger).rebuilt
    assert clearer.rebuilds == 2
    # Back to the old shape: rebuilt again.
    assert clearer.clear(book).rebuilt
    assert clearer.rebuilds == 3


def block_market(rng: np.random.Generator) -> OrderBook:
    # A fill-or-kill block bid and a block ask next to continuous orders; prices are drawn
    # from a continuum so that ties between accept and reject have probability zero.
    def u(lo, hi):
        return float(np.round(rng.uniform(lo, hi), 3))

    return OrderBook(
        asks=(Ask("a", "g", 6.0, u(1, 5)), Ask("b", "g", 4.0, u(1, 8))),
        bids=(Bid("b", "g", 5.0, u(5, 15)), Bid("c", "g", 3.0, u(5, 15))),
        routes=(
            Route("a", "b", "g", capacity=u(3, 9), cost=u(0, 1), allowed=bool(rng.random() > 0.2)),
            Route("b", "c", "g", cost=u(0, 1)),
        ),
        blocks=(
            Block("buy", bids=(Bid("c", "g", 4.0, u(5, 15)),)),
            Block("sell", asks=(Ask("a", "g", 3.0, u(1, 8)),)),
        ),
    )


def test_persistent_clearer_with_blocks_matches_cold_builds():
    rng = np.random.default_rng(2024)
    warm = Clearer()
    decisions = set()
    for tick in range(30):
        book = block_market(rng)
        r = warm.clear(book)
        assert r.rebuilt is (tick == 0)
        cold = Clearer(SolverOptions(warm_start=False)).clear(book)
        assert close(r.welfare, cold.welfare, 1e-9), (tick, r.welfare, cold.welfare)
        np.testing.assert_allclose(r.block_ratios, cold.block_ratios, atol=1e-9)
        assert_same_prices(r, cold, f"block tick {tick}")
        decisions.add(tuple(np.round(r.block_ratios).astype(int)))
    assert len(decisions) >= 3, decisions  # the blocks' decisions change from tick to tick
