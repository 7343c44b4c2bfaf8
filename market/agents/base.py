"""What every market agent has: a name, a region, cash, and a profit record."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import mesa
import numpy as np

from optimizers import Ask, Bid, Recipe

if TYPE_CHECKING:
    from market.model import MarketModel


def stable_hash(name: str) -> int:
    """A 64-bit hash of ``name`` that is the same in every process (unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def agent_rng(seed: int, name: str) -> np.random.Generator:
    """The agent's own random stream, from (seed, name) only: adding, removing or
    reordering other agents leaves its draws unchanged."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), stable_hash(name)]))


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
        self.stream = agent_rng(model.seed, name)  # its own draws (never model.rng)
        self.backlog = 0.0  # units of orders waiting on it (market.backlog)
        self.lead_times: dict[str, float] = {}  # good -> quoted lead time, weeks
        self.credit_line = 0.0  # $ it may borrow (set from its spec; market.credit)
        self.defaulted = False  # it defaulted and stopped trading (market.credit)
        self.default_tick: int | None = None
        self.default_loss = 0.0  # $ of contracts lost to counterparties' defaults, cumulative

    # The tick, as MarketModel.step calls it.
    def prepare(self) -> None:
        """Update this tick's capacity before anyone orders (suppliers)."""

    def submit_orders(self) -> None:
        """Append this tick's bids, asks and recipes to the model's order collector."""

    def settle(self) -> None:
        """Update stocks from the clearing (payments are made by the model's settlement)."""

    def decide(self) -> None:
        """Learn from the tick and decide: prices, capacity, contracts."""

    def halt(self) -> None:
        """It has defaulted: nothing more to sell this tick or later (types override)."""

    @property
    def headroom(self) -> float:
        """$ it may still spend before its cash reaches ``-credit_line`` (market.credit)."""
        return self.cash + self.credit_line

    # What the model and the tables ask of every agent (types override).
    def capacity_for(self, good: str) -> float:
        """Units of ``good`` per tick it can supply (before this tick's shocks)."""
        return 0.0

    def capacity_rows(self) -> list[tuple[str, float, float, float]]:
        """(good, capacity, available after shocks, sold) per good it makes, units per tick."""
        return []

    def line(self, good: str):
        """Its capacity line for ``good`` (suppliers), else None."""
        return None

    def input_used(self, good: str) -> float | None:
        """Units of ``good`` it used this tick (designers' recipe inputs), else None."""
        return None

    #: Whether it holds a fleet of installed accelerators (hyperscalers).
    holds_fleet = False

    @property
    def buys_fleet(self) -> bool:
        """Whether its accelerator (and MW, networking, shell) purchases are capex of a
        fleet of its own, recorded as expansions by the risk book (ODD 7.18)."""
        return self.holds_fleet

    def sell_fleet(self, share: float) -> tuple[dict, float]:
        """Give up ``share`` of its fleet for a distressed sale: (cohorts by designer as
        [retire tick, H100e] lists, MW that goes with them); nothing by default."""
        return {}, 0.0

    def buy_fleet(self, cohorts: dict, mw: float) -> None:
        """Take over ``cohorts`` and ``mw`` bought in a distressed sale (hyperscalers)."""
        raise TypeError(f"{type(self).__name__} holds no fleet")

    def allocation_cap(self) -> float | None:
        """Units its recipe may make this tick given the inputs it has secured in
        allocation (``market.allocation``), or None if it has no such recipe."""
        return None

    def nominate(self, contract) -> float:
        """Units it calls for this tick under ``contract`` (default: the full quantity)."""
        return contract.quantity

    def columns(self) -> dict[str, float]:
        """Its type's columns of the ``agents`` table (capacity, sold, markup, ...)."""
        return {}

    # Helpers: orders are tagged with the agent's name; the model puts the book in
    # name order (stable, so an agent's own orders keep their order).
    def ask(self, good: str, quantity: float, price: float) -> None:
        self.model.orders.asks.append((self.name, Ask(self.name, good, quantity, price)))

    def bid(self, good: str, quantity: float, price: float) -> None:
        self.model.orders.bids.append((self.name, Bid(self.name, good, quantity, price)))

    def recipe(
        self,
        output: str,
        inputs: dict[str, float],
        capacity: float,
        cost: float,
        plan: float | None = float("inf"),
    ) -> None:
        """Submit a recipe making ``output`` from ``inputs`` (units per unit), up to
        ``capacity`` units at ``cost`` $/unit. ``plan`` is its own bound apart from the
        inputs secured in allocation: when the model re-caps recipes mid-tick it sets
        ``capacity = min(plan, allocation_cap())``; ``None`` for a recipe the allocation
        does not bound (a traffic-class recipe, ODD 7.19), which keeps its capacity."""
        r = Recipe(self.name, output, inputs, capacity, cost)
        self.model.orders.recipes.append((self.name, r, plan))

    @property
    def roi(self) -> float:
        """Cumulative operating profit / cumulative capex (NaN before any capex)."""
        return self.profit_total / self.capex_total if self.capex_total > 0 else float("nan")
