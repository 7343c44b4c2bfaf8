"""Chip designer: makes accelerators (in H100e) by recipe from wafers, HBM and CoWoS.

Per H100e it needs 1/(chips_per_wafer*h) wafers, hbm_per_chip/h GB of HBM and
1/(chips_per_cowos_wafer*h) CoWoS wafer-equivalents (h = H100e per chip). Its
recipe cost is its unit cost plus a margin = markup x its list cost (unit cost
plus inputs at the first prices it saw), so input scarcity passes through
rather than being multiplied; the markup rises while the market pays more than
inputs + unit cost + margin at its node, falls while it sells nothing, and is
held otherwise. When an
input is scarce (its price at the designer is >10% above the supplier's ask),
it reserves supplier capacity with a prepayment that finances the expansion.
"""

from __future__ import annotations

from market.agents.base import MarketAgent, ema
from market.ledger import EXTERNAL
from market.scenario import DesignerSpec

INPUTS = ("wafer", "hbm", "cowos")


class ChipDesigner(MarketAgent):
    def __init__(self, model, spec: DesignerSpec) -> None:
        super().__init__(model, spec.name, spec.region, spec.cash)
        h = spec.h100e_per_chip
        self.inputs = {
            "wafer": 1.0 / (spec.chips_per_wafer * h),
            "hbm": spec.hbm_per_chip / h,
            "cowos": 1.0 / (spec.chips_per_cowos_wafer * h),
        }
        self.unit_cost = spec.unit_cost / h  # $ per H100e
        self.capacity = spec.capacity * h  # H100e per tick
        self.markup = spec.markup
        self.captive_to = spec.captive_to
        self.input_price_ema: dict[str, float] = {}
        self.list_input_cost: float | None = None
        self.made = 0.0  # H100e made this tick

    def input_cost(self) -> float:
        """$ of inputs per H100e at recent prices (0 until prices are seen)."""
        return sum(units * self.input_price_ema.get(g, 0.0) for g, units in self.inputs.items())

    def list_cost(self) -> float:
        """$ per H100e its margin is set on: unit cost plus the inputs at the first prices
        it saw (a list-price basis), so scarce inputs' rents pass through its price
        rather than being multiplied by its markup."""
        if self.list_input_cost is None and len(self.input_price_ema) == len(INPUTS):
            self.list_input_cost = self.input_cost()
        return self.unit_cost + (self.list_input_cost or 0.0)

    def capacity_for(self, good: str) -> float:
        return self.capacity if good == "accelerator" else 0.0

    def columns(self) -> dict[str, float]:
        return dict(capacity=self.capacity, sold=self.made, markup=self.markup)

    def submit_orders(self) -> None:
        margin = self.markup * self.list_cost()
        self.recipe("accelerator", self.inputs, self.capacity, self.unit_cost + margin)

    def settle(self) -> None:
        self.made = self.model.outcome.made.get(self.name, 0.0)
        self.model.ledger.pay(self.name, EXTERNAL, self.made * self.unit_cost, "operating")

    def decide(self) -> None:
        m = self.model
        out = m.outcome
        b = m.world.behaviour
        for g in INPUTS:
            p = out.node_price(self.name, g)
            if p is not None:
                self.input_price_ema[g] = ema(self.input_price_ema.get(g), p, b.foresight)
        price = out.node_price(self.name, "accelerator")
        asking = self.input_cost() + self.unit_cost + self.markup * self.list_cost()
        # Markup rule: up while a rent shows at its own node (the market would pay more
        # than its asking margin), down while it sells nothing, else held.
        if price is not None and self.made > 0 and price > (1 + b.designer_rent_margin) * asking:
            self.markup = min(b.max_markup, self.markup + b.markup_step)
        elif self.made == 0:
            self.markup = max(0.0, self.markup - b.markup_step)
        if b.contracting:
            self._reserve_scarce_inputs()

    def _reserve_scarce_inputs(self) -> None:
        m = self.model
        for g in INPUTS:
            supplier, used = m.outcome.top_supplier(self.name, g)
            if supplier is None or used <= 0:
                continue
            here, ask = m.outcome.node_price(self.name, g), m.outcome.ask_price(supplier, g)
            trigger = 1 + m.world.behaviour.reservation_trigger
            if here is None or ask is None or here <= trigger * ask:
                continue
            if m.desk.book.held(m.tick, self.name, supplier, g):
                continue
            quantity = m.world.behaviour.contract_share * used
            m.desk.request("capacity_reservation", self.name, supplier, g, quantity, ask)
