"""The result of one clearing: plain data, aligned with the order book."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from optimizers.book import AgentId, Good, OrderBook
from optimizers.form import Data, Layout, natural


@dataclass(frozen=True, slots=True)
class Clearing:
    """Allocations and prices of one tick.

    Arrays are aligned with the book: ``bid_fills[i]`` is the units filled of
    ``book.bids[i]``, and so on. ``prices[(agent, good)]`` is $ per unit at that
    node under the price rule of ``prices.py`` (a seller there is paid it, a
    buyer pays it). ``welfare`` ($) is bid value - ask cost - recipe cost - route
    cost - penalty * commitment shortfall.
    """

    status: str
    welfare: float
    bid_fills: np.ndarray
    ask_fills: np.ndarray
    recipe_activity: np.ndarray
    route_flows: np.ndarray
    commitment_deliveries: np.ndarray
    commitment_shortfalls: np.ndarray
    block_ratios: np.ndarray
    block_bid_fills: tuple[np.ndarray, ...]
    block_ask_fills: tuple[np.ndarray, ...]
    prices: Mapping[tuple[AgentId, Good], float]
    nodes: tuple[tuple[AgentId, Good], ...]
    price_array: np.ndarray
    shortfall_penalty: float
    build_seconds: float
    solve_seconds: float
    price_seconds: float
    rebuilt: bool
    tie_seconds: float = 0.0  # time spent by the tie rule (ties.py)
    tie_status: str = "off"  # "none" (no tie), "split", or why the LP's vertex was kept

    def price(self, agent: AgentId, good: Good) -> float:
        """$ per unit of ``good`` at ``agent`` (KeyError if the book has no such node)."""
        return self.prices[(agent, good)]


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


def assemble(
    book: OrderBook,
    layout: Layout,
    data: Data,
    x: np.ndarray,
    prices: np.ndarray,
    *,
    status: str,
    build_seconds: float,
    solve_seconds: float,
    price_seconds: float,
    rebuilt: bool,
    tie_seconds: float = 0.0,
    tie_status: str = "off",
) -> Clearing:
    """Turn a solved column vector ``x`` and node prices into a :class:`Clearing`."""
    cols = layout.cols
    # Clip solver noise so fills never leave [lower, upper], then back to the book's units.
    x_lp = np.clip(x, data.col_lo, data.col_hi)
    x = natural(layout, x_lp)
    quantities = np.fromiter(
        (c.quantity for c in book.commitments), dtype=np.float64, count=len(book.commitments)
    )
    deliveries = x[cols["delivery"]]
    ratios = x[cols["ratio"]]
    welfare = float(layout.scale * (data.c @ x_lp) - data.offset)
    price_array = _frozen(prices)
    return Clearing(
        status=status,
        welfare=welfare,
        bid_fills=_frozen(x[cols["bid"]]),
        ask_fills=_frozen(x[cols["ask"]]),
        recipe_activity=_frozen(x[cols["recipe"]]),
        route_flows=_frozen(x[cols["route"]]),
        commitment_deliveries=_frozen(deliveries),
        commitment_shortfalls=_frozen(np.maximum(quantities - deliveries, 0.0)),
        block_ratios=_frozen(ratios),
        block_bid_fills=tuple(
            _frozen([r * o.quantity for o in b.bids]) for r, b in zip(ratios, book.blocks)
        ),
        block_ask_fills=tuple(
            _frozen([r * o.quantity for o in b.asks]) for r, b in zip(ratios, book.blocks)
        ),
        prices=dict(zip(layout.nodes, price_array.tolist())),
        nodes=layout.nodes,
        price_array=price_array,
        shortfall_penalty=data.penalty,
        build_seconds=build_seconds,
        solve_seconds=solve_seconds,
        price_seconds=price_seconds,
        rebuilt=rebuilt,
        tie_seconds=tie_seconds,
        tie_status=tie_status,
    )
