"""The Pyomo adapter names the private attribute a Pyomo release moved, and the
Clearer's layout is public."""

from __future__ import annotations

import pytest

from optimizers import Ask, Bid, Clearer, ClearingError, OrderBook
from optimizers.pyomo_adapter import highs_columns, highs_instance, highs_rows


class _MovedSolver:
    """A solver object from a hypothetical Pyomo release without the private maps."""


@pytest.mark.parametrize(
    "read", [highs_instance, lambda s: highs_columns(s, []), lambda s: highs_rows(s, [])]
)
def test_missing_private_attribute_is_a_named_error(read):
    with pytest.raises(ClearingError, match=r"Pyomo .* has no attribute '_.*'.*backend='highspy'"):
        read(_MovedSolver())


def test_clearer_layout_is_public_and_follows_the_book():
    c = Clearer()
    assert c.layout is None
    book = OrderBook(asks=[Ask("s", "w", 2.0, 1.0)], bids=[Bid("s", "w", 1.0, 5.0)])
    c.clear(book)
    assert c.layout is not None
    assert c.layout.num_cols == 2 and c.layout.nodes == (("s", "w"),)
