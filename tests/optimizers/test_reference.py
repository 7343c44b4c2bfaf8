"""The Pyomo backend and the direct highspy reference clear every book alike.

On random multi-good books (a wafer + HBM -> chip -> compute chain with power,
routes, closed routes and contracts) both backends must report the same
welfare (1e-9 relative) and prices (1e-6), and the same fills wherever the
fills are unique. Uniqueness, and the optimal welfare itself, come from an
independent LP written here from the book's meaning (not from ``form.py``):
each fill is minimised and maximised over the optimal face.
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
)
from optimizers.testing import Face, assert_fills_on_face, close

AGENTS = ("f1", "f2", "m1", "d1", "d2", "c1", "p1", "l1", "l2")
GOODS = ("wafer", "hbm", "chip", "power", "compute")
N_BOOKS = 30


# --- random books -------------------------------------------------------------------------
def random_book(rng: np.random.Generator, *, blocks: bool = False) -> OrderBook:
    """A random supply chain book; integer prices (many ties) unless ``blocks``."""

    def price(lo, hi):
        if blocks:  # continuous prices: no exact ties between block decisions
            return float(np.round(rng.uniform(lo, hi), 4))
        return float(rng.integers(lo, hi + 1))

    def qty(lo=1, hi=10):
        return float(rng.integers(lo, hi + 1))

    def capacity():
        return float(rng.choice([math.inf, 3.0, 6.0, 12.0]))

    asks = []
    for agent, good, lo, hi in (
        ("f1", "wafer", 1, 6),
        ("f2", "wafer", 1, 6),
        ("m1", "hbm", 2, 8),
        ("p1", "power", 1, 4),
    ):
        for _ in range(rng.integers(1, 3)):
            asks.append(Ask(agent, good, qty(), price(lo, hi)))
    if rng.random() < 0.3:
        asks.append(Ask("d1", "chip", qty(1, 4), price(20, 60)))
    bids = []
    for agent in ("l1", "l2"):
        for _ in range(rng.integers(1, 4)):
            bids.append(Bid(agent, "compute", qty(), price(30, 150)))
    if rng.random() < 0.4:
        bids.append(Bid("l1", "chip", qty(1, 5), price(20, 80)))
    if rng.random() < 0.3:
        bids.append(Bid("d2", "wafer", qty(1, 5), price(1, 10)))
    recipes = [
        Recipe(
            d,
            "chip",
            {"wafer": float(rng.choice([1.0, 2.0])), "hbm": float(rng.choice([0.5, 1.0, 2.0]))},
            capacity=capacity(),
            cost=price(0, 5),
        )
        for d in ("d1", "d2")
        if rng.random() < 0.9
    ]
    recipes.append(
        Recipe(
            "c1",
            "compute",
            {"chip": 1.0, "power": float(rng.choice([1.0, 2.0]))},
            capacity=capacity(),
            cost=price(0, 5),
        )
    )
    links = [(f, d, "wafer") for f in ("f1", "f2") for d in ("d1", "d2")]
    links += [("m1", d, "hbm") for d in ("d1", "d2")]
    links += [(d, "c1", "chip") for d in ("d1", "d2")]
    links += [("d1", "l1", "chip"), ("p1", "c1", "power")]
    links += [("c1", lab, "compute") for lab in ("l1", "l2")]
    links += [("f1", "f2", "wafer"), ("d1", "d2", "chip")]
    present = [link for link in links if rng.random() < 0.85]
    # Contracts ride on upstream routes (and pay their cost per unit delivered).
    upstream = [link for link in present if link[2] in ("wafer", "hbm")]
    commitments = []
    for k in range(rng.integers(0, 3)):
        if not upstream:
            break
        link = upstream[rng.integers(len(upstream))]
        commitments.append(Commitment(f"k{k}", *link, qty(0, 8), price(1, 10)))
    routes = tuple(
        Route(
            *link,
            capacity=capacity(),
            cost=price(0, 3),
            allowed=bool(rng.random() > 0.1),
        )
        for link in present
    )
    block_list = []
    if blocks:
        block_list = [
            Block("lab-block", bids=(Bid("l2", "compute", qty(1, 3), price(40, 250)),)),
            Block(
                "fab-block",
                asks=(Ask("f2", "wafer", qty(4, 12), price(0, 3)),),
                min_ratio=float(rng.choice([0.5, 1.0])),
            ),
        ]
    return OrderBook(
        bids=tuple(bids),
        asks=tuple(asks),
        recipes=tuple(recipes),
        routes=routes,
        commitments=tuple(commitments),
        blocks=tuple(block_list),
        agents=AGENTS,
        goods=GOODS,
    )


# --- the independent optimal-face oracle --------------------------------------------------
def assert_backends_agree(py: Clearing, hs: Clearing, what: str) -> None:
    assert py.status == hs.status == "optimal"
    assert close(py.welfare, hs.welfare, 1e-9), (what, py.welfare, hs.welfare)
    assert py.nodes == hs.nodes
    for node, a, b in zip(py.nodes, py.price_array, hs.price_array, strict=True):
        assert close(a, b, 1e-6), (what, node, a, b)
    assert py.shortfall_penalty == hs.shortfall_penalty


# --- tests --------------------------------------------------------------------------------
def test_backends_agree_on_random_books():
    rng = np.random.default_rng(31415)
    stats = {"unique": 0, "varying": 0, "short": 0, "traded": 0, "closed": 0}
    for k in range(N_BOOKS):
        book = random_book(rng)
        py = Clearer(backend="pyomo").clear(book)
        hs = Clearer(backend="highspy").clear(book)
        assert_backends_agree(py, hs, f"book {k}")

        face = Face(book, py.shortfall_penalty)
        assert close(py.welfare, face.welfare, 1e-9), (k, py.welfare, face.welfare)
        unique = assert_fills_on_face(face, {"pyomo": py, "highspy": hs}, k)
        np.testing.assert_allclose(
            py.commitment_shortfalls.sum(), hs.commitment_shortfalls.sum(), atol=1e-6
        )
        stats["unique"] += int(unique.sum())
        stats["varying"] += int((~unique).sum())
        stats["short"] += int(py.commitment_shortfalls.sum() > 1e-6)
        stats["traded"] += int(py.bid_fills.sum() > 1e-6)
        stats["closed"] += int(any(not rt.allowed for rt in book.routes))
    # The books cover degenerate and unique fills, contract shortfalls, trade, closed routes.
    assert stats["unique"] > 100 and stats["varying"] > 10, stats
    assert stats["short"] >= 3 and stats["traded"] >= N_BOOKS // 2 and stats["closed"] >= 5, stats


def test_persistent_backends_agree_tick_after_tick():
    # One book shape, new numbers each tick (same rng stream shape: fixed structure draws).
    base_rng = np.random.default_rng(2718)
    base = random_book(base_rng)
    py, hs = Clearer(backend="pyomo"), Clearer(backend="highspy")
    rng = np.random.default_rng(1)
    for tick in range(25):
        if tick == 0:
            book = base
        else:
            book = OrderBook(
                bids=tuple(
                    Bid(b.agent, b.good, float(rng.integers(0, 11)), float(rng.integers(30, 151)))
                    for b in base.bids
                ),
                asks=tuple(
                    Ask(a.agent, a.good, float(rng.integers(0, 11)), float(rng.integers(1, 9)))
                    for a in base.asks
                ),
                recipes=tuple(
                    Recipe(r.agent, r.output, r.inputs, r.capacity, float(rng.integers(0, 6)))
                    for r in base.recipes
                ),
                routes=tuple(
                    Route(
                        rt.seller,
                        rt.buyer,
                        rt.good,
                        capacity=float(rng.choice([math.inf, 2.0, 5.0, 9.0])),
                        cost=rt.cost,
                        allowed=bool(rng.random() > 0.15),
                    )
                    for rt in base.routes
                ),
                commitments=tuple(
                    Commitment(c.id, c.seller, c.buyer, c.good, float(rng.integers(0, 9)), c.price)
                    for c in base.commitments
                ),
                agents=AGENTS,
                goods=GOODS,
            )
        a, b = py.clear(book), hs.clear(book)
        assert a.rebuilt is b.rebuilt is (tick == 0)
        assert_backends_agree(a, b, f"tick {tick}")
        face = Face(book, a.shortfall_penalty)
        assert close(a.welfare, face.welfare, 1e-9), (tick, a.welfare, face.welfare)


@pytest.mark.parametrize("seed", range(12))
def test_backends_agree_with_blocks(seed):
    book = random_book(np.random.default_rng(1000 + seed), blocks=True)
    py = Clearer(backend="pyomo").clear(book)
    hs = Clearer(backend="highspy").clear(book)
    assert_backends_agree(py, hs, f"seed {seed}")
    np.testing.assert_allclose(py.block_ratios, hs.block_ratios, atol=1e-9)
    for r in (py, hs):
        for blk, ratio in zip(book.blocks, r.block_ratios, strict=True):
            assert ratio <= 1e-9 or blk.min_ratio - 1e-9 <= ratio <= 1 + 1e-9


def test_block_books_cover_both_decisions():
    decisions = set()
    for seed in range(12):
        book = random_book(np.random.default_rng(1000 + seed), blocks=True)
        r = Clearer(backend="highspy").clear(book)
        decisions.update((i, bool(x > 1e-6)) for i, x in enumerate(r.block_ratios))
    assert len(decisions) == 4, decisions  # each block accepted somewhere and rejected somewhere
