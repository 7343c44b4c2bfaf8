"""The outside DRAM market: PCs, phones, servers and other devices buy GB of ``dram``.

Its demand at tick t is ``quantity x (1 + growth)^(t / ticks_per_year)`` GB per tick at
``price`` ($/GB), times the ``dram_demand`` shocks in force. It bids a step demand curve
of constant elasticity e (``lab.demand_curve``) from price / span to price x span: at a
price p in that range it wants demand x (p / price)^-e. Its value of what it gets (each
unit at its step's price) comes from outside the model, as a lab's does; the DRAM price
is the clearing's price at its node (ODD 7.12).
"""

from __future__ import annotations

from market.agents.base import MarketAgent
from market.agents.lab import demand_curve
from market.ledger import EXTERNAL
from market.scenario import DramBuyerSpec


class DramBuyers(MarketAgent):
    def __init__(self, model, spec: DramBuyerSpec) -> None:
        super().__init__(model, spec.name, spec.region, spec.cash)
        self.spec = spec
        self.base = spec.quantity  # GB/tick wanted at spec.price, before shocks
        self.demand = spec.quantity  # GB/tick wanted at spec.price this tick
        self.received = 0.0
        self.unmet = 0.0
        self.steps: list[float] = []  # $/GB of this tick's bid steps, in bid order

    def submit_orders(self) -> None:
        s = self.spec
        if self.model.tick > 0:
            self.base *= (1 + s.growth) ** (1 / self.model.world.meta.ticks_per_year)
        self.demand = self.base * self.model.policy.demand_factor(self.name)
        low = s.price / s.span
        curve = demand_curve(
            self.demand * s.span**s.elasticity, low, s.elasticity, s.steps, s.span**2
        )
        self.steps = []
        for units, price in curve:
            self.bid("dram", units, price)
            self.steps.append(price)

    def wanted_at(self, price: float) -> float:
        """GB per tick its demand curve wants at ``price`` ($/GB) this tick."""
        s = self.spec
        p = min(max(price, s.price / s.span), s.price * s.span)
        return self.demand * (p / s.price) ** -s.elasticity

    def settle(self) -> None:
        fills = self.model.outcome.fills.get(self.name, ())
        self.received = sum(fills)
        self.unmet = max(0.0, self.demand - self.received)
        value = sum(f * p for f, p in zip(fills, self.steps))
        self.model.ledger.pay(EXTERNAL, self.name, value, "revenue")

    def halt(self) -> None:
        self.demand = self.received = self.unmet = 0.0

    def columns(self) -> dict[str, float]:
        return dict(demand=self.demand, received=self.received, unmet=self.unmet)
