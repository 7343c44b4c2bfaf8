"""The price rule solved through its LP dual gives the direct form's prices.

``DualPriceRule`` (the default, cheap) and ``PriceRule`` (the price LP written
as defined: least weighted |p| over the optimal dual face) must agree on every
row's dual, on books with degenerate ties, recipes, commitments and blocks.
"""

from __future__ import annotations

import numpy as np
import pytest
from markets import random_chain_market, random_single_good_market
from test_blocks import random_book as random_block_book
from test_reference import random_book as random_contract_book

from optimizers import SolverOptions, prices
from optimizers.clearing import _fix_integers
from optimizers.form import build_data, build_layout
from optimizers.prices import DualPriceRule, PriceRule
from optimizers.reference import HighspyModel
from optimizers.synthetic import perturb, synthetic_book

GENERATORS = {
    "single_good": random_single_good_market,
    "chain": random_chain_market,
    "contracts": random_contract_book,
    "blocks": lambda rng: random_block_book(rng, min_ratios=(1.0, 0.5)),
}


@pytest.mark.parametrize("kind", sorted(GENERATORS))
@pytest.mark.parametrize("seed", range(25))
def test_dual_form_gives_the_direct_forms_prices(kind, seed):
    book = GENERATORS[kind](np.random.default_rng(7000 + seed))
    options = SolverOptions()
    layout = build_layout(book)
    data = build_data(book, layout)
    model = HighspyModel(layout, data, options)
    status, x = model.solve()
    assert status == "Optimal"
    if layout.integer.any():
        data = _fix_integers(data, layout, x)
        model.update(data)
        model.set_integral(False)
        status, x = model.solve()
        assert status == "Optimal"
    direct = PriceRule(options).select_duals(layout, data, x)
    dual = DualPriceRule(options).select_duals(layout, data, x)
    scale = max(1.0, float(np.abs(direct).max(initial=0.0)))
    np.testing.assert_allclose(dual, direct, rtol=0, atol=1e-7 * scale)


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("reset_every_tick", [False, True])
def test_working_set_gives_the_direct_forms_prices_tick_after_tick(
    k, reset_every_tick, monkeypatch
):
    """The default rule solves the dual LP over a working set of columns kept between
    ticks; on a book whose numbers move by up to 30% a tick, its duals equal the
    direct form's and the whole dual LP's every tick, also when the set is rebuilt."""
    if reset_every_tick:
        monkeypatch.setattr(prices, "_WORKING_SET_ROWS", 0)
    rng = np.random.default_rng(40 + k)
    base = synthetic_book(k, rng)
    options = SolverOptions()
    layout = build_layout(base)
    model = HighspyModel(layout, build_data(base, layout), options)
    rule = DualPriceRule(options)
    rounds = []
    for tick in range(10):
        book = base if tick == 0 else perturb(base, rng, spread=0.3)
        data = build_data(book, layout)
        model.update(data)
        status, x = model.solve()
        assert status == "Optimal"
        got = rule.select_duals(layout, data, x)
        rounds.append(rule.last_rounds)
        direct = PriceRule(options).select_duals(layout, data, x)
        whole = DualPriceRule(options).select_full(layout, data, x)
        scale = max(1.0, float(np.abs(direct).max(initial=0.0)))
        np.testing.assert_allclose(got, direct, rtol=0, atol=1e-7 * scale, err_msg=f"tick {tick}")
        np.testing.assert_allclose(got, whole, rtol=0, atol=1e-7 * scale, err_msg=f"tick {tick}")
    # The first tick starts from the interior columns alone, so constraints outside the
    # set were found violated and added: the check-and-add path ran.
    assert rounds[0] > 1, rounds
    assert all(r >= 1 for r in rounds), rounds  # never fell back to the whole LP


def test_whole_dual_lp_takes_over_when_the_working_set_does_not_settle(monkeypatch):
    """With one restricted solve allowed, a first tick (which needs more) falls back to
    the dual LP over every column, and the prices are still the rule's."""
    monkeypatch.setattr(prices, "_MAX_ROUNDS", 1)
    book = synthetic_book(3, np.random.default_rng(3))
    options = SolverOptions()
    layout = build_layout(book)
    data = build_data(book, layout)
    status, x = HighspyModel(layout, data, options).solve()
    assert status == "Optimal"
    rule = DualPriceRule(options)
    got = rule.select_duals(layout, data, x)
    assert rule.last_rounds == 0  # the whole dual LP answered
    direct = PriceRule(options).select_duals(layout, data, x)
    scale = max(1.0, float(np.abs(direct).max(initial=0.0)))
    np.testing.assert_allclose(got, direct, rtol=0, atol=1e-7 * scale)
