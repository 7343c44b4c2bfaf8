"""Contracted deliveries (Commitment) are served before the spot market.

All expected numbers are worked out by hand in the comments next to them.
Prices follow the rule of ``optimizers/prices.py``: the optimal dual face's
point closest to zero, so an interior fill pins a price to its bid/ask, an
unsold ask alone gives 0 and an unserved bid alone gives the bid.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from optimizers import (
    Ask,
    Bid,
    Block,
    Clearing,
    Commitment,
    OrderBook,
    Recipe,
    Route,
    SolverOptions,
    clear,
)

BACKENDS = ["pyomo", "highspy"]


def run(book: OrderBook, backend: str, options: SolverOptions | None = None) -> Clearing:
    from optimizers import Clearer

    result = Clearer(options, backend=backend).clear(book)
    assert result.status == "optimal"
    return result


def close(a: float, b: float, tol: float = 1e-6) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def spot_welfare(book: OrderBook, r: Clearing) -> float:
    """Bid value - ask cost - recipe cost - route cost + block value, from the fills.

    Route cost is per unit moved: spot flow plus contracted deliveries on the route.
    """
    w = sum(b.price * f for b, f in zip(book.bids, r.bid_fills, strict=True))
    w -= sum(a.price * f for a, f in zip(book.asks, r.ask_fills, strict=True))
    w -= sum(rc.cost * f for rc, f in zip(book.recipes, r.recipe_activity, strict=True))
    w -= sum(rt.cost * f for rt, f in zip(book.routes, r.route_flows, strict=True))
    route_of = {(rt.seller, rt.buyer, rt.good): rt for rt in book.routes}
    for c, d in zip(book.commitments, r.commitment_deliveries, strict=True):
        w -= route_of[c.seller, c.buyer, c.good].cost * d
    for blk, ratio in zip(book.blocks, r.block_ratios, strict=True):
        w += ratio * sum(o.price * o.quantity for o in blk.bids)
        w -= ratio * sum(o.price * o.quantity for o in blk.asks)
    return float(w)


def scarce_book(bid_price: float = 1000.0) -> OrderBook:
    """fab sells 10 wafers at $1; 8 are contracted to designer; lab bids for 10 on the spot."""
    return OrderBook(
        asks=(Ask("fab", "wafer", 10.0, 1.0),),
        bids=(Bid("lab", "wafer", 10.0, bid_price),),
        routes=(Route("fab", "designer", "wafer"), Route("fab", "lab", "wafer")),
        commitments=(Commitment("c1", "fab", "designer", "wafer", 8.0, 5.0),),
    )


# --- priority under scarcity --------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bid_price", [6.0, 1000.0, 1e6])
def test_commitment_served_before_a_far_richer_spot_bid(backend, bid_price):
    book = scarce_book(bid_price)
    r = run(book, backend)
    # 10 units of supply: 8 go to the contract, only the remaining 2 to the spot bid.
    np.testing.assert_allclose(r.commitment_deliveries, [8.0], atol=1e-7)
    np.testing.assert_allclose(r.commitment_shortfalls, [0.0], atol=1e-7)
    np.testing.assert_allclose(r.ask_fills, [10.0], atol=1e-7)
    np.testing.assert_allclose(r.bid_fills, [2.0], atol=1e-7)
    np.testing.assert_allclose(r.route_flows, [0.0, 2.0], atol=1e-7)
    # Welfare: 2 * bid - 10 * $1, no shortfall.
    assert close(r.welfare, 2.0 * bid_price - 10.0, 1e-9)
    # The partially filled spot bid sets the price at lab and (free route) at fab.
    assert close(r.price("lab", "wafer"), bid_price)
    assert close(r.price("fab", "wafer"), bid_price)
    # designer can dispose of contracted wafers freely and bids nothing: price 0.
    assert close(r.price("designer", "wafer"), 0.0)
    # The derived penalty exceeds what any unit is worth on the spot market.
    assert r.shortfall_penalty > bid_price


@pytest.mark.parametrize("backend", BACKENDS)
def test_several_commitments_all_served_before_spot(backend):
    # fab sells 12; contracts: 5 to d1, 4 to d2 (separate routes); lab bids 10 at $500.
    book = OrderBook(
        asks=(Ask("fab", "wafer", 12.0, 2.0),),
        bids=(Bid("lab", "wafer", 10.0, 500.0),),
        routes=(
            Route("fab", "d1", "wafer"),
            Route("fab", "d2", "wafer"),
            Route("fab", "lab", "wafer"),
        ),
        commitments=(
            Commitment("a", "fab", "d1", "wafer", 5.0, 3.0),
            Commitment("b", "fab", "d2", "wafer", 4.0, 3.0),
        ),
    )
    r = run(book, backend)
    np.testing.assert_allclose(r.commitment_deliveries, [5.0, 4.0], atol=1e-7)
    np.testing.assert_allclose(r.commitment_shortfalls, [0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(r.bid_fills, [3.0], atol=1e-7)  # 12 - 5 - 4
    assert close(r.welfare, 3 * 500.0 - 12 * 2.0, 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_explicit_low_penalty_lets_the_spot_bid_win(backend):
    # With shortfall_penalty=$50 < bid $1000, each unit is worth more on the spot market.
    book = scarce_book(1000.0)
    r = run(book, backend, SolverOptions(shortfall_penalty=50.0))
    assert r.shortfall_penalty == 50.0
    np.testing.assert_allclose(r.commitment_deliveries, [0.0], atol=1e-7)
    np.testing.assert_allclose(r.commitment_shortfalls, [8.0], atol=1e-7)
    np.testing.assert_allclose(r.bid_fills, [10.0], atol=1e-7)
    # 10 * 1000 - 10 * 1 - 50 * 8
    assert close(r.welfare, 9590.0, 1e-9)


# --- shortfall when capacity is short -----------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("supply", [0.0, 3.0, 5.0, 7.999, 8.0, 12.0])
def test_shortfall_is_committed_minus_supply(backend, supply):
    committed = 8.0
    book = OrderBook(
        asks=(Ask("fab", "wafer", supply, 1.0),),
        bids=(Bid("lab", "wafer", 10.0, 300.0),),
        routes=(Route("fab", "designer", "wafer"), Route("fab", "lab", "wafer")),
        commitments=(Commitment("c1", "fab", "designer", "wafer", committed, 5.0),),
        agents=("fab", "designer", "lab"),
    )
    r = run(book, backend)
    delivered = min(supply, committed)
    short = committed - delivered
    np.testing.assert_allclose(r.commitment_deliveries, [delivered], atol=1e-7)
    np.testing.assert_allclose(r.commitment_shortfalls, [short], atol=1e-7)
    np.testing.assert_allclose(r.bid_fills, [supply - delivered], atol=1e-7)
    penalty = r.shortfall_penalty
    assert penalty > 300.0
    expected = 300.0 * (supply - delivered) - 1.0 * supply - penalty * short
    assert close(r.welfare, expected, 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_route_capacity_limits_delivery(backend):
    # Plenty of supply, but the contract's route carries only 6 of the 8 units.
    book = OrderBook(
        asks=(Ask("fab", "wafer", 100.0, 1.0),),
        bids=(Bid("designer", "wafer", 5.0, 50.0),),
        routes=(Route("fab", "designer", "wafer", capacity=6.0),),
        commitments=(Commitment("c1", "fab", "designer", "wafer", 8.0, 5.0),),
    )
    r = run(book, backend)
    np.testing.assert_allclose(r.commitment_deliveries, [6.0], atol=1e-7)
    np.testing.assert_allclose(r.commitment_shortfalls, [2.0], atol=1e-7)
    # The contract takes the whole route: no spot flow; the 6 units reach designer's bid.
    np.testing.assert_allclose(r.route_flows, [0.0], atol=1e-7)
    np.testing.assert_allclose(r.bid_fills, [5.0], atol=1e-7)
    np.testing.assert_allclose(r.ask_fills, [6.0], atol=1e-7)
    penalty = r.shortfall_penalty
    assert close(r.welfare, 5 * 50.0 - 6 * 1.0 - penalty * 2.0, 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_commitments_sharing_a_route_split_its_capacity(backend):
    # Two contracts of 6 and 7 on one route of capacity 10: 3 units short in total,
    # and a spot bid behind the same route gets nothing.
    book = OrderBook(
        asks=(Ask("fab", "wafer", 100.0, 1.0),),
        bids=(Bid("designer", "wafer", 20.0, 40.0),),
        routes=(Route("fab", "designer", "wafer", capacity=10.0),),
        commitments=(
            Commitment("a", "fab", "designer", "wafer", 6.0, 5.0),
            Commitment("b", "fab", "designer", "wafer", 7.0, 5.0),
        ),
    )
    r = run(book, backend)
    assert math.isclose(r.commitment_deliveries.sum(), 10.0, abs_tol=1e-7)
    assert math.isclose(r.commitment_shortfalls.sum(), 3.0, abs_tol=1e-7)
    assert np.all(r.commitment_deliveries <= np.array([6.0, 7.0]) + 1e-7)
    np.testing.assert_allclose(
        r.commitment_deliveries + r.commitment_shortfalls, [6.0, 7.0], atol=1e-7
    )
    np.testing.assert_allclose(r.route_flows, [0.0], atol=1e-7)
    # The 10 delivered units serve designer's bid (10 of its 20).
    np.testing.assert_allclose(r.bid_fills, [10.0], atol=1e-7)
    assert close(r.welfare, 10 * 40.0 - 10 * 1.0 - r.shortfall_penalty * 3.0, 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_seller_sourcing_upstream_is_limited_by_its_inbound_route(backend):
    # broker owns no stock; it buys from fab over a route of capacity 3 and owes 5 to lab.
    book = OrderBook(
        asks=(Ask("fab", "hbm", 50.0, 2.0),),
        routes=(
            Route("fab", "broker", "hbm", capacity=3.0, cost=1.0),
            Route("broker", "lab", "hbm"),
        ),
        commitments=(Commitment("c1", "broker", "lab", "hbm", 5.0, 10.0),),
    )
    r = run(book, backend)
    np.testing.assert_allclose(r.commitment_deliveries, [3.0], atol=1e-7)
    np.testing.assert_allclose(r.commitment_shortfalls, [2.0], atol=1e-7)
    np.testing.assert_allclose(r.route_flows, [3.0, 0.0], atol=1e-7)
    penalty = r.shortfall_penalty
    assert penalty > 10.0
    assert close(r.welfare, -3 * 2.0 - 3 * 1.0 - penalty * 2.0, 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_recipe_capacity_limits_delivery(backend):
    # fab turns sand into wafers, at most 4 per tick; it owes designer 8 wafers.
    book = OrderBook(
        asks=(Ask("mine", "sand", 100.0, 0.5),),
        recipes=(Recipe("fab", "wafer", {"sand": 2.0}, capacity=4.0, cost=1.0),),
        routes=(Route("mine", "fab", "sand"), Route("fab", "designer", "wafer")),
        commitments=(Commitment("c1", "fab", "designer", "wafer", 8.0, 20.0),),
    )
    r = run(book, backend)
    np.testing.assert_allclose(r.recipe_activity, [4.0], atol=1e-7)
    np.testing.assert_allclose(r.commitment_deliveries, [4.0], atol=1e-7)
    np.testing.assert_allclose(r.commitment_shortfalls, [4.0], atol=1e-7)
    np.testing.assert_allclose(r.ask_fills, [8.0], atol=1e-7)
    penalty = r.shortfall_penalty
    assert close(r.welfare, -8 * 0.5 - 4 * 1.0 - penalty * 4.0, 1e-9)


# --- closed routes ------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_disallowed_route_delivers_nothing_and_carries_nothing(backend):
    # designer would pay $1000 for wafers that cost $1, but the route is closed.
    book = OrderBook(
        asks=(Ask("fab", "wafer", 10.0, 1.0),),
        bids=(Bid("designer", "wafer", 10.0, 1000.0),),
        routes=(Route("fab", "designer", "wafer", allowed=False),),
        commitments=(Commitment("c1", "fab", "designer", "wafer", 8.0, 5.0),),
    )
    r = run(book, backend)
    np.testing.assert_array_equal(r.route_flows, [0.0])
    np.testing.assert_array_equal(r.commitment_deliveries, [0.0])
    np.testing.assert_allclose(r.commitment_shortfalls, [8.0], atol=0)
    np.testing.assert_allclose(r.bid_fills, [0.0], atol=1e-9)
    np.testing.assert_allclose(r.ask_fills, [0.0], atol=1e-9)
    penalty = r.shortfall_penalty
    assert penalty > 1000.0
    assert close(r.welfare, -penalty * 8.0, 1e-9)
    # Unserved bid alone at designer -> its price; unsold ask alone at fab -> 0.
    assert close(r.price("designer", "wafer"), 1000.0)
    assert close(r.price("fab", "wafer"), 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_disallowed_route_without_commitment_carries_nothing(backend):
    book = OrderBook(
        asks=(Ask("fab", "wafer", 10.0, 1.0),),
        bids=(Bid("designer", "wafer", 10.0, 1000.0), Bid("lab", "wafer", 4.0, 10.0)),
        routes=(
            Route("fab", "designer", "wafer", allowed=False),
            Route("fab", "lab", "wafer"),
        ),
    )
    r = run(book, backend)
    np.testing.assert_array_equal(r.route_flows[0], 0.0)
    np.testing.assert_allclose(r.route_flows, [0.0, 4.0], atol=1e-7)
    np.testing.assert_allclose(r.bid_fills, [0.0, 4.0], atol=1e-7)
    assert close(r.welfare, 4 * 10.0 - 4 * 1.0, 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_commitment_does_not_reroute_around_a_closed_route(backend):
    # The contract's own route fab->designer is closed; spot wafers still reach designer via hub.
    book = OrderBook(
        asks=(Ask("fab", "wafer", 20.0, 1.0),),
        bids=(Bid("designer", "wafer", 5.0, 100.0),),
        routes=(
            Route("fab", "designer", "wafer", allowed=False),
            Route("fab", "hub", "wafer", cost=2.0),
            Route("hub", "designer", "wafer", cost=3.0),
        ),
        commitments=(Commitment("c1", "fab", "designer", "wafer", 8.0, 5.0),),
        agents=("fab", "hub", "designer"),  # hub appears in routes only
    )
    r = run(book, backend)
    np.testing.assert_array_equal(r.commitment_deliveries, [0.0])
    np.testing.assert_allclose(r.commitment_shortfalls, [8.0], atol=0)
    np.testing.assert_array_equal(r.route_flows[0], 0.0)
    np.testing.assert_allclose(r.route_flows, [0.0, 5.0, 5.0], atol=1e-7)
    np.testing.assert_allclose(r.bid_fills, [5.0], atol=1e-7)
    penalty = r.shortfall_penalty
    assert close(r.welfare, 5 * 100.0 - 5 * 1.0 - 5 * 5.0 - penalty * 8.0, 1e-9)


# --- delivered goods feed the buyer's production ------------------------------------------
def contract_feeds_recipe_book(with_commitment: bool) -> OrderBook:
    # Spot wafers cost $30 but are worth only (50 - 1) / 2 = $24.5 to designer's recipe,
    # so without the contract designer buys none; with it, 6 wafers arrive anyway.
    return OrderBook(
        asks=(Ask("fab", "wafer", 6.0, 30.0),),
        bids=(Bid("lab", "chip", 10.0, 50.0),),
        recipes=(Recipe("designer", "chip", {"wafer": 2.0}, cost=1.0),),
        routes=(
            Route("fab", "designer", "wafer", capacity=6.0),
            Route("designer", "lab", "chip"),
        ),
        commitments=(
            (Commitment("c1", "fab", "designer", "wafer", 6.0, 5.0),) if with_commitment else ()
        ),
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_contracted_wafers_feed_the_designers_recipe(backend):
    without = run(contract_feeds_recipe_book(False), backend)
    np.testing.assert_allclose(without.recipe_activity, [0.0], atol=1e-7)
    np.testing.assert_allclose(without.ask_fills, [0.0], atol=1e-7)
    assert close(without.welfare, 0.0)

    r = run(contract_feeds_recipe_book(True), backend)
    np.testing.assert_allclose(r.commitment_deliveries, [6.0], atol=1e-7)
    np.testing.assert_allclose(r.commitment_shortfalls, [0.0], atol=1e-7)
    np.testing.assert_allclose(r.ask_fills, [6.0], atol=1e-7)
    # No spot wafers move (the contract fills the route); the 6 delivered wafers make 3 chips.
    np.testing.assert_allclose(r.route_flows, [0.0, 3.0], atol=1e-7)
    np.testing.assert_allclose(r.recipe_activity, [3.0], atol=1e-7)
    np.testing.assert_allclose(r.bid_fills, [3.0], atol=1e-7)
    # 3 * 50 - 6 * 30 - 3 * 1
    assert close(r.welfare, -33.0, 1e-9)
    # Chip price: lab's partly filled bid, carried back over the free chip route.
    assert close(r.price("lab", "chip"), 50.0)
    assert close(r.price("designer", "chip"), 50.0)
    # A delivered wafer is worth what the running recipe makes of it: (50 - 1) / 2.
    assert close(r.price("designer", "wafer"), 24.5)
    # fab sells its whole ask: the lowest supporting price is the ask.
    assert close(r.price("fab", "wafer"), 30.0)


# --- welfare identity ---------------------------------------------------------------------
def identity_books() -> list[tuple[OrderBook, SolverOptions | None]]:
    rich = OrderBook(
        asks=(
            Ask("fab", "wafer", 10.0, 2.0),
            Ask("fab", "wafer", 10.0, 4.0),
            Ask("memco", "hbm", 8.0, 3.0),
        ),
        bids=(
            Bid("lab", "chip", 6.0, 120.0),
            Bid("cloud", "chip", 6.0, 90.0),
            Bid("designer", "wafer", 3.0, 5.0),
        ),
        recipes=(Recipe("designer", "chip", {"wafer": 2.0, "hbm": 1.0}, capacity=7.0, cost=4.0),),
        routes=(
            Route("fab", "designer", "wafer", capacity=15.0, cost=0.5),
            Route("memco", "designer", "hbm", capacity=6.0),
            Route("designer", "lab", "chip", cost=1.0),
            Route("designer", "cloud", "chip", cost=2.0),
            Route("memco", "lab", "hbm", allowed=False),
        ),
        commitments=(
            Commitment("w", "fab", "designer", "wafer", 9.0, 3.0),
            Commitment("h", "memco", "designer", "hbm", 7.0, 6.0),  # route carries 6: short 1
            Commitment("x", "memco", "lab", "hbm", 2.0, 6.0),  # closed route: short 2
        ),
    )
    return [
        (scarce_book(1000.0), None),
        (scarce_book(1000.0), SolverOptions(shortfall_penalty=50.0)),
        (rich, None),
        (rich, SolverOptions(shortfall_penalty=7.0)),
    ]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", range(4))
def test_welfare_is_spot_welfare_minus_penalty_times_shortfall(backend, case):
    book, options = identity_books()[case]
    r = run(book, backend, options)
    if options is not None and options.shortfall_penalty is not None:
        assert r.shortfall_penalty == options.shortfall_penalty
    quantities = np.array([c.quantity for c in book.commitments])
    np.testing.assert_allclose(
        r.commitment_shortfalls, np.maximum(quantities - r.commitment_deliveries, 0.0)
    )
    assert np.all(r.commitment_deliveries >= -1e-9)
    assert np.all(r.commitment_deliveries <= quantities + 1e-9)
    expected = spot_welfare(book, r) - r.shortfall_penalty * float(r.commitment_shortfalls.sum())
    assert close(r.welfare, expected, 1e-9)


def test_rich_book_delivers_what_its_routes_allow():
    book, _ = identity_books()[2]
    r = clear(book)
    # w: 9 wafers on a route of 15 -> delivered; h: route of 6 -> 6 of 7; x: closed -> 0.
    np.testing.assert_allclose(r.commitment_deliveries, [9.0, 6.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(r.commitment_shortfalls, [0.0, 1.0, 2.0], atol=1e-7)
    np.testing.assert_array_equal(r.route_flows[4], 0.0)
    # The hbm route is full with the contract: no spot hbm moves on it.
    np.testing.assert_allclose(r.route_flows[1], 0.0, atol=1e-7)


# --- delivery costs and the size of the penalty -------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_delivery_pays_the_route_cost(backend):
    book = OrderBook(
        asks=(Ask("fab", "wafer", 10.0, 1.0),),
        routes=(Route("fab", "designer", "wafer", cost=5.0),),
        commitments=(Commitment("c1", "fab", "designer", "wafer", 8.0, 5.0),),
    )
    r = run(book, backend)
    np.testing.assert_allclose(r.commitment_deliveries, [8.0], atol=1e-7)
    np.testing.assert_allclose(r.route_flows, [0.0], atol=1e-7)  # no spot flow
    # 8 wafers bought at $1 and moved at $5 each (Route.cost is $ per unit moved).
    assert close(r.welfare, -8 * 1.0 - 8 * 5.0, 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_commitment_delivered_when_production_costs_more_than_prices(backend):
    book = OrderBook(
        asks=(Ask("fab", "sand", 10.0, 1.0),),
        recipes=(Recipe("fab", "wafer", {"sand": 1.0}, cost=1000.0),),
        routes=(Route("fab", "designer", "wafer"),),
        commitments=(Commitment("c1", "fab", "designer", "wafer", 8.0, 5.0),),
    )
    r = run(book, backend)
    # Capacity (10 sand -> 10 wafers) exceeds the 8 committed: no shortfall, however
    # dear the wafers are to make.
    np.testing.assert_allclose(r.commitment_shortfalls, [0.0], atol=1e-7)
    np.testing.assert_allclose(r.recipe_activity, [8.0], atol=1e-7)
    assert close(r.welfare, -8 * 1.0 - 8 * 1000.0, 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_commitment_delivered_from_an_expensive_block_ask(backend):
    book = OrderBook(
        blocks=(Block("b", asks=(Ask("fab", "wafer", 8.0, 1000.0),)),),
        routes=(Route("fab", "designer", "wafer"),),
        commitments=(Commitment("c1", "fab", "designer", "wafer", 8.0, 5.0),),
    )
    r = run(book, backend)
    np.testing.assert_allclose(r.block_ratios, [1.0], atol=1e-9)
    np.testing.assert_allclose(r.commitment_shortfalls, [0.0], atol=1e-7)
    assert close(r.welfare, -8 * 1000.0, 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_commitment_delivered_over_a_very_dear_route(backend):
    # Moving a wafer costs $5000 on the only route, far above every price in the book;
    # the contract is still delivered in full.
    book = OrderBook(
        asks=(Ask("fab", "wafer", 10.0, 1.0),),
        bids=(Bid("designer", "wafer", 3.0, 20.0),),
        routes=(Route("fab", "designer", "wafer", cost=5000.0),),
        commitments=(Commitment("c1", "fab", "designer", "wafer", 8.0, 5.0),),
    )
    r = run(book, backend)
    np.testing.assert_allclose(r.commitment_deliveries, [8.0], atol=1e-7)
    np.testing.assert_allclose(r.commitment_shortfalls, [0.0], atol=1e-7)
    # No spot wafer is worth moving ($20 < $5001); the designer's bid takes 3 delivered units.
    np.testing.assert_allclose(r.route_flows, [0.0], atol=1e-7)
    np.testing.assert_allclose(r.bid_fills, [3.0], atol=1e-7)
    assert close(r.welfare, 3 * 20.0 - 8 * 1.0 - 8 * 5000.0, 1e-9)
