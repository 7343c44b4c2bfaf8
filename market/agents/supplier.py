"""Capacity lines and the supplier behaviour that fabs, memory makers, packagers and
power providers share: a step ask at unit cost plus a markup that follows scarcity,
and capacity expansion with a lead time when utilisation and margins justify it. New
capacity on a line that needs tools waits for them (``market.tools``, ODD 7.14)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from market import metrics
from market.agents.base import MarketAgent, ema
from market.ledger import EXTERNAL
from market.tolerance import exceeds
from market.tools import ToolOrder, bid_price, payback_ratio

NAN = float("nan")


@dataclass(slots=True)
class Line:
    """Capacity to make one good: units per tick, unit cost $, capex $ per unit/tick."""

    good: str
    capacity: float
    unit_cost: float
    capex_per_unit: float
    lead_time: int
    markup: float
    depreciation: float = 0.0
    pipeline: list[tuple[int, float]] = field(default_factory=list)  # (ready tick, units)
    reserved: float = 0.0  # units/tick financed by customers' prepayments (in pipeline or built)
    sold: float = 0.0  # units sold this tick
    available: float = 0.0  # effective capacity this tick (after shocks)
    price_ema: float | None = None
    util_ema: float | None = None
    markup_step: float | None = None  # None: behaviour.markup_step
    min_markup: float = 0.0  # its markup's floor when idle
    tools_per_unit: float = 0.0  # tool units per unit/tick of new capacity (market.tools)
    tool_orders: list[ToolOrder] = field(default_factory=list)  # capacity waiting for tools
    tools_cancelled: float = 0.0  # tool units of orders cancelled so far

    def price(self) -> float:
        return self.unit_cost * (1.0 + self.markup)

    def tools_on_order(self) -> float:
        """Tool units its waiting capacity orders still need."""
        return sum(o.units for o in self.tool_orders) * self.tools_per_unit

    @classmethod
    def from_spec(cls, good: str, spec) -> Line:
        """The line a ``market.scenario.Supplier`` spec describes."""
        return cls(
            good,
            spec.capacity,
            spec.unit_cost,
            spec.capex_per_unit,
            spec.lead_time,
            spec.markup,
            spec.depreciation,
            markup_step=spec.markup_step,
            min_markup=spec.min_markup,
            tools_per_unit=getattr(spec, "tools_per_unit", 0.0),
        )


class Supplier(MarketAgent):
    """An agent holding one or more capacity lines."""

    def __init__(self, model, name: str, region: str, cash: float, lines: list[Line]) -> None:
        super().__init__(model, name, region, cash)
        self.lines = {line.good: line for line in lines}
        self.tools_unfilled = 0.0  # tool units it bid for and did not get this tick

    def capacity_for(self, good: str) -> float:
        line = self.lines.get(good)
        return line.capacity if line is not None else 0.0

    def capacity_rows(self) -> list[tuple[str, float, float, float]]:
        return [(ln.good, ln.capacity, ln.available, ln.sold) for ln in self.lines.values()]

    def line(self, good: str) -> Line | None:
        return self.lines.get(good)

    def columns(self) -> dict[str, float]:
        cap = sum(line.available for line in self.lines.values())
        sold = sum(line.sold for line in self.lines.values())
        return dict(
            capacity=sum(line.capacity for line in self.lines.values()), sold=sold,
            utilisation=metrics.utilisation(min(sold, cap), cap) if cap > 0 else NAN,
            stranded=metrics.stranded_capacity(cap, sold),
            markup=max(line.markup for line in self.lines.values()),
            tools_on_order=sum(line.tools_on_order() for line in self.lines.values()),
        )  # fmt: skip

    def prepare(self) -> None:
        """New capacity arrives, old retires; this tick's shocks set what is available."""
        factor = self.model.policy.capacity_factor(self.name)
        t = self.model.tick
        for line in self.lines.values():
            arrived = sum(u for ready, u in line.pipeline if ready <= t)
            line.pipeline = [(r, u) for r, u in line.pipeline if r > t]
            line.capacity = line.capacity * (1 - line.depreciation) + arrived
            line.available = line.capacity * factor

    def submit_orders(self) -> None:
        b = self.model.world.behaviour
        steps = ((1 - b.ask_top_share, 1.0), (b.ask_top_share, 1 + b.ask_top_premium))
        for line in self.lines.values():
            for share, mult in steps:
                self.ask(line.good, line.available * share, line.price() * mult)
        self.bid_for_tools()

    def bid_for_tools(self) -> None:
        """One bid for tools per line that needs them, every tick (0 units when nothing
        waits), so the book keeps its shape (ODD 7.14)."""
        b = self.model.world.behaviour
        tool_list = self.model.list_prices.get("tools", 0.0)
        for line in self.tool_lines():
            price = bid_price(line.tool_orders, tool_list, b.tool_bid_premium)
            self.bid("tools", line.tools_on_order(), price)

    def tool_lines(self) -> list[Line]:
        """Its lines whose new capacity needs tools, in line order (its bids' order)."""
        return [line for line in self.lines.values() if line.tools_per_unit > 0]

    def settle(self) -> None:
        for line in self.lines.values():
            line.sold = self.model.outcome.sold.get((self.name, line.good), 0.0)
            self.model.ledger.pay(self.name, EXTERNAL, line.sold * line.unit_cost, "operating")
        lines = self.tool_lines()
        if lines:
            fills = self.model.outcome.fills.get(self.name, ())
            spent = self.model.outcome.spent.get((self.name, "tools"), 0.0)
            self.capex_total += spent  # tools are capital spending (paid in the clearing)
            self.tools_unfilled = 0.0
            got_all = sum(fills[: len(lines)])
            tool_price = spent / got_all if got_all > 0 else 0.0
            for line, got in zip(lines, fills):
                self.tools_unfilled += max(0.0, line.tools_on_order() - got)
                self._receive_tools(line, got, tool_price)

    def _receive_tools(self, line: Line, tools: float, tool_price: float = 0.0) -> None:
        """Capacity enters the pipeline for the tools received (oldest orders first);
        the rest of its capex is paid now; own orders past the patience are cancelled.
        Each order's tools (at ``tool_price`` $ per tool unit) and the rest of its capex go
        into the risk book (``market.risk``), a reserved order's prepaid share as the
        customer's."""
        m = self.model
        t = m.tick
        units = tools / line.tools_per_unit
        for order in line.tool_orders:
            if units <= 0:
                break
            take = min(order.units, units)
            units -= take
            order.units -= take
            line.pipeline.append((max(t + 1, t - 1 + order.lead), take))
            cost = take * order.non_tool_capex(line.tools_per_unit)
            m.ledger.pay(self.name, EXTERNAL, cost, "capex")
            self.capex_total += cost
            self._record(line, cost + take * line.tools_per_unit * tool_price, order.customer)
        if units > 0:  # tools beyond its orders' need (within tolerance): its own
            self._record(line, units * line.tools_per_unit * tool_price, "")
        patience = m.world.behaviour.tool_patience
        keep = []
        for order in line.tool_orders:
            if order.units <= 1e-9 * max(1.0, line.capacity):
                continue
            if not order.reserved and t - order.placed >= patience:
                line.tools_cancelled += order.units * line.tools_per_unit
                continue
            keep.append(order)
        line.tool_orders = keep

    def decide(self) -> None:
        b = self.model.world.behaviour
        for line in self.lines.values():
            util = self.utilisation(line)
            line.util_ema = ema(line.util_ema, util, b.foresight)
            # What it was paid (spot at its offer, contracts at their price), not the
            # shadow price: it expands on the margin it earns.
            price = self.model.outcome.received_price(self.name, line.good)
            if price is not None and line.sold > 0:
                line.price_ema = ema(line.price_ema, price, b.foresight)
            step = b.markup_step if line.markup_step is None else line.markup_step
            # Within a stated tolerance (market.tolerance): a line sold at exactly the
            # threshold, give or take the last bit of the clearing, is treated alike.
            if not exceeds(b.sold_out_utilisation, util):
                line.markup = min(b.max_markup, line.markup + step)
            elif exceeds(b.idle_utilisation, util):
                line.markup = max(line.min_markup, line.markup - step)
            self._maybe_expand(line)

    def utilisation(self, line: Line) -> float:
        """This tick's utilisation of ``line`` as its markup and expansion rules read it:
        units sold / units available (0 when nothing is available)."""
        return line.sold / line.available if line.available > 0 else 0.0

    def _maybe_expand(self, line: Line) -> None:
        b = self.model.world.behaviour
        if line.util_ema is None or line.util_ema < b.expansion_trigger or line.price_ema is None:
            return
        self.expand_if_it_pays(line, line.price_ema - line.unit_cost)

    def expand_if_it_pays(self, line: Line, margin: float) -> None:
        """Order ``behaviour.expansion_step`` of ``line``'s capacity if ``margin`` ($ per
        unit) pays back its capex (after subsidies) within ``behaviour.payback_ticks`` and
        it can pay for it before reaching its credit line (``market.credit``)."""
        b = self.model.world.behaviour
        capex = line.capex_per_unit * self.model.policy.capex_factor(self.name)
        if margin * b.payback_ticks < capex:
            return
        units = b.expansion_step * line.capacity
        if units * capex > self.headroom:
            return
        self.expand(line, units, capex)

    def halt(self) -> None:
        self.tools_unfilled = 0.0
        for line in self.lines.values():
            line.available = line.sold = 0.0
            line.tools_cancelled += line.tools_on_order()  # a defaulted builder orders nothing
            line.tool_orders = []

    def lead_time(self, line: Line) -> int:
        """Ticks from ordering capacity on ``line`` now to using it: its lead time times
        the permitting multiplier in force (region and ``permitting_delay`` shocks),
        rounded up (a tolerance of 1e-9 keeps 10 x 1.1 at 11)."""
        factor = self.model.policy.lead_time_factor(self.name)
        return max(line.lead_time, math.ceil(line.lead_time * factor - 1e-9))

    def expand(
        self, line: Line, units: float, capex_per_unit: float, price: float | None = None
    ) -> None:
        """Order ``units`` per tick of new capacity, ready after the (permitted) lead time.

        A line that needs no tools pays capex now and the capacity enters the pipeline.
        Otherwise the order waits for its tools (``market.tools``), valued by its payback
        ratio at ``price`` ($ per unit it will earn): a reservation passes its contract
        price (and counts the customer's prepayment), its own expansion its price EMA."""
        lead = self.lead_time(line)
        customer = self._reserving_customer(line) if price is not None else ""
        if line.tools_per_unit <= 0:
            cost = units * capex_per_unit
            line.pipeline.append((self.model.tick + lead, units))
            self.model.ledger.pay(self.name, EXTERNAL, cost, "capex")
            self.capex_total += cost
            self._record(line, cost, customer)
            return
        earns = price if price is not None else (line.price_ema or line.price())
        b = self.model.world.behaviour
        prepaid = b.reservation_prepayment if price is not None else 0.0
        value = payback_ratio(earns - line.unit_cost, b.payback_ticks, capex_per_unit, prepaid)
        line.tool_orders.append(
            ToolOrder(
                self.model.tick, units, capex_per_unit, lead, value, price is not None, customer
            )
        )

    def _reserving_customer(self, line: Line) -> str:
        """The buyer of the capacity reservation just signed for ``line`` (the desk signs
        it, then asks for the capacity: ``ContractDesk.reserve_capacity``), else ""."""
        book = self.model.desk.book.contracts
        c = book[-1] if book else None
        if c is not None and c.kind == "capacity_reservation" and c.seller == self.name:
            return c.buyer if c.good == line.good else ""
        return ""

    def _record(self, line: Line, cost: float, customer: str) -> None:
        """Capex paid this tick for ``line`` into the risk book (``market.risk``): a
        customer's reservation prepaid ``reservation_prepayment`` of it, the rest is the
        supplier's own cash and debt."""
        risk = self.model.risk
        prepaid = self.model.world.behaviour.reservation_prepayment * cost if customer else 0.0
        if prepaid > 0:
            risk.record_expansion(self.name, line.good, prepaid, "prepayment", party=customer)
        risk.record_expansion(self.name, line.good, cost - prepaid)


class SingleLineSupplier(Supplier):
    """A supplier of one good whose spec is a ``market.scenario.Supplier``."""

    GOOD = ""

    def __init__(self, model, spec) -> None:
        super().__init__(
            model, spec.name, spec.region, spec.cash, [Line.from_spec(self.GOOD, spec)]
        )


def list_prices(suppliers: list[Supplier]) -> dict[str, float]:
    """Each good's list price ($/unit): its suppliers' marked-up prices, weighted by capacity."""
    value: dict[str, float] = {}
    units: dict[str, float] = {}
    for s in suppliers:
        for line in s.lines.values():
            value[line.good] = value.get(line.good, 0.0) + line.capacity * line.price()
            units[line.good] = units.get(line.good, 0.0) + line.capacity
    return {g: value[g] / units[g] for g in sorted(value) if units[g] > 0}
