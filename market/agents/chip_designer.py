"""Chip designer: makes accelerators (in H100e) by recipe from wafers, HBM and CoWoS.

Per H100e it needs 1/(chips_per_wafer*h) wafers, hbm_per_chip/h GB of HBM and
1/(chips_per_cowos_wafer*h) CoWoS wafer-equivalents (h = realised H100e per chip:
``h100e_per_chip x performance``). Its recipe cost is its unit cost plus a margin
= markup x its list cost, where the list cost is the unit cost plus the inputs at
list prices: contracted units at their contract price, the rest at the market's
list price (suppliers' asks, capacity-weighted; ``supplier.list_prices``), never at
the clearing's scarcity duals, so an input's rent is not multiplied by the markup.

Pricing power: the rent at its node is r = p - list cost (p: the accelerator's
nodal price at the designer). When it sells and r exceeds its margin by more
than ``designer_rent_margin``, the markup moves ``designer_markup_speed`` of the
way to r / list cost (capped at ``max_markup``): the designer takes the scarcity
rent, and the scarce input's price falls back towards its list price. Otherwise
the markup decays by ``markup_step`` per tick towards its list markup (the
scenario's ``markup``). When an input is scarce (its price at the designer is
more than ``reservation_trigger`` above the supplier's ask), it reserves supplier
capacity with a prepayment that finances the expansion.

With generations (ODD 7.15, ``market.generations``) it submits one recipe per
generation, each with its own inputs and unit cost, capped by the generation's ramp.
"""

from __future__ import annotations

from market import generations as gen
from market.agents.base import MarketAgent, ema
from market.goods import STOCK
from market.ledger import EXTERNAL
from market.scenario import DesignerSpec
from market.tolerance import REL_QUANTITY, exceeds

INPUTS = ("wafer", "hbm", "cowos")


class ChipDesigner(MarketAgent):
    def __init__(self, model, spec: DesignerSpec) -> None:
        super().__init__(model, spec.name, spec.region, spec.cash)
        self.spec = spec
        h = spec.h100e_per_chip * spec.performance  # realised H100e per chip
        self.inputs = {
            "wafer": 1.0 / (spec.chips_per_wafer * h),
            "hbm": spec.hbm_per_chip / h,
            "cowos": 1.0 / (spec.chips_per_cowos_wafer * h),
        }
        self.unit_cost = spec.unit_cost / h  # $ per H100e
        self.capacity = spec.capacity * h  # H100e per tick
        self.markup = spec.markup
        self.list_markup = spec.markup  # the floor its markup decays to
        self.captive_to = spec.captive_to
        self.input_price_ema: dict[str, float] = {}  # $/unit at its node (clearing), EMA
        self.list_price: dict[str, float] = {}  # $/unit of each input at list (see module)
        self.made = 0.0  # H100e made this tick
        self.made_ema: float | None = None  # H100e per tick, moving average
        self.made_before = 0.0  # H100e made the tick before last
        self.output_cap = self.capacity  # H100e it can make this tick (allocation)
        # Build to forecast (stock_ticks > 0): finished H100e in stock, their book value
        # at cost ($), the stock written down this tick ($), expected sales (H100e/tick).
        self.builds_to_stock = spec.stock_ticks > 0
        self.forecast = spec.start_sales * h
        self.stock = self.forecast * spec.stock_ticks  # it starts with its target stock
        self.stock_value: float | None = None if self.stock > 0 else 0.0  # set at tick 0
        self.write_down = 0.0
        self.stranded = False  # every route for its chips is closed this tick
        self.sold = 0.0  # H100e sold this tick (from stock and made to order)
        self.built = 0.0  # H100e made for stock this tick
        self.sold_out = False  # its stock sold out this tick
        # Generations (ODD 7.15): inputs and $ per H100e of each, planned shares of output,
        # and H100e made by generation this tick.
        self.generations = spec.generations
        n = len(self.generations)
        self.gen_h = [gen.realised(g, spec.performance) for g in self.generations]
        self.gen_inputs = [
            gen.inputs_per_h100e(g.chips_per_wafer, g.hbm_per_chip, g.chips_per_cowos_wafer, h)
            for g, h in zip(self.generations, self.gen_h)
        ]
        self.gen_unit_cost = [g.unit_cost / h for g, h in zip(self.generations, self.gen_h)]
        self.gen_share = [0.0] * n
        self.gen_made = [0.0] * n
        if n:
            self._plan_generations(0)
            self.forecast = spec.start_sales * self._chip_h100e()

    def _chip_h100e(self) -> float:
        """Realised H100e per chip of the planned mix (shares are of H100e)."""
        return 1.0 / sum(s / h for s, h in zip(self.gen_share, self.gen_h) if s > 0)

    def _plan_generations(self, tick: int) -> None:
        """This tick's planned shares (``generations.shares``); its inputs, unit cost and
        capacity per H100e become those of the planned mix (H100e-weighted)."""
        self.gen_share = gen.shares(self.generations, tick)
        self.inputs = {
            g: sum(s * inp[g] for s, inp in zip(self.gen_share, self.gen_inputs)) for g in INPUTS
        }
        self.unit_cost = sum(s * c for s, c in zip(self.gen_share, self.gen_unit_cost))
        self.capacity = self.spec.capacity * self._chip_h100e()

    def input_cost(self) -> float:
        """$ of inputs per H100e at recent prices at its node (0 until prices are seen)."""
        return sum(units * self.input_price_ema.get(g, 0.0) for g, units in self.inputs.items())

    def list_cost(self) -> float:
        """$ per H100e its margin is set on: unit cost + inputs at list prices."""
        market = self.model.list_prices
        return self.unit_cost + sum(
            units * self.list_price.get(g, market.get(g, 0.0)) for g, units in self.inputs.items()
        )

    def asking_price(self) -> float:
        """$ per H100e it asks at list: its list cost plus its margin on it."""
        return (1 + self.markup) * self.list_cost()

    def nominate(self, contract) -> float:
        """Supply agreements and capacity reservations: the units it expects to need (its
        expected output, ``expected_output``, x the input per H100e), shared over its contracts
        for the good, at most the quantity (the unused minimum is paid for, not taken:
        ``contracts.ContractDesk.nominate``); other contracts in full."""
        q = contract.quantity
        if contract.kind not in ("supply_agreement", "capacity_reservation"):
            return q
        if self.made_ema is None:
            return q
        need = self.expected_output() * self.inputs[contract.good]
        held = sum(
            c.quantity
            for c in self.model.desk.book.held(self.model.tick, self.name, good=contract.good)
            if c.active(self.model.tick)
        )
        ratio = need / held if held > 0 else 1.0
        return min(q, ratio * q)

    def capacity_for(self, good: str) -> float:
        return self.capacity if good == "accelerator" else 0.0

    def capacity_rows(self) -> list[tuple[str, float, float, float]]:
        return [("accelerator", self.capacity, self.capacity, self.made)]

    def expected_output(self) -> float:
        """H100e it expects to make this tick: the lowest of its moving average, last
        tick's output and last tick's output continued at its last rate of change
        (it calls inputs for a falling output, not for the past)."""
        trend = self.made * self.made / self.made_before if self.made_before > 0 else self.made
        return min(self.made_ema, self.made, trend)

    def input_used(self, good: str) -> float | None:
        if good not in self.inputs:
            return None
        if self.generations:
            return sum(q * inp[good] for q, inp in zip(self.gen_made, self.gen_inputs))
        return self.made * self.inputs[good]

    def halt(self) -> None:
        self.made = self.output_cap = 0.0

    def columns(self) -> dict[str, float]:
        return dict(
            capacity=self.capacity, sold=self.made if not self.builds_to_stock else self.sold,
            markup=self.markup, stock=self.stock, stock_value=self.stock_value,
            write_down=self.write_down,
        )  # fmt: skip

    def prepare(self) -> None:
        """A build-to-forecast designer whose every route is closed by this tick's policy
        (an export rule on its region's part) writes its stock down to nothing."""
        self.write_down = 0.0
        self.prepare_generations()
        if not self.builds_to_stock:
            return
        if self.stock_value is None:  # its start stock, valued at list cost
            self.stock_value = self.stock * self.list_cost()
        self.stranded = not self.model.open_routes(self.name, "accelerator")
        if self.stranded and self.stock > 0:
            self.write_down = self.stock_value
            self.stock = self.stock_value = 0.0

    def submit_orders(self) -> None:
        if self.builds_to_stock:
            self._stock_orders()
            return
        margin = self.markup * self.list_cost()
        if self.generations:
            self._generation_orders(margin)
            return
        self.recipe("accelerator", self.inputs, self.allocation_cap(), self.unit_cost + margin)

    def _generation_orders(self, margin: float) -> None:
        """One recipe per generation, every tick (cap 0 when not on sale: the book keeps its
        shape), each with its own inputs and unit cost plus the designer's margin per H100e.
        Caps (H100e): every generation but the oldest on sale, cap_g = s_g x E (E: its
        expected output, ``expected_output``; C before its first tick); the oldest on sale
        takes C (C = ``allocation_cap``): it fills what the newer ones do not make, so a
        new generation whose inputs are short leaves its output to the older one."""
        cap = self.allocation_cap()
        expected = self.expected_output() if self.made_ema is not None else cap
        on_sale = [i for i, s in enumerate(self.gen_share) if s > 0]
        oldest = min(on_sale, key=lambda i: (self.generations[i].launch, i))
        plans = [s * expected for s in self.gen_share]
        plans[oldest] = float("inf")
        for i, inputs in enumerate(self.gen_inputs):
            cost = self.gen_unit_cost[i] + margin
            self.recipe("accelerator", inputs, min(cap, plans[i]), cost, plan=plans[i])

    def _stock_orders(self) -> None:
        """Build to forecast (ODD 7.4, "Regional parts and finished-goods stock").

        It sells only from stock, asked at its list price discounted by the holding cost
        h (what a chip kept one more tick is worth). It makes chips into stock (the
        internal good ``stock``, sold from the next tick) by a recipe at their own cost
        (no margin: the margin is earned on the sale), bidding for them at the list
        price discounted twice (a chip made now sells next tick at list x (1 - h) and is
        worth that x (1 - h) now). It plans to build

            build = max(0, (1 + stock_ticks) x forecast - stock)   (H100e)

        and nothing while every route for its chips is closed."""
        h = self.spec.holding_cost
        price = self.asking_price()
        if self.stock > 0:
            self.ask("accelerator", self.stock, price * (1 - h))
        target = self.forecast * (1 + self.spec.stock_ticks)
        plan = 0.0 if self.stranded else max(0.0, target - self.stock)
        self.recipe(STOCK, self.inputs, min(plan, self.allocation_cap()), self.unit_cost, plan=plan)
        self.bid(STOCK, plan, price * (1 - h) ** 2)

    def allocation_cap(self) -> float:
        """H100e it can make this tick: its capacity, at most what its secured inputs allow
        (``market.allocation``); kept as ``output_cap``."""
        self.output_cap = min(self.capacity, self.model.allocation.output_cap(self))
        return self.output_cap

    def prepare_generations(self) -> None:
        """Plan this tick's generation mix (called from ``prepare``)."""
        if self.generations:
            self._plan_generations(self.model.tick)

    def settle(self) -> None:
        out = self.model.outcome
        self.made_before = self.made
        self.made = out.made.get(self.name, 0.0)
        if self.generations:
            self.gen_made = list(out.activities.get(self.name, self.gen_made))
            cost = sum(q * c for q, c in zip(self.gen_made, self.gen_unit_cost))
        else:
            cost = self.made * self.unit_cost
        self.model.ledger.pay(self.name, EXTERNAL, cost, "operating")
        if self.builds_to_stock:
            self._settle_stock()

    def gen_mix(self) -> list[float]:
        """Share of this tick's output (H100e) by generation, read from this tick's recipe
        activities (whoever settles first); planned shares if it made nothing."""
        made = self.model.outcome.activities.get(self.name, ())
        total = sum(made)
        return [q / total for q in made] if total > 0 else list(self.gen_share)

    def _settle_stock(self) -> None:
        """Stock out: its ask's fill, at the stock's average cost; stock in: the stock
        recipe's output, at the chips' cost (unit cost plus inputs at its node's prices)."""
        out = self.model.outcome
        self.sold = min(self.stock, out.sold.get((self.name, "accelerator"), 0.0))
        self.sold_out = self.sold >= self.stock * (1 - REL_QUANTITY) and self.stock > 0
        if self.stock > 0:
            self.stock_value *= 1 - self.sold / self.stock
        self.stock -= self.sold
        self.built = self.made
        inputs = sum(u * (out.node_price(self.name, g) or 0.0) for g, u in self.inputs.items())
        self.stock += self.built
        self.stock_value += self.built * (self.unit_cost + inputs)

    def _learn_list_prices(self) -> None:
        """Inputs at list: contracted units at their contract price, the rest at the
        market's list price (moving average over ticks with deliveries)."""
        m = self.model
        w = m.world.behaviour.foresight
        contracted: dict[str, tuple[float, float]] = {}
        for k, d, _ in m.outcome.deliveries:
            if k.buyer == self.name and d > 0:
                units, value = contracted.get(k.good, (0.0, 0.0))
                contracted[k.good] = (units + d, value + d * k.price)
        for g in self.inputs:
            got = sum(m.outcome.inflows(self.name, g).values())
            if got <= 0:
                continue
            units, value = contracted.get(g, (0.0, 0.0))
            spot = max(0.0, got - units)
            price = (value + spot * m.list_prices.get(g, 0.0)) / (units + spot)
            self.list_price[g] = ema(self.list_price.get(g), price, w)

    def decide(self) -> None:
        m = self.model
        out = m.outcome
        b = m.world.behaviour
        for g in INPUTS:
            p = out.node_price(self.name, g)
            if p is not None:
                self.input_price_ema[g] = ema(self.input_price_ema.get(g), p, b.foresight)
        self._learn_list_prices()
        self.made_ema = ema(self.made_ema, self.made, b.foresight)
        if self.builds_to_stock and not self.stranded:
            if self.sold_out:  # demand was at least the stock: it cannot see how much more
                self.forecast *= 1 + self.spec.forecast_step
            else:
                self.forecast = ema(self.forecast, self.sold, b.foresight)
        price = out.node_price(self.name, "accelerator")
        cost = self.list_cost()
        margin = self.markup * cost
        rent = (price - cost) if price is not None else 0.0
        if self.made > 0 and exceeds(rent, (1 + b.designer_rent_margin) * margin):
            target = min(b.max_markup, rent / cost)
            step = b.designer_markup_speed * (target - self.markup)
            # Its list price (1 + m) x cost rises at most designer_max_price_rise a tick.
            self.markup = min(
                self.markup + step, (1 + self.markup) * (1 + b.designer_max_price_rise) - 1
            )
        else:
            self.markup = max(self.list_markup, self.markup - b.markup_step)
        if b.contracting:
            self._reserve_scarce_inputs()

    def _reserve_scarce_inputs(self) -> None:
        """Reserve capacity of a scarce input with every supplier that delivered it, each in
        proportion to its deliveries (a symmetric rule: two suppliers that deliver alike
        are treated alike, and which one delivered a hair more decides nothing)."""
        m = self.model
        b = m.world.behaviour
        for g in INPUTS:
            got = m.outcome.inflows(self.name, g)
            total = sum(got.values())
            here = m.outcome.node_price(self.name, g)
            if total <= 0 or here is None:
                continue
            for supplier in sorted(got):
                units = got[supplier]
                ask = m.outcome.ask_price(supplier, g)
                if units <= REL_QUANTITY * total or ask is None or ask <= 0:
                    continue
                ramp = min(1.0, (here / ask - 1 - b.reservation_trigger) / b.reservation_ramp)
                if ramp <= 0 or not exceeds(here, (1 + b.reservation_trigger) * ask):
                    continue
                held = m.desk.book.held(m.tick, self.name, supplier, g)
                if any(c.kind == "capacity_reservation" for c in held):
                    continue
                quantity = ramp * b.contract_share * units
                m.desk.request("capacity_reservation", self.name, supplier, g, quantity, ask)
