"""What every market agent has: a name, a region, cash, and a profit record."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from optimizers import Ask, Bid, Recipe

if TYPE_CHECKING:
    from market.model import MarketModel


def ema(old: float | None, new: float, weight: float) -> float:
    """Exponential moving average; the first observation starts it."""
    return new if old is None else (1 - weight) * old + weight * new


class MarketAgent(mesa.Agent):
    """Base class: orders go to ``model.orders``; money moves only through the ledger."""

    model: MarketModel

    def __init__(self, model: MarketModel, name: str, region: str, cash: float) -> None:
        super().__init__(model)
        self.name = name
        self.region = region
        self.cash = float(cash)
        self.profit = 0.0  # $ this tick: operating cash flow (excl. capex, prepayments)
        self.profit_total = 0.0
        self.capex_total = 0.0
        self.prepaid_total = 0.0  # $ of customers' prepayments received (finances capex)

    # The tick, as MarketModel.step calls it.
    def submit_orders(self) -> None:
        """Append this tick's bids, asks and recipes to the model's order collector."""

    def settle(self) -> None:
        """Update stocks from the clearing (payments are made by the model's settlement)."""

    def decide(self) -> None:
        """Learn from the tick and decide: prices, capacity, contracts."""

    # Helpers.
    def ask(self, good: str, quantity: float, price: float) -> None:
        self.model.orders.asks.append((self.unique_id, Ask(self.name, good, quantity, price)))

    def bid(self, good: str, quantity: float, price: float) -> None:
        self.model.orders.bids.append((self.unique_id, Bid(self.name, good, quantity, price)))

    def recipe(self, output: str, inputs: dict[str, float], capacity: float, cost: float) -> None:
        r = Recipe(self.name, output, inputs, capacity, cost)
        self.model.orders.recipes.append((self.unique_id, r))

    @property
    def roi(self) -> float:
        """Cumulative operating profit / cumulative capex (NaN before any capex)."""
        return self.profit_total / self.capex_total if self.capex_total > 0 else float("nan")
