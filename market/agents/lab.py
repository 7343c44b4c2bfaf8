"""AI lab: rents compute (H100e-quarters) for training and inference.

Demand grows each tick by its annual growth rate, which halves every
``growth_halflife`` years (an S-shaped adoption path), times a log-normal adoption
shock (its own stream from (seed, name), so neither activation order nor other
agents change its draws), and
a demand-bust shock scales it. It bids each use (inference, training) as a step
demand curve (``demand_curve``): all of it at its value, less of it at higher
prices with the use's price elasticity, and more below its value down to
``demand_floor_price`` x its value (``extra_demand``: cheap compute finds more
use); its revenue (from outside the model) is the value of the compute it gets
(each unit at its step's price). When its unmet share (EMA) passes the trigger it
signs a take-or-pay contract with the hyperscaler that served it most.

With traffic classes (ODD 7.19) its inference splits into premium (a share of it, bid
as ``compute_premium`` at the premium value) and economy (bid as ``compute`` at the
economy value, with training), and a recipe lets a share of its premium traffic fall
back to economy compute at the loss of the difference in value.
"""

from __future__ import annotations

import math

from market import traffic as tc
from market.agents.base import MarketAgent, ema
from market.agents.hyperscaler import Hyperscaler, most_spare_compute
from market.ledger import EXTERNAL
from market.own_fleet import OwnFleet
from market.scenario import LabSpec
from market.tolerance import REL_QUANTITY

#: Compute contracts it pays for in cash, minimum or rent included (it calls them to need).
PAID_IN_CASH = ("take_or_pay", "lease")

CLASS_COLUMNS = (
    "premium_demand", "premium_served", "moved", "premium_unmet", "economy_demand",
    "economy_served", "economy_unmet",
)  # fmt: skip
"""A lab's traffic classes this tick (ODD 7.19), H100e-quarters: premium demand at its value,
served (on premium hardware or moved), moved to economy hardware, unmet; the same for
economy inference (training is the rest of its demand)."""


def demand_curve(
    quantity: float, value: float, elasticity: float, steps: int, top: float
) -> list[tuple[float, float]]:
    """A step demand curve (units, $/unit) for ``quantity`` wanted at ``value``.

    Constant elasticity above the value: at price p >= value it wants
    quantity x (p / value)^-elasticity, up to ``top`` x value. Steps sit at
    p_k = value x top^(k/steps), k = 0..steps; the step at p_k holds
    q(p_k) - q(p_k+1) (the top step holds q(p_top)), so the steps sum to ``quantity``
    and the price rises smoothly as supply falls short.
    """
    prices = [value * top ** (k / steps) for k in range(steps + 1)]
    wanted = [quantity * (p / value) ** -elasticity for p in prices]
    out = [(wanted[k] - wanted[k + 1], prices[k]) for k in range(steps)]
    out.append((wanted[-1], prices[-1]))
    return out


def extra_demand(
    quantity: float, value: float, elasticity: float, steps: int, floor: float
) -> list[tuple[float, float]]:
    """Steps (units, $/unit) of the use it adds below its value when compute is cheap.

    With the same constant elasticity below the value, at price p in [floor x value,
    value) it wants quantity x (p / value)^-elasticity in all; steps sit at
    p_j = value x floor^(j/steps), j = 1..steps, the step at p_j holding
    q(p_j) - q(p_(j-1)). Empty when ``floor`` is 1 or ``steps`` 0."""
    if steps <= 0 or floor >= 1.0:
        return []
    prices = [value * floor ** (j / steps) for j in range(steps + 1)]
    wanted = [quantity * (p / value) ** -elasticity for p in prices]
    return [(wanted[j] - wanted[j - 1], prices[j]) for j in range(1, steps + 1)]


class Lab(MarketAgent):
    def __init__(self, model, spec: LabSpec) -> None:
        super().__init__(model, spec.name, spec.region, spec.cash)
        self.spec = spec
        self.training = spec.training
        self.inference = spec.inference
        self.demand = spec.training + spec.inference  # H100e-quarters wanted this tick
        self.received = 0.0
        self.unmet = 0.0
        self.unmet_ema: float | None = None
        self.equity_given = 0.0  # share of the lab given away for compute
        self.steps: list[float] = []  # $/unit of this tick's bid steps, in bid order
        self.revenue = 0.0  # $ of value it got from compute last tick
        self.cut = 1.0  # share of its demand curve it could pay for this tick (market.credit)
        # Its own accelerators, used first (ODD 7.17); None for a lab that rents all.
        self.own = OwnFleet(spec) if spec.fleet or spec.fleet_target > 0 else None
        # Traffic classes (ODD 7.19), H100e-quarters this tick: demand at its value, served
        # (premium: on premium hardware or moved), moved to economy hardware.
        self.goods: list[str] = []  # the good of each bid step, in bid order
        self.use_of_bid: list[int] = []  # the use (index in ``uses``) of each bid step
        self.market_factor = 1.0  # share of its demand taken to the market this tick
        self.by_class = {k: 0.0 for k in CLASS_COLUMNS}
        self.fallback = 0.0  # $ per H100e-quarter a moved premium request loses (delta)

    @property
    def buys_fleet(self) -> bool:
        """A lab with a fleet of its own (ODD 7.17) buys accelerators as capex."""
        return self.own is not None

    def uses(self, f: float | None = None) -> list[tuple[str, float, float, float]]:
        """(good, H100e-quarters wanted at its value, value $ per H100e-quarter, elasticity)
        per use, in bid order: inference (premium and economy with traffic classes), then
        training; after demand-bust shocks (``f``: the share of its demand it takes to the
        market, default the shocks' factor)."""
        s = self.spec
        if f is None:
            f = self.model.policy.demand_factor(self.name)
        t = self.model.world.traffic
        inference = self.inference * f
        e = s.inference_elasticity
        if tc.enabled(t):
            v_p, v_e = tc.class_values(s.inference_value, t)
            out = [
                (tc.PREMIUM, inference * t.premium_share, v_p, e),
                (tc.ECONOMY, inference * (1 - t.premium_share), v_e, e),
            ]
        else:
            out = [(tc.ECONOMY, inference, s.inference_value, e)]
        out.append((tc.ECONOMY, self.training * f, s.training_value, s.training_elasticity))
        return out

    def submit_orders(self) -> None:
        s = self.spec
        tpy = self.model.world.meta.ticks_per_year
        if self.model.tick > 0:
            shock = math.exp(s.volatility * self.stream.standard_normal() - s.volatility**2 / 2)
            fade = 0.5 ** (self.model.tick / tpy / s.growth_halflife)
            self.training *= (1 + s.training_growth * fade) ** (1 / tpy) * shock
            self.inference *= (1 + s.inference_growth * fade) ** (1 / tpy) * shock
        f = self.model.policy.demand_factor(self.name)
        self.demand = (self.training + self.inference) * f
        b = self.model.world.behaviour
        if self.own is not None:  # its own fleet serves its demand first (ODD 7.17)
            f *= self._serve_own()
        self.market_factor = f  # the share of its demand it takes to the market
        uses = self.uses(f)
        curve = [
            (good, *step, i)
            for i, (good, q, value, e) in enumerate(uses)
            for step in demand_curve(q, value, e, b.demand_steps, b.demand_top_price)
        ]
        ema_ = self.model.price_ema
        expected = {g: ema_.get(g, ema_.get(tc.ECONOMY)) for g in tc.COMPUTE_GOODS}  # $/unit
        # Its budget covers the demand at and above its values; the extra use below them
        # pays its way (each unit is worth its step price, more than it pays).
        self.cut = self._affordable(sum(q * min(p, expected[g] or p) for g, q, p, _ in curve))
        curve += [
            (good, *step, i)
            for i, (good, q, value, e) in enumerate(uses)
            for step in extra_demand(q, value, e, b.demand_floor_steps, b.demand_floor_price)
        ]
        self.steps = []
        self.goods = []
        self.use_of_bid = []
        for good, units, price, use in curve:
            self.bid(good, units * self.cut, price)
            self.steps.append(price)
            self.goods.append(good)
            self.use_of_bid.append(use)
        t = self.model.world.traffic
        if tc.enabled(t):  # a share of premium traffic may move to economy compute
            premium = sum(q for g, q, _, _ in uses if g == tc.PREMIUM) * self.cut
            self.fallback = tc.fallback_cost(s.inference_value, t)
            movable = premium * t.movable_share
            self.recipe(tc.PREMIUM, {tc.ECONOMY: 1.0}, movable, self.fallback, plan=None)

    def _serve_own(self) -> float:
        """Use its own fleet for its demand, bid for accelerators, and return the share of
        its demand left to the market, 1 - used / demand."""
        m = self.model
        own = self.own
        own.retire(m.tick)
        own.used = min(own.size, self.demand)
        if own.spec.fleet_target > 0:
            b = m.world.behaviour
            price = m.price_ema.get("compute", self.spec.training_value)
            value = own.value(
                price, b.rental_utilisation, b.rental_decline, b.valuation_ticks,
                m.world.meta.ticks_per_year,
            )  # fmt: skip
            value = max(0.0, value - m.list_prices.get("networking", 0.0))  # it buys that too
            want = own.wanted(self.demand, m.tick, b.fleet_adjustment_ticks)
            units = min(want, max(0.0, self.headroom) / value) if value > 0 else 0.0
            # As a hyperscaler's install bids (7.2): a share at a lower value. Every tick,
            # even at quantity 0: the book keeps its shape.
            low = b.install_low_share
            self.bid("accelerator", units * (1 - low), value)
            self.bid("accelerator", units * low, value * b.install_low_value)
        return 1.0 - own.used / self.demand if self.demand > 0 else 1.0

    def fleet_share(self, designer: str) -> float:
        """The designer's share of its own fleet (0 without one): the switching cost."""
        return self.own.share(designer) if self.own is not None else 0.0

    def _affordable(self, spend: float) -> float:
        """Share of its bids (``spend`` $ at the expected compute price, or the bid price
        if lower) it can pay: its headroom plus last tick's revenue, less its contract
        payments due this tick, plus those contracted units at its lower value
        (market.credit); 1 when it can pay them all. At tick 0, with no revenue yet,
        it counts on earning what it spends."""
        if spend <= 0:
            return 1.0
        s = self.spec
        t = self.model.tick
        due = [c for c in self.model.desk.book.held(t, self.name) if c.active(t)]
        owed = sum((c.nominated + c.deficiency) * c.price for c in due if c.kind in PAID_IN_CASH)
        worth = sum(c.nominated for c in due) * min(s.inference_value, s.training_value)
        earned = self.revenue if self.model.tick > 0 else spend  # no history: pays its way
        budget = self.headroom + earned - owed + worth
        return 1.0 if budget >= spend else max(0.0, budget) / spend

    def wanted_at(self, price: float) -> float:
        """H100e-quarters its demand curves want at ``price`` (this tick's demand)."""
        b = self.model.world.behaviour
        floor = b.demand_floor_price if b.demand_floor_steps > 0 else 1.0
        out = 0.0
        for _, q, value, e in self.uses():
            if price <= b.demand_top_price * value:
                out += q * (max(price, floor * value) / value) ** -e
        return out

    def halt(self) -> None:
        self.demand = self.received = self.unmet = 0.0
        self.by_class = {k: 0.0 for k in CLASS_COLUMNS}

    def settle(self) -> None:
        m = self.model
        fills = m.outcome.fills.get(self.name, ())
        self.received = sum(fills)
        value = sum(f * p for f, p in zip(fills, self.steps))  # its value of what it got
        if self.own is not None:  # its own compute, valued at its uses' values (ODD 7.17)
            own, s = self.own, self.spec
            self.received += own.used
            mix = self.training + self.inference
            if mix > 0:
                value += own.used * (s.training_value * self.training + s.inference_value
                                     * self.inference) / mix  # fmt: skip
            m.ledger.pay(self.name, EXTERNAL, s.fleet_opex * own.used, "operating")
            for designer, q in m.outcome.inflows(self.name, "accelerator").items():
                own.add(designer, q, m.tick)
        self.unmet = max(0.0, self.demand - self.received)
        if tc.enabled(m.world.traffic):
            moved = sum(m.outcome.activities.get(self.name, ()))
            value -= self.fallback * moved  # moved premium traffic is worth economy's value
            self._classes(fills, moved)
        self.revenue = value
        m.ledger.pay(EXTERNAL, self.name, value, "revenue")

    def decide(self) -> None:
        m = self.model
        b = m.world.behaviour
        share = self.unmet / self.demand if self.demand > 0 else 0.0
        self.unmet_ema = ema(self.unmet_ema, share, b.foresight)
        ramp = min(1.0, (self.unmet_ema - b.contract_trigger) / b.contract_ramp)
        if not b.contracting or ramp <= 0:
            return
        price = m.price_ema.get("compute")
        if price is None:
            return
        price *= 1 + b.contract_premium
        # With each hyperscaler that served it, in proportion to what it served (a
        # symmetric rule); with the one with most spare compute if none did.
        got = tc.compute_inflows(m.outcome, self.name)
        total = sum(got.values())
        if total > 0:
            shares = {h: q / total for h, q in got.items() if q > REL_QUANTITY * total}
        else:
            seller = most_spare_compute(m.agents_of(Hyperscaler))
            shares = {seller: 1.0} if seller is not None else {}
        quantity = self.contract_quantity(price, ramp * b.contract_share * self.demand)
        for seller in sorted(shares):
            if quantity > 0 and not m.desk.book.held(m.tick, self.name, seller, "compute"):
                q = quantity * shares[seller]
                m.desk.request("take_or_pay", self.name, seller, "compute", q, price)

    def contract_quantity(self, price: float, wanted: float) -> float:
        """H100e-quarters per tick it will sign for at ``price``: at most ``wanted``, at most
        what its demand curves want at that price (never above its own value of compute),
        and only while the minimum payments of all its take-or-pay contracts fit in its
        headroom plus last tick's revenue (market.credit)."""
        m = self.model
        b = m.world.behaviour
        q = min(wanted, self.wanted_at(price))
        nxt = m.tick + 1
        held = sum(
            c.min_take * c.quantity * c.price
            for c in m.desk.book.held(m.tick, self.name)
            if c.kind in PAID_IN_CASH and c.start <= nxt < c.end
        )
        room = self.headroom + self.revenue - held
        if price > 0 and b.contract_min_take > 0:
            q = min(q, room / (b.contract_min_take * price))
        return max(0.0, q)

    def _classes(self, fills: tuple[float, ...], moved: float) -> None:
        """Demand, served and unmet H100e-quarters by traffic class this tick (ODD 7.19)."""
        uses = self.uses(self.market_factor)
        served = {tc.PREMIUM: 0.0, tc.ECONOMY: 0.0}
        for good, q in zip(self.goods, fills):
            served[good] += q
        premium, economy, training = (q for _, q, _, _ in uses)
        # Economy inference's bids (use 1; training, use 2, bids economy compute too).
        economy_served = sum(q for q, use in zip(fills, self.use_of_bid) if use == 1)
        self.by_class = dict(
            premium_demand=premium, premium_served=served[tc.PREMIUM], moved=moved,
            premium_unmet=max(0.0, premium - served[tc.PREMIUM]), economy_demand=economy,
            economy_served=economy_served, economy_unmet=max(0.0, economy - economy_served),
        )  # fmt: skip

    def columns(self) -> dict[str, float]:
        out = dict(demand=self.demand, received=self.received, unmet=self.unmet)
        if self.own is not None:
            out["fleet"] = self.own.size
        return out

    def nominate(self, contract) -> float:
        """Take-or-pay: what it expects to need, at most q (the unused minimum is paid
        for, not taken: ``contracts.ContractDesk.nominate``); else q."""
        q = contract.quantity
        if contract.kind not in PAID_IN_CASH:
            return q
        return min(q, self.demand)
