"""The clearing does not depend on the order in which a book lists anything.

Listing bids, asks, recipes, routes, commitments, blocks, agents or goods in
another order must give the same fills (each mapped back to its order) and the
same prices per node, to 1e-6 relative: the price rule's weights come from a
node's identity (``prices.node_weight``) and ties split by the tie rule
(``ties.py``), not by the simplex vertex. Also: tied sellers split pro rata,
and the tie rule keeps the LP's optimal welfare.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markets import random_chain_market, random_single_good_market
from test_blocks import random_book as random_block_book
from test_reference import random_book as random_contract_book

from optimizers import Ask, Bid, Clearer, Clearing, OrderBook, Recipe, Route, SolverOptions
from optimizers.prices import node_weight, price_weights
from optimizers.ties import WELFARE_RTOL

TIES = SolverOptions(split_ties=True)
PLAIN = SolverOptions(split_ties=False)
SECTIONS = ("bids", "asks", "recipes", "routes", "commitments", "blocks", "agents", "goods")
FILLS = (
    ("bids", "bid_fills"),
    ("asks", "ask_fills"),
    ("recipes", "recipe_activity"),
    ("routes", "route_flows"),
    ("commitments", "commitment_deliveries"),
    ("blocks", "block_ratios"),
)
GENERATORS = {
    "single_good": random_single_good_market,
    "chain": random_chain_market,
    "contracts": random_contract_book,
    "blocks": lambda rng: random_block_book(rng, min_ratios=(1.0, 0.5)),
}


def permuted(book: OrderBook, rng: np.random.Generator) -> tuple[OrderBook, dict]:
    """The book with every list shuffled, and each list's permutation (new i <- old p[i])."""
    perms, fields = {}, {}
    for name in SECTIONS:
        items = getattr(book, name)
        p = rng.permutation(len(items))
        perms[name] = p
        fields[name] = tuple(items[i] for i in p)
    return OrderBook(**fields), perms


def assert_same_clearing(a: Clearing, b: Clearing, perms: dict, tag: object) -> None:
    """``b`` cleared the permuted book: its fills map back onto ``a``'s, prices agree."""
    scale = max(
        1.0,
        *(float(np.abs(getattr(a, f)).max(initial=0.0)) for _, f in FILLS),
    )
    for section, field in FILLS:
        back = np.empty_like(getattr(b, field))
        back[perms[section]] = getattr(b, field)
        np.testing.assert_allclose(
            back, getattr(a, field), rtol=1e-6, atol=1e-6 * scale, err_msg=f"{tag} {field}"
        )
    assert set(a.prices) == set(b.prices), tag
    pscale = max(1.0, max(map(abs, a.prices.values()), default=0.0))
    for node, p in a.prices.items():
        assert abs(b.prices[node] - p) <= 1e-6 * pscale, (tag, node, p, b.prices[node])


@pytest.mark.parametrize("kind", sorted(GENERATORS))
@settings(derandomize=True, max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_permuting_every_list_gives_the_same_clearing(kind, seed):
    rng = np.random.default_rng(seed)
    book = GENERATORS[kind](rng)
    base = Clearer(TIES).clear(book)
    for k in range(2):
        shuffled, perms = permuted(book, rng)
        r = Clearer(TIES, backend="highspy" if k else "pyomo").clear(shuffled)
        assert_same_clearing(base, r, perms, (kind, seed, k))


def test_permuting_the_synthetic_supply_chain_gives_the_same_clearing():
    from optimizers.synthetic import synthetic_book

    rng = np.random.default_rng(3)
    book = synthetic_book(3, rng)
    base = Clearer(TIES, backend="highspy").clear(book)
    assert base.tie_status in ("split", "none")
    shuffled, perms = permuted(book, rng)
    assert_same_clearing(base, Clearer(TIES, backend="highspy").clear(shuffled), perms, "synthetic")


def two_sellers(q1: float, q2: float, demand: float, scale: float = 1.0) -> OrderBook:
    return OrderBook(
        asks=(Ask("s1", "w", q1 * scale, 10.0), Ask("s2", "w", q2 * scale, 10.0)),
        bids=(Bid("b", "w", demand * scale, 20.0),),
        routes=(Route("s1", "b", "w"), Route("s2", "b", "w")),
    )


@pytest.mark.parametrize("scale", [1e-9, 1.0, 1e9])
@pytest.mark.parametrize("backend", ["pyomo", "highspy"])
def test_two_identical_sellers_split_equally(backend, scale):
    r = Clearer(TIES, backend=backend).clear(two_sellers(3.0, 3.0, 2.0, scale))
    np.testing.assert_allclose(r.ask_fills, [1.0 * scale, 1.0 * scale], rtol=1e-6)
    np.testing.assert_allclose(r.route_flows, r.ask_fills, rtol=1e-6)


@pytest.mark.parametrize("backend", ["pyomo", "highspy"])
def test_tied_sellers_sell_pro_rata_to_their_quantity(backend):
    # 3 and 1 units at the same ask, demand 2: each sells half its quantity.
    r = Clearer(TIES, backend=backend).clear(two_sellers(3.0, 1.0, 2.0))
    np.testing.assert_allclose(r.ask_fills, [1.5, 0.5], rtol=1e-6)
    assert r.tie_status == "split"
    # Listing the sellers the other way round changes nothing.
    b = two_sellers(3.0, 1.0, 2.0)
    flipped = OrderBook(asks=b.asks[::-1], bids=b.bids, routes=b.routes[::-1])
    r2 = Clearer(TIES, backend=backend).clear(flipped)
    np.testing.assert_allclose(r2.ask_fills, [0.5, 1.5], rtol=1e-6)


def test_tied_designers_produce_pro_rata_to_capacity():
    book = OrderBook(
        asks=(Ask("fab", "wafer", 100.0, 1.0),),
        recipes=(
            Recipe("d1", "chip", {"wafer": 1.0}, capacity=4.0, cost=2.0),
            Recipe("d2", "chip", {"wafer": 1.0}, capacity=12.0, cost=2.0),
        ),
        routes=(
            Route("fab", "d1", "wafer"),
            Route("fab", "d2", "wafer"),
            Route("d1", "lab", "chip"),
            Route("d2", "lab", "chip"),
        ),
        bids=(Bid("lab", "chip", 8.0, 10.0),),
    )
    r = Clearer(TIES).clear(book)
    np.testing.assert_allclose(r.recipe_activity, [2.0, 6.0], rtol=1e-6)


@pytest.mark.parametrize("kind", sorted(GENERATORS))
@pytest.mark.parametrize("seed", range(15))
def test_tie_rule_keeps_the_lp_optimum_and_conserves_flow(kind, seed):
    book = GENERATORS[kind](np.random.default_rng(500 + seed))
    plain = Clearer(PLAIN).clear(book)
    split = Clearer(TIES).clear(book)
    assert abs(split.welfare - plain.welfare) <= WELFARE_RTOL * max(1.0, abs(plain.welfare))
    # Every node balances: fills into a node equal fills out of it.
    net: dict = {}
    for o, f in zip(book.bids, split.bid_fills):
        net[o.agent, o.good] = net.get((o.agent, o.good), 0.0) + f
    for o, f in zip(book.asks, split.ask_fills):
        net[o.agent, o.good] = net.get((o.agent, o.good), 0.0) - f
    for r, f in zip(book.recipes, split.recipe_activity):
        net[r.agent, r.output] = net.get((r.agent, r.output), 0.0) - f
        for g, units in r.inputs.items():
            net[r.agent, g] = net.get((r.agent, g), 0.0) + units * f
    for rt, f in zip(book.routes, split.route_flows):
        net[rt.seller, rt.good] = net.get((rt.seller, rt.good), 0.0) + f
        net[rt.buyer, rt.good] = net.get((rt.buyer, rt.good), 0.0) - f
    for c, f in zip(book.commitments, split.commitment_deliveries):
        net[c.seller, c.good] = net.get((c.seller, c.good), 0.0) + f
        net[c.buyer, c.good] = net.get((c.buyer, c.good), 0.0) - f
    for blk, ratio in zip(book.blocks, split.block_ratios):
        for o in blk.bids:
            net[o.agent, o.good] = net.get((o.agent, o.good), 0.0) + ratio * o.quantity
        for o in blk.asks:
            net[o.agent, o.good] = net.get((o.agent, o.good), 0.0) - ratio * o.quantity
    if book.commitments:  # disposal absorbs a surplus at contract buyers' nodes
        buyers = {(c.buyer, c.good) for c in book.commitments}
        net = {n: v for n, v in net.items() if n not in buyers or v > 0}
    assert max(map(abs, net.values()), default=0.0) <= 1e-6, net


def test_price_weights_depend_on_the_node_not_its_position():
    nodes = [("a", "wafer"), ("b", "hbm"), (3, "power"), ("c", "wafer")]
    w = price_weights(nodes)
    assert np.all((w >= 1.0) & (w < 1.25)) and len(set(w.tolist())) == len(nodes)
    np.testing.assert_array_equal(price_weights(nodes[::-1]), w[::-1])
    assert node_weight((np.int64(3), "power")) == node_weight((3, "power"))


def test_price_weights_are_the_same_in_another_process():
    code = "from optimizers.prices import node_weight; print(repr(node_weight(('lab', 'compute'))))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert float(out.stdout.strip().splitlines()[-1]) == node_weight(("lab", "compute"))
