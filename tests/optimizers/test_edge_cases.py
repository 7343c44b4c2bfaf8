"""Degenerate books: nothing to clear, or nothing that can trade."""

import pytest

from optimizers import Ask, Bid, Clearer, OrderBook

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
