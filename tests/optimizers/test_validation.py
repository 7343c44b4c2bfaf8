"""Malformed order books are rejected with an OrderBookError naming the bad entry.

Every test builds a small book that is valid except for one entry, checks that
the valid book clears, and then that the broken one raises from both
``validate`` and ``clear`` with a message naming the entry (section and index)
and the field, and where there is one the bad value.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from optimizers import (
    Ask,
    Bid,
    Block,
    Clearer,
    Commitment,
    OrderBook,
    OrderBookError,
    Recipe,
    Route,
    clear,
    validate,
)


def base_book(**changes) -> OrderBook:
    """A small valid book: two goods, a recipe, two routes, a commitment and a block."""
    fields = dict(
        bids=(Bid("lab", "chip", 5.0, 100.0), Bid("lab", "chip", 3.0, 80.0)),
        asks=(Ask("fab", "wafer", 20.0, 2.0), Ask("fab", "wafer", 10.0, 3.0)),
        recipes=(Recipe("designer", "chip", {"wafer": 2.0}, capacity=50.0, cost=1.0),),
        routes=(
            Route("fab", "designer", "wafer", capacity=30.0, cost=0.5),
            Route("designer", "lab", "chip", capacity=30.0, cost=0.5),
        ),
        commitments=(Commitment("c1", "fab", "designer", "wafer", 4.0, 2.5),),
        blocks=(Block("blk", bids=(Bid("lab", "chip", 1.0, 120.0),), min_ratio=1.0),),
    )
    fields.update(changes)
    return OrderBook(**fields)


def test_base_book_is_valid_and_clears():
    book = base_book()
    validate(book)
    result = clear(book)
    assert result.status == "optimal"


def assert_rejected(book: OrderBook, *patterns: str) -> None:
    """``validate`` and ``clear`` both raise, and the message matches every pattern; so
    does a clearer that has cleared the valid base book (which checks only the numbers,
    flags and ids of a book of the shape it has seen)."""
    warm = Clearer(backend="highspy")
    warm.clear(base_book())
    for check in (validate, clear, Clearer(backend="highspy").clear, warm.clear):
        with pytest.raises(OrderBookError) as info:
            check(book)
        message = str(info.value)
        for pattern in patterns:
            assert re.search(pattern, message), (pattern, message)


def esc(text: str) -> str:
    return re.escape(text)


# --- numbers on orders --------------------------------------------------------------------
def test_negative_bid_quantity_names_the_bid():
    bids = (Bid("lab", "chip", 5.0, 100.0), Bid("lab", "chip", -1.0, 80.0))
    assert_rejected(base_book(bids=bids), esc("bids[1]"), "'quantity'", esc("-1.0"))


def test_negative_ask_quantity_names_the_ask():
    asks = (Ask("fab", "wafer", -3.0, 2.0), Ask("fab", "wafer", 10.0, 3.0))
    assert_rejected(base_book(asks=asks), esc("asks[0]"), "'quantity'", esc("-3.0"))


def test_nan_quantity_is_rejected():
    bids = (Bid("lab", "chip", 5.0, 100.0), Bid("lab", "chip", math.nan, 80.0))
    assert_rejected(base_book(bids=bids), esc("bids[1]"), "'quantity'", "nan")


def test_negative_price_is_rejected():
    asks = (Ask("fab", "wafer", 20.0, 2.0), Ask("fab", "wafer", 10.0, -0.5))
    assert_rejected(base_book(asks=asks), esc("asks[1]"), "'price'", esc("-0.5"))


def test_nan_price_is_rejected():
    bids = (Bid("lab", "chip", 5.0, math.nan), Bid("lab", "chip", 3.0, 80.0))
    assert_rejected(base_book(bids=bids), esc("bids[0]"), "'price'", "nan")


def test_inf_bid_quantity_is_rejected():
    bids = (Bid("lab", "chip", 5.0, 100.0), Bid("lab", "chip", math.inf, 80.0))
    assert_rejected(base_book(bids=bids), esc("bids[1]"), "'quantity'", "inf")


def test_inf_bid_price_is_rejected():
    bids = (Bid("lab", "chip", 5.0, math.inf), Bid("lab", "chip", 3.0, 80.0))
    assert_rejected(base_book(bids=bids), esc("bids[0]"), "'price'", "inf")


def test_boolean_quantity_is_not_a_number():
    bids = (Bid("lab", "chip", True, 100.0), Bid("lab", "chip", 3.0, 80.0))
    assert_rejected(base_book(bids=bids), esc("bids[0]"), "'quantity'", "True")


def test_string_price_is_rejected():
    asks = (Ask("fab", "wafer", 20.0, "2"), Ask("fab", "wafer", 10.0, 3.0))
    assert_rejected(base_book(asks=asks), esc("asks[0]"), "'price'", esc("'2'"))


# --- recipes ------------------------------------------------------------------------------
def test_recipe_input_of_unknown_good_names_the_good():
    recipes = (Recipe("designer", "chip", {"wafr": 2.0}, capacity=50.0, cost=1.0),)
    assert_rejected(base_book(recipes=recipes), esc("recipes[0]"), "'inputs'", "'wafr'")


def test_recipe_input_units_must_be_positive():
    recipes = (Recipe("designer", "chip", {"wafer": 0.0}, capacity=50.0, cost=1.0),)
    assert_rejected(base_book(recipes=recipes), esc("recipes[0]"), esc("inputs['wafer']"))


def test_recipe_negative_cost_is_rejected():
    recipes = (Recipe("designer", "chip", {"wafer": 2.0}, capacity=50.0, cost=-1.0),)
    assert_rejected(base_book(recipes=recipes), esc("recipes[0]"), "'cost'", esc("-1.0"))


def test_recipe_using_its_own_output_is_rejected():
    recipes = (Recipe("designer", "chip", {"wafer": 2.0, "chip": 1.0}, capacity=50.0),)
    assert_rejected(base_book(recipes=recipes), esc("recipes[0]"), "'inputs'", "'chip'")


def test_free_unbounded_recipe_is_rejected():
    recipes = (
        Recipe("designer", "chip", {"wafer": 2.0}, capacity=50.0, cost=1.0),
        Recipe("designer", "chip", {}),
    )
    assert_rejected(base_book(recipes=recipes), esc("recipes[1]"), "'inputs'")


# --- routes -------------------------------------------------------------------------------
def test_route_to_unknown_agent_names_the_agent():
    routes = (
        Route("fab", "designer", "wafer", capacity=30.0, cost=0.5),
        Route("designer", "labb", "chip", capacity=30.0, cost=0.5),
    )
    assert_rejected(base_book(routes=routes), esc("routes[1]"), "'buyer'", "'labb'")


def test_route_from_unknown_agent_names_the_agent():
    routes = (
        Route("fabb", "designer", "wafer", capacity=30.0, cost=0.5),
        Route("designer", "lab", "chip", capacity=30.0, cost=0.5),
    )
    assert_rejected(
        base_book(routes=routes, commitments=()), esc("routes[0]"), "'seller'", "'fabb'"
    )


def test_route_of_unknown_good_names_the_good_when_goods_are_listed():
    routes = (
        Route("fab", "designer", "wafer", capacity=30.0, cost=0.5),
        Route("designer", "lab", "chips", capacity=30.0, cost=0.5),
    )
    book = base_book(routes=routes, goods=("wafer", "chip"))
    assert_rejected(book, esc("routes[1]"), "'good'", "'chips'")


def test_negative_route_capacity_is_rejected():
    routes = (
        Route("fab", "designer", "wafer", capacity=30.0, cost=0.5),
        Route("designer", "lab", "chip", capacity=-5.0, cost=0.5),
    )
    assert_rejected(base_book(routes=routes), esc("routes[1]"), "'capacity'", esc("-5.0"))


def test_negative_route_cost_is_rejected():
    routes = (
        Route("fab", "designer", "wafer", capacity=30.0, cost=-0.5),
        Route("designer", "lab", "chip", capacity=30.0, cost=0.5),
    )
    assert_rejected(base_book(routes=routes), esc("routes[0]"), "'cost'", esc("-0.5"))


def test_duplicate_route_is_rejected():
    routes = (
        Route("fab", "designer", "wafer", capacity=30.0, cost=0.5),
        Route("designer", "lab", "chip", capacity=30.0, cost=0.5),
        Route("fab", "designer", "wafer", capacity=10.0, cost=0.1),
    )
    assert_rejected(base_book(routes=routes), esc("routes[2]"), "duplicate")


def test_route_to_itself_is_rejected():
    routes = (
        Route("fab", "designer", "wafer", capacity=30.0, cost=0.5),
        Route("lab", "lab", "chip"),
    )
    assert_rejected(base_book(routes=routes), esc("routes[1]"), "'seller'", "'buyer'")


def test_route_allowed_must_be_a_bool():
    routes = (
        Route("fab", "designer", "wafer", capacity=30.0, cost=0.5, allowed=1),
        Route("designer", "lab", "chip", capacity=30.0, cost=0.5),
    )
    assert_rejected(base_book(routes=routes), esc("routes[0]"), "'allowed'")


# --- commitments --------------------------------------------------------------------------
def test_duplicate_commitment_id_is_rejected():
    commitments = (
        Commitment("c1", "fab", "designer", "wafer", 4.0, 2.5),
        Commitment("c1", "fab", "designer", "wafer", 2.0, 2.5),
    )
    assert_rejected(base_book(commitments=commitments), esc("commitments[1]"), "'id'", "'c1'")


def test_commitment_without_a_route_is_rejected():
    # designer -> fab has no route (only fab -> designer exists).
    commitments = (Commitment("c1", "designer", "fab", "wafer", 4.0, 2.5),)
    assert_rejected(
        base_book(commitments=commitments), esc("commitments[0]"), "no route", "'designer'"
    )


def test_commitment_negative_quantity_is_rejected():
    commitments = (Commitment("c1", "fab", "designer", "wafer", -4.0, 2.5),)
    assert_rejected(
        base_book(commitments=commitments), esc("commitments[0]"), "'quantity'", esc("-4.0")
    )


def test_commitment_nan_price_is_rejected():
    commitments = (Commitment("c1", "fab", "designer", "wafer", 4.0, math.nan),)
    assert_rejected(base_book(commitments=commitments), esc("commitments[0]"), "'price'", "nan")


# --- blocks -------------------------------------------------------------------------------
@pytest.mark.parametrize("min_ratio", [0.0, -0.5, 1.5, math.nan])
def test_block_min_ratio_outside_0_1_is_rejected(min_ratio):
    blocks = (
        Block("ok", bids=(Bid("lab", "chip", 1.0, 120.0),)),
        Block("bad", asks=(Ask("fab", "wafer", 2.0, 1.0),), min_ratio=min_ratio),
    )
    assert_rejected(base_book(blocks=blocks), esc("blocks[1]"), "'min_ratio'", esc(repr(min_ratio)))


def test_block_min_ratio_one_and_small_positive_are_accepted():
    blocks = (
        Block("a", bids=(Bid("lab", "chip", 1.0, 120.0),), min_ratio=1.0),
        Block("b", asks=(Ask("fab", "wafer", 2.0, 1.0),), min_ratio=1e-3),
    )
    book = base_book(blocks=blocks)
    validate(book)  # raises OrderBookError if either ratio were refused
    assert clear(book).status == "optimal"


def test_empty_block_is_rejected():
    blocks = (Block("empty"),)
    assert_rejected(base_book(blocks=blocks), esc("blocks[0]"), "'bids'", "'asks'")


def test_duplicate_block_id_is_rejected():
    blocks = (
        Block("x", bids=(Bid("lab", "chip", 1.0, 120.0),)),
        Block("x", asks=(Ask("fab", "wafer", 2.0, 1.0),)),
    )
    assert_rejected(base_book(blocks=blocks), esc("blocks[1]"), "'id'", "'x'")


def test_negative_quantity_inside_a_block_names_the_order():
    blocks = (
        Block(
            "x",
            bids=(Bid("lab", "chip", 1.0, 120.0),),
            asks=(Ask("fab", "wafer", 2.0, 1.0), Ask("fab", "wafer", -2.0, 1.0)),
        ),
    )
    assert_rejected(base_book(blocks=blocks), esc("blocks[0].asks[1]"), "'quantity'", esc("-2.0"))


# --- explicit agent and good lists --------------------------------------------------------
def test_bid_at_unlisted_agent_is_rejected_when_agents_are_listed():
    book = base_book(agents=("fab", "designer"))  # "lab" missing
    assert_rejected(book, esc("bids[0]"), "'agent'", "'lab'")


def test_bid_of_unlisted_good_is_rejected_when_goods_are_listed():
    book = base_book(goods=("wafer",))  # "chip" missing
    assert_rejected(book, esc("bids[0]"), "'good'", "'chip'")


# --- long lists: the culprit is named wherever it sits ----------------------------------------


def test_bad_entry_deep_in_a_long_list_is_named():
    bids = [Bid("lab", "chip", 1.0 + i % 5, 50.0 + i) for i in range(100)]
    bids[57] = Bid("lab", "chip", 2.0, -3.0)
    assert_rejected(base_book(bids=tuple(bids)), esc("bids[57]"), "'price'", esc("-3.0"))


def test_bad_route_capacity_deep_in_a_long_list_is_named():
    agents = tuple(f"n{i}" for i in range(60))
    routes = [Route(a, b, "chip", capacity=5.0) for a, b in zip(agents, agents[1:])]
    routes[41] = Route(agents[41], agents[42], "chip", capacity="5")
    book = OrderBook(bids=(Bid("n0", "chip", 1.0, 1.0),), routes=tuple(routes), agents=agents)
    assert_rejected(book, esc("routes[41]"), "'capacity'", esc("'5'"))


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (lambda a: Route(a[41], "ghost", "chip"), ("'buyer'", "'ghost'")),
        (lambda a: Route(a[41], a[41], "chip"), ("'seller' and 'buyer'",)),
        (lambda a: Route(a[41], a[42], "chip", allowed="yes"), ("'allowed'",)),
        (lambda a: Route(a[40], a[41], "chip", capacity=1.0), ("duplicate route",)),
    ],
    ids=["unknown-buyer", "to-itself", "allowed-not-bool", "duplicate"],
)
def test_bad_route_structure_deep_in_a_long_list_is_named(bad, expected):
    agents = tuple(f"n{i}" for i in range(60))
    routes = [Route(a, b, "chip", capacity=5.0) for a, b in zip(agents, agents[1:])]
    routes[41] = bad(agents)
    book = OrderBook(bids=(Bid("n0", "chip", 1.0, 1.0),), routes=tuple(routes), agents=agents)
    assert_rejected(book, esc("routes[41]"), *expected)


def test_numpy_float_numbers_are_accepted():
    book = base_book(
        bids=(Bid("lab", "chip", np.float64(5.0), np.float64(100.0)),),
        asks=(Ask("fab", "wafer", np.float64(20.0), 2.0),),
    )
    validate(book)
    assert clear(book).status == "optimal"


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"bids": (Bid("lab", "chip", 5.0, -100.0), Bid("lab", "chip", 3.0, 80.0))}, "bids[0]"),
        ({"asks": (Ask("fab", "wafer", 20.0, 2.0), Ask("fab", "wafer", 10.0, "3"))}, "asks[1]"),
        (
            {"recipes": (Recipe("designer", "chip", {"wafer": 2.0}, capacity=math.nan),)},
            "recipes[0]",
        ),
        (
            {
                "routes": (
                    Route("fab", "designer", "wafer", capacity=30.0, cost=0.5),
                    Route("designer", "lab", "chip", capacity=30.0, cost=-0.5),
                )
            },
            "routes[1]",
        ),
        (
            {
                "routes": (
                    Route("fab", "designer", "wafer", capacity=30.0, cost=0.5, allowed=1),
                    Route("designer", "lab", "chip", capacity=30.0, cost=0.5),
                )
            },
            "routes[0]",
        ),
        (
            {"commitments": (Commitment("c1", "fab", "designer", "wafer", 4.0, math.nan),)},
            "commitments[0]",
        ),
        (
            {"blocks": (Block("blk", bids=(Bid("lab", "chip", 1.0, -120.0),), min_ratio=1.0),)},
            "blocks[0].bids[0]",
        ),
    ],
)
def test_numbers_are_checked_on_a_book_of_a_known_shape(changes, expected):
    """A clearer that has cleared a book checks only the numbers, flags and ids of the
    next book of the same shape; a bad number there is still named."""
    from optimizers.form import shape_key

    book = base_book(**changes)
    assert shape_key(book) == shape_key(base_book())  # the same shape: the short path
    for backend in ("highspy", "pyomo"):
        warm = Clearer(backend=backend)
        warm.clear(base_book())
        with pytest.raises(OrderBookError) as info:
            warm.clear(book)
        assert expected in str(info.value), str(info.value)
        # The clearer still clears the valid book afterwards, without a rebuild.
        assert not warm.clear(base_book()).rebuilt


def test_duplicate_commitment_id_is_caught_on_a_book_of_a_known_shape():
    """Commitment ids are not part of the shape, so a clearer checks them every tick."""
    base = base_book(
        routes=(
            Route("fab", "designer", "wafer", capacity=30.0, cost=0.5),
            Route("designer", "lab", "chip", capacity=30.0, cost=0.5),
        ),
        commitments=(
            Commitment("c1", "fab", "designer", "wafer", 4.0, 2.5),
            Commitment("c2", "designer", "lab", "chip", 1.0, 90.0),
        ),
    )
    twin = OrderBook(
        bids=base.bids,
        asks=base.asks,
        recipes=base.recipes,
        routes=base.routes,
        commitments=(base.commitments[0], replace_id(base.commitments[1], "c1")),
        blocks=base.blocks,
    )
    warm = Clearer(backend="highspy")
    warm.clear(base)
    with pytest.raises(OrderBookError, match=r"commitments\[1\].*duplicates commitment id"):
        warm.clear(twin)


def replace_id(c: Commitment, new_id: str) -> Commitment:
    return Commitment(new_id, c.seller, c.buyer, c.good, c.quantity, c.price)
