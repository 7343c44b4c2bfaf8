"""How the market reads solver output: quantities within a stated tolerance of zero are zero.

The clearing LP returns floats with rounding noise (a recipe that makes nothing
may report 3e-10 units in one ordering of the book and 0 in another). Decisions
must not hinge on that noise, so every quantity read from a ``Clearing`` is
snapped: ``|q| <= REL_QUANTITY x scale`` becomes exactly 0, where ``scale`` is the
size of the good's market this tick (the sum of its ask, bid and recipe-capacity
quantities, at least 1 unit).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

#: Relative tolerance on quantities read from the solver (share of the good's market).
REL_QUANTITY = 1e-8


#: Relative tolerance on prices in decisions: a price is above a threshold only if it
#: exceeds it by more than this share. Clearing prices often sit exactly on a level
#: made from asks (e.g. 11.0 x 1.05 = 1.1 x 10.5), and rounding must not decide.
REL_PRICE = 1e-6


def exceeds(price: float, threshold: float) -> bool:
    """Whether ``price`` is above ``threshold`` by more than ``REL_PRICE`` (relative)."""
    return price > threshold + REL_PRICE * max(abs(threshold), 1.0)


def snap(q: float, scale: float) -> float:
    """``q`` as a float, or exactly 0.0 when within ``REL_QUANTITY x scale`` of zero."""
    return float(snap_array(np.asarray([q], float), np.asarray([scale], float))[0])


def snap_array(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """:func:`snap` element-wise: ``q`` with entries within ``REL_QUANTITY x max(1, scale)``
    of zero set to exactly 0.0."""
    return np.where(np.abs(q) <= REL_QUANTITY * np.maximum(1.0, scale), 0.0, q)


def market_scales(book) -> dict[str, float]:
    """Units per good in the tick's book (asks + bids + finite recipe capacities)."""
    scale: dict[str, float] = defaultdict(float)
    for o in (*book.asks, *book.bids):
        scale[o.good] += o.quantity
    for r in book.recipes:
        if math.isfinite(r.capacity):
            scale[r.output] += r.capacity
    for c in book.commitments:
        scale[c.good] += c.quantity
    return dict(scale)
