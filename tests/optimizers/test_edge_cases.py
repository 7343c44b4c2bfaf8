"""Degenerate books: nothing to clear, or nothing that can trade."""

import dataclasses

import numpy as np
import pytest
from markets import random_chain_market

from optimizers import Ask, Bid, Block, Clearer, OrderBook, OrderBookError, Route

BACKENDS = ["pyomo", "highspy"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_book_clears_to_nothing(backend):
    r = Clearer(backend=backend).clear(OrderBook())
    assert r.status == "optimal"
    assert r.welfare == 0.0
    assert r.prices == {}


@pytest.mark.parametrize("backend", BACKENDS)
def test_lone_ask_is_unsold_and_free_and_lone_bid_prices_at_its_limit(backend):
    # Price rule: least |price| over the optimal face. An unsold ask allows any
    # price <= its ask, so 0; an unserved bid forces price >= its bid, so the bid.
    book = OrderBook(asks=[Ask("fab", "wafer", 5.0, 7.0)], bids=[Bid("lab", "wafer", 3.0, 11.0)])
    r = Clearer(backend=backend).clear(book)
    assert r.ask_fills[0] == 0.0 and r.bid_fills[0] == 0.0
    assert r.price("fab", "wafer") == pytest.approx(0.0, abs=1e-9)
    assert r.price("lab", "wafer") == pytest.approx(11.0, abs=1e-9)


@pytest.mark.parametrize("scale", [1e-9, 1e-6, 1e9])
@pytest.mark.parametrize("backend", BACKENDS)
def test_small_and_large_quantities_clear_between_ask_and_bid(backend, scale):
    book = OrderBook(asks=[Ask("s", "w", 2.0 * scale, 4.0)], bids=[Bid("s", "w", scale, 10.0)])
    r = Clearer(backend=backend).clear(book)
    assert r.bid_fills[0] == pytest.approx(scale, rel=1e-9)
    assert r.price("s", "w") == pytest.approx(4.0, rel=1e-9)


@pytest.mark.parametrize("field", ["quantity", "price"])
def test_numbers_at_solver_infinity_are_a_named_error(field):
    values = {"quantity": 1.0, "price": 5.0, field: 1e20}
    book = OrderBook(asks=[Ask("s", "w", **values)], bids=[Bid("s", "w", 1.0, 10.0)])
    with pytest.raises(OrderBookError, match=rf"OrderBook.asks\[0\].*'{field}'.*1e\+20.*rescale"):
        Clearer().clear(book)


def test_route_capacity_at_solver_infinity_suggests_math_inf():
    book = OrderBook(
        asks=[Ask("s", "w", 1.0, 5.0)],
        bids=[Bid("b", "w", 1.0, 10.0)],
        routes=[Route("s", "b", "w", capacity=1e21)],
    )
    with pytest.raises(OrderBookError, match=r"routes\[0\].*capacity.*math.inf"):
        Clearer().clear(book)


@pytest.mark.parametrize("min_ratio", [True, "0.5", 0.0, 1.5, float("nan")])
def test_block_min_ratio_must_be_a_number_in_the_unit_interval(min_ratio):
    book = OrderBook(blocks=[Block("k", bids=(Bid("b", "w", 1.0, 10.0),), min_ratio=min_ratio)])
    with pytest.raises(OrderBookError, match=r"blocks\[0\].*min_ratio"):
        Clearer().clear(book)


@pytest.mark.parametrize("scale", [1e-9, 1.0, 1e9])
@pytest.mark.parametrize("backend", BACKENDS)
def test_small_shortage_prices_at_the_bid_at_every_scale(backend, scale):
    # Demand exceeds supply by 5e-7 of the bid's quantity: the bid is not fully
    # served, so the price is the bid (20), not the ask (10). The at-bound test is
    # relative to the column's own quantity, and the LP works in scaled units.
    q = 1.0 * scale
    book = OrderBook(asks=[Ask("s", "w", q, 10.0)], bids=[Bid("s", "w", q * (1 + 5e-7), 20.0)])
    r = Clearer(backend=backend).clear(book)
    assert r.price("s", "w") == pytest.approx(20.0, rel=1e-9)
    assert r.bid_fills[0] == pytest.approx(q, rel=1e-9)
    assert r.ask_fills[0] == pytest.approx(q, rel=1e-9)


@pytest.mark.parametrize("scale", [1e-9, 1e9])
def test_block_clears_at_every_scale(scale):
    book = OrderBook(
        asks=[Ask("s", "w", 10.0 * scale, 2.0)],
        blocks=[Block("k", bids=(Bid("s", "w", 4.0 * scale, 5.0),))],
    )
    r = Clearer().clear(book)
    assert r.block_ratios[0] == pytest.approx(1.0)
    assert r.ask_fills[0] == pytest.approx(4.0 * scale, rel=1e-9)
    assert r.welfare == pytest.approx(4.0 * scale * 3.0, rel=1e-9)


@pytest.mark.parametrize("seed", [5, 58, 59, 210])
def test_a_chain_priced_in_nano_dollars_clears_at_the_same_prices_scaled(seed):
    # Books a fuzzer found: at prices x 1e-9 the clearing used to end in "Unbounded"
    # (costs below HiGHS's absolute 1e-7 tolerance). Scaling every price by k scales
    # the optimal face's prices by k (the LP's feasible set does not change).
    book = random_chain_market(np.random.default_rng(seed))
    k = 1e-9

    def cheap(o):
        return dataclasses.replace(o, price=o.price * k)

    small = dataclasses.replace(
        book,
        bids=tuple(cheap(b) for b in book.bids),
        asks=tuple(cheap(a) for a in book.asks),
        recipes=tuple(dataclasses.replace(r, cost=r.cost * k) for r in book.recipes),
        routes=tuple(dataclasses.replace(r, cost=r.cost * k) for r in book.routes),
    )
    base, scaled = Clearer().clear(book), Clearer().clear(small)
    assert scaled.welfare == pytest.approx(k * base.welfare, rel=1e-6)
    top = max(abs(p) for p in base.prices.values())
    for node, p in base.prices.items():
        assert scaled.prices[node] == pytest.approx(k * p, abs=1e-6 * k * top)
