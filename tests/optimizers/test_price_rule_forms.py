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

from optimizers import SolverOptions
from optimizers.clearing import _fix_integers
from optimizers.form import build_data, build_layout
from optimizers.prices import DualPriceRule, PriceRule
from optimizers.reference import HighspyModel

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
