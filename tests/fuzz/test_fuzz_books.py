"""Fuzzing the clearing engine: a scaled or corrupted order book ends in a named error or a
clearing that respects every bound and conserves every good at every node.

Books come from the random market generators of the optimizer tests, scaled in
quantity and in price by factors from 1e-9 to 1e9, and sometimes one entry gets
an awkward value (NaN, negative, 1e20, a boolean, an infinite price). The
property: ``OrderBookError`` whose message names the entry, or a clearing with
finite prices and welfare, fills within each order's bounds and flow conserved
at each node (checked here from the book, independently of the engine).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizers import Clearer, OrderBook, OrderBookError

sys.path.insert(0, str(Path(__file__).parents[1] / "optimizers"))
from markets import random_chain_market, random_single_good_market  # noqa: E402

SCALES = [1e-9, 1e-6, 1.0, 1e3, 1e6, 1e9]
AWKWARD = [math.nan, -1.0, 1e20, True, math.inf, -math.inf, 0.0]
REL = 1e-6  # relative tolerance on bounds and balances (HiGHS's feasibility tolerance is 1e-7)


def _scaled(book: OrderBook, q: float, p: float) -> OrderBook:
    """Quantities times ``q``, prices and costs times ``p`` (recipe ratios unchanged)."""

    def order(o):
        return dataclasses.replace(o, quantity=o.quantity * q, price=o.price * p)

    return dataclasses.replace(
        book,
        bids=tuple(order(b) for b in book.bids),
        asks=tuple(order(a) for a in book.asks),
        recipes=tuple(
            dataclasses.replace(r, capacity=r.capacity * q, cost=r.cost * p) for r in book.recipes
        ),
        routes=tuple(
            dataclasses.replace(r, capacity=r.capacity * q, cost=r.cost * p) for r in book.routes
        ),
    )


def _corrupted(book: OrderBook, section: str, index: int, field: str, value) -> OrderBook:
    entries = list(getattr(book, section))
    if not entries:
        return book
    i = index % len(entries)
    entries[i] = dataclasses.replace(entries[i], **{field: value})
    return dataclasses.replace(book, **{section: tuple(entries)})


@st.composite
def books(draw) -> OrderBook:
    make = draw(st.sampled_from([random_single_good_market, random_chain_market]))
    book = make(np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    book = _scaled(book, draw(st.sampled_from(SCALES)), draw(st.sampled_from(SCALES)))
    if draw(st.booleans()):
        section, field = draw(
            st.sampled_from(
                [
                    ("bids", "quantity"),
                    ("bids", "price"),
                    ("asks", "quantity"),
                    ("asks", "price"),
                    ("routes", "capacity"),
                    ("routes", "cost"),
                ]
            )
        )
        book = _corrupted(
            book, section, draw(st.integers(0, 50)), field, draw(st.sampled_from(AWKWARD))
        )
    return book


def _close(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= REL * max(1.0, scale) + 1e-9 * scale


def _check(book: OrderBook, c) -> None:
    assert math.isfinite(c.welfare)
    assert np.all(np.isfinite(c.price_array))
    for orders, fills in ((book.bids, c.bid_fills), (book.asks, c.ask_fills)):
        for o, f in zip(orders, fills):
            assert -REL * o.quantity - 1e-12 <= f <= o.quantity * (1 + REL) + 1e-12, (o, f)
    for r, f in zip(book.routes, c.route_flows):
        assert f >= -REL * max(1.0, f)
        if not r.allowed:
            assert f <= REL * max(1.0, r.capacity if math.isfinite(r.capacity) else 1.0)
        elif math.isfinite(r.capacity):
            assert f <= r.capacity * (1 + REL) + 1e-12
    # Balance of every good at every node: supply + inflow + made == demand + outflow + used.
    net: dict[tuple, float] = defaultdict(float)
    scale: dict[tuple, float] = defaultdict(float)

    def add(key, x):
        net[key] += x
        scale[key] += abs(x)

    for a, f in zip(book.asks, c.ask_fills):
        add((a.agent, a.good), f)
    for b, f in zip(book.bids, c.bid_fills):
        add((b.agent, b.good), -f)
    for r, f in zip(book.routes, c.route_flows):
        add((r.seller, r.good), -f)
        add((r.buyer, r.good), f)
    for rc, y in zip(book.recipes, c.recipe_activity):
        add((rc.agent, rc.output), y)
        for g, ratio in rc.inputs.items():
            add((rc.agent, g), -ratio * y)
    for key, x in net.items():
        # A node may dispose of surplus only if the engine says so; here no node holds stock,
        # so every good balances (a node cannot create units).
        assert x <= REL * max(1.0, scale[key]) + 1e-9, (key, x, scale[key])


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(books())
def test_a_fuzzed_book_is_refused_by_name_or_clears_within_bounds(book):
    try:
        clearing = Clearer().clear(book)
    except OrderBookError as exc:
        assert str(exc).startswith("OrderBook."), str(exc)
        return
    _check(book, clearing)
