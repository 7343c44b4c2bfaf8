"""MarketModel: the Mesa model and the wiring of one tick (DESIGN.md, "The tick").

1. shocks and policies of the tick apply (``shocks.policy_at``);
2. contracts due this tick become commitments (buyers nominate, caps apply);
3. every agent submits orders (``agents.shuffle_do("submit_orders")``; the book is
   then put in agent-creation order, so activation order cannot change it);
4. ``optimizers.Clearer`` clears the book (kept between ticks, warm-started);
5. settlement: spot trades pay the buyer's nodal price along each route (the
   route's cost goes outside the model), contracts pay their own price, breaches
   their penalty; agents update their stocks;
6. agents learn and decide (prices, capacity, contracts); debt pays interest;
   the tick's ledger moves the cash;
7. metrics are computed and collected (``metrics_tables``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import mesa

from market import contracts as ct
from market.agents import (
    ChipDesigner,
    Fab,
    Hyperscaler,
    Lab,
    MarketAgent,
    MemoryMaker,
    Packager,
    PowerProvider,
)
from market.agents.supplier import Supplier
from market.goods import GOODS, INSTALL
from market.ledger import EXTERNAL, Ledger
from market.network import build_network, route_table, routes_for_tick
from market.scenario import Scenario
from market.shocks import PolicyState, policy_at
from market.tick_metrics import TickRecorder
from market.tolerance import market_scales, snap
from optimizers import Clearer, Clearing, OrderBook, SolverOptions

AGENT_CLASSES = {
    "fabs": Fab,
    "memory_makers": MemoryMaker,
    "packagers": Packager,
    "designers": ChipDesigner,
    "power_providers": PowerProvider,
    "hyperscalers": Hyperscaler,
    "labs": Lab,
}
SECTIONS = tuple(AGENT_CLASSES)
CAPITAL_KINDS = ("capex", "prepayment")  # not part of operating profit


@dataclass(slots=True)
class Orders:
    """The tick's orders, each tagged with its agent's creation index."""

    bids: list = field(default_factory=list)
    asks: list = field(default_factory=list)
    recipes: list = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ReadClearing:
    """The clearing's quantities as the market reads them: snapped to exact zeros within
    ``market.tolerance.REL_QUANTITY`` of each good's market size."""

    ask_fills: list[float]
    bid_fills: list[float]
    recipe_activity: list[float]
    route_flows: list[float]
    commitment_deliveries: list[float]


def read_clearing(book: OrderBook, c: Clearing) -> ReadClearing:
    scale = market_scales(book)

    def snapped(orders, values, good_of) -> list[float]:
        return [snap(q, scale.get(good_of(o), 0.0)) for o, q in zip(orders, values)]

    return ReadClearing(
        snapped(book.asks, c.ask_fills, lambda o: o.good),
        snapped(book.bids, c.bid_fills, lambda o: o.good),
        snapped(book.recipes, c.recipe_activity, lambda o: o.output),
        snapped(book.routes, c.route_flows, lambda o: o.good),
        snapped(book.commitments, c.commitment_deliveries, lambda o: o.good),
    )


def _ordered(tagged: list) -> list:
    """Orders in agent-name order; the sort is stable, so each agent's own orders keep theirs."""
    return [o for _, o in sorted(tagged, key=lambda t: t[0])]


class MarketModel(mesa.Model):
    """The AI-infrastructure market. ``step()`` is one tick; ``run()`` the horizon."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int = 0,
        solver_options: SolverOptions | None = None,
    ) -> None:
        super().__init__(rng=seed)
        self.world = scenario
        self.seed = seed
        self.tick = 0
        self.graph = build_network(scenario)
        # Routes in (seller, buyer, good) order: the book does not depend on listing order.
        self._route_table = sorted(route_table(self.graph), key=lambda r: r[:3])
        self.by_name: dict[str, MarketAgent] = {}
        self._of_class: dict[type, list] = {}
        # Agents are created section by section in name order, whatever the scenario's
        # listing order: ids, activation order and every iteration follow from names.
        for section, spec in sorted(
            scenario.agent_specs(), key=lambda s: (SECTIONS.index(s[0]), s[1].name)
        ):
            agent = AGENT_CLASSES[section](self, spec)
            self.by_name[spec.name] = agent
        self.clearer = Clearer(solver_options or SolverOptions())
        self.contracts = ct.ContractBook()
        self.ledger = Ledger()  # open: payments until the end of the next tick
        self.last_ledger = Ledger()  # the last tick's payments, as applied to cash
        self.policy = PolicyState()
        self.price_ema: dict[str, float] = {}
        self.clearing: Clearing | None = None
        self.book: OrderBook | None = None
        self.recorder = TickRecorder(self)
        self.timing = {"agents": 0.0, "clearing": 0.0, "metrics": 0.0}
        self._reset_tick_state()
        self.requests = []
        self.deliveries: list[tuple[ct.Contract, float, float]] = []
        for c in scenario.contracts:
            self._sign_from_spec(c)

    # ------------------------------------------------------------------ the tick
    def step(self) -> None:
        t0 = time.perf_counter()
        self.policy = policy_at(self.world, self.tick)
        self._pay_signing()
        due = self.contracts.due(self.tick)
        self._nominate(due)
        self.orders = Orders()
        self.agents.shuffle_do("submit_orders")
        book, groups = self._book(due)
        t1 = time.perf_counter()
        self.clearing = self.clearer.clear(book)
        self.book = book
        t2 = time.perf_counter()
        self.read = read_clearing(book, self.clearing)
        self.deliveries = ct.split(groups, self.read.commitment_deliveries)
        self._index(book, self.clearing)
        self._settle_trades(book, self.clearing)
        self.agents.shuffle_do("settle")
        self.requests: list[tuple] = []
        self.agents.shuffle_do("decide")
        self._sign_requests()
        self._interest_and_cash()
        t3 = time.perf_counter()
        self.recorder.record()
        t4 = time.perf_counter()
        self.timing["agents"] += (t1 - t0) + (t3 - t2)
        self.timing["clearing"] += t2 - t1
        self.timing["metrics"] += t4 - t3
        self.tick += 1

    def run(self, ticks: int | None = None, progress=None) -> None:
        """Run ``ticks`` ticks (default: to the horizon), calling ``progress(tick)`` after each."""
        n = self.world.meta.horizon - self.tick if ticks is None else ticks
        for _ in range(n):
            self.step()
            if progress is not None:
                progress(self.tick)

    # ------------------------------------------------------------------ orders
    def _book(self, due: list[ct.Contract]) -> tuple[OrderBook, list[list[ct.Contract]]]:
        exclusive: dict[tuple[str, str], set[str]] = defaultdict(set)
        for c in due:
            if c.exclusive:
                exclusive[(c.buyer, c.good)].add(c.seller)
        routes = routes_for_tick(self._route_table, self.policy, exclusive, self._switching_cost)
        commitments, groups = ct.to_commitments([(r.seller, r.buyer, r.good) for r in routes], due)
        book = OrderBook(
            bids=_ordered(self.orders.bids),
            asks=_ordered(self.orders.asks),
            recipes=_ordered(self.orders.recipes),
            routes=routes,
            commitments=commitments,
            agents=tuple(sorted(self.by_name)),
            goods=(*GOODS, INSTALL),
        )
        return book, groups

    def _switching_cost(self, seller: str, buyer: str, good: str) -> float:
        """Ecosystem switching cost ($/H100e) of a designer's accelerators for a hyperscaler."""
        if good != "accelerator":
            return 0.0
        h = self.by_name[buyer]
        # The recent accelerator price; before any trade, the buyer's value of an H100e.
        price = self.price_ema.get("accelerator", h.spec.value_per_h100e)
        return self.world.behaviour.switching_cost * price * (1.0 - h.fleet_share(seller))

    def _nominate(self, due: list[ct.Contract]) -> None:
        """Set each due contract's quantity this tick: buyer nomination, then the contract cap."""
        for c in due:
            buyer = self.by_name[c.buyer]
            if c.kind == "take_or_pay" and isinstance(buyer, Lab):
                c.nominated = buyer.nominate(c.quantity, c.min_take)
            else:
                c.nominated = c.quantity
        cap = self.policy.contract_cap
        if cap is None:
            return
        pairs: dict[tuple[str, str, str], list[ct.Contract]] = defaultdict(list)
        for c in due:
            pairs[(c.seller, c.buyer, c.good)].append(c)
        for (seller, _, good), cs in pairs.items():
            limit = cap * self.capacity_of(seller, good)
            total = sum(c.nominated for c in cs)
            if total > limit:
                for c in cs:
                    c.nominated *= limit / total

    def capacity_of(self, agent: str, good: str) -> float:
        """Units of ``good`` per tick ``agent`` can supply (before this tick's shocks)."""
        a = self.by_name[agent]
        if isinstance(a, Supplier) and good in a.lines:
            return a.lines[good].capacity
        if isinstance(a, Hyperscaler) and good == "compute":
            return a.available or a.fleet_size
        if isinstance(a, ChipDesigner):
            return a.capacity
        return 0.0

    # ------------------------------------------------------------------ results
    def _reset_tick_state(self) -> None:
        self.sold: dict[tuple[str, str], float] = {}
        self.made: dict[str, float] = {}
        self.bid_fills: dict[str, list[float]] = {}
        self.flows: dict[tuple[str, str, str], float] = {}  # spot + contract units
        self.spot: list[tuple[str, str, str, float, float]] = []  # s, b, g, units, $/unit
        self.asks_first: dict[tuple[str, str], float] = {}
        self._into: dict[tuple[str, str], dict[str, float]] = {}
        self._out_of: dict[tuple[str, str], dict[str, float]] = {}
        self._unmet_by_hyperscaler: dict[str, float] | None = None

    def _index(self, book: OrderBook, c: Clearing) -> None:
        self._reset_tick_state()
        sold: dict[tuple[str, str], float] = defaultdict(float)
        r_ = self.read
        for a, q in zip(book.asks, r_.ask_fills):
            sold[(a.agent, a.good)] += q
            self.asks_first.setdefault((a.agent, a.good), a.price)
        self.sold = dict(sold)
        for r, q in zip(book.recipes, r_.recipe_activity):
            if r.output == "accelerator":
                self.made[r.agent] = self.made.get(r.agent, 0.0) + q
        fills: dict[str, list[float]] = defaultdict(list)
        for b, q in zip(book.bids, r_.bid_fills):
            fills[b.agent].append(q)
        self.bid_fills = dict(fills)
        flows: dict[tuple[str, str, str], float] = defaultdict(float)
        for r, q in zip(book.routes, r_.route_flows):
            if q > 0:
                flows[(r.seller, r.buyer, r.good)] += q
                self.spot.append((r.seller, r.buyer, r.good, q, c.prices[(r.buyer, r.good)]))
        for k, q, _ in self.deliveries:
            if q > 0:
                flows[(k.seller, k.buyer, k.good)] += q
        self.flows = dict(flows)
        into: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
        out_of: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
        for (s, b, g), q in self.flows.items():
            into[(b, g)][s] = q
            out_of[(s, g)][b] = q
        self._into, self._out_of = dict(into), dict(out_of)
        self._unmet_by_hyperscaler: dict[str, float] | None = None
        for good in GOODS:
            vol = sum(q for _, _, g, q, _ in self.spot if g == good)
            if vol > 0:
                p = sum(q * price for _, _, g, q, price in self.spot if g == good) / vol
                w = self.world.behaviour.foresight
                old = self.price_ema.get(good)
                self.price_ema[good] = p if old is None else (1 - w) * old + w * p

    def node_price(self, agent: str, good: str) -> float | None:
        """This tick's nodal price ($/unit), or None if the node is not in the book."""
        return None if self.clearing is None else self.clearing.prices.get((agent, good))

    def ask_price(self, agent: str, good: str) -> float | None:
        """The agent's first (cheapest) ask price for ``good`` this tick."""
        return self.asks_first.get((agent, good))

    def inflows(self, agent: str, good: str) -> dict[str, float]:
        """Units of ``good`` each seller delivered to ``agent`` this tick (spot + contract)."""
        return self._into.get((agent, good), {})

    def outflows(self, agent: str, good: str) -> dict[str, float]:
        """Units of ``good`` ``agent`` delivered to each buyer this tick (spot + contract)."""
        return self._out_of.get((agent, good), {})

    def top_supplier(self, buyer: str, good: str) -> tuple[str | None, float]:
        """The seller that delivered most of ``good`` to ``buyer`` this tick, and the units."""
        got = self.inflows(buyer, good)
        if not got:
            return None, 0.0
        seller = max(sorted(got), key=lambda s: got[s])
        return seller, got[seller]

    def most_spare_compute(self) -> str | None:
        spare = {
            a.name: a.available - a.sold
            for a in self.by_name.values()
            if isinstance(a, Hyperscaler)
        }
        return max(sorted(spare), key=lambda n: spare[n]) if spare else None

    def unmet_compute_share(self, hyperscaler: str) -> float:
        """Unmet lab demand attributed to ``hyperscaler`` by its share of each lab's supply
        (split evenly over all hyperscalers for a lab that got nothing)."""
        if self._unmet_by_hyperscaler is None:
            hypers = [a.name for a in self.agents_of(Hyperscaler)]
            share: dict[str, float] = dict.fromkeys(hypers, 0.0)
            for lab in self.agents_of(Lab):
                if lab.unmet <= 0:
                    continue
                got = self.inflows(lab.name, "compute")
                supply = sum(got.values())
                if supply > 0:
                    for h, q in got.items():
                        share[h] = share.get(h, 0.0) + lab.unmet * q / supply
                else:
                    for h in hypers:
                        share[h] += lab.unmet / len(hypers)
            self._unmet_by_hyperscaler = share
        return self._unmet_by_hyperscaler.get(hyperscaler, 0.0)

    # ------------------------------------------------------------------ money
    def _settle_trades(self, book: OrderBook, c: Clearing) -> None:
        pay = self.ledger.pay
        for r, q in zip(book.routes, self.read.route_flows):
            if q > 0:
                pay(r.buyer, r.seller, c.prices[(r.buyer, r.good)] * q, f"spot:{r.good}")
                pay(r.seller, EXTERNAL, r.cost * q, "transport")
        route_cost = {(r.seller, r.buyer, r.good): r.cost for r in book.routes}
        penalty = self.world.behaviour.shortfall_penalty
        for k, d, s in self.deliveries:
            if k.kind != "equity_for_compute":
                pay(k.buyer, k.seller, k.price * d, f"contract:{k.good}")
            pay(k.seller, EXTERNAL, route_cost[(k.seller, k.buyer, k.good)] * d, "transport")
            k.delivered_total += d
            k.shortfall_total += s
            k.paid_total += k.price * d if k.kind != "equity_for_compute" else 0.0
            if s > 1e-9 * max(1.0, k.nominated):
                k.breaches += 1
                pay(k.seller, k.buyer, penalty * k.price * s, "penalty")

    def _interest_and_cash(self) -> None:
        rate = self.world.behaviour.debt_rate
        for a in self.by_name.values():
            if a.cash < 0:
                self.ledger.pay(a.name, EXTERNAL, -a.cash * rate, "interest")
        net = self.ledger.net()
        operating = self.ledger.net(exclude=CAPITAL_KINDS)
        for _, payee, amount, kind in self.ledger.rows:
            if kind == "prepayment":
                self.by_name[payee].prepaid_total += amount
        for a in self.by_name.values():
            a.profit = operating.get(a.name, 0.0)
            a.profit_total += a.profit
            a.cash += net.get(a.name, 0.0)
        self.last_ledger, self.ledger = self.ledger, Ledger()

    # ------------------------------------------------------------------ contracts
    def _sign_from_spec(self, spec) -> None:
        c = self.contracts.sign(
            kind=spec.kind,
            seller=spec.seller,
            buyer=spec.buyer,
            good=spec.good,
            quantity=spec.quantity,
            price=spec.price,
            start=spec.start,
            term=spec.term,
            signed=0,
            min_take=spec.min_take,
            prepayment=spec.prepayment,
            equity_share=spec.equity_share,
            exclusive=spec.exclusive,
        )
        self._record_equity(c)

    def _record_equity(self, c: ct.Contract) -> None:
        if c.kind == "equity_for_compute":
            self.by_name[c.buyer].equity_given += c.equity_share

    def _pay_signing(self) -> None:
        """Prepayments of contracts signed at the start (tick 0); later ones pay when signed."""
        if self.tick == 0:
            for c in self.contracts.contracts:
                if c.prepayment > 0:
                    self.ledger.pay(c.buyer, c.seller, c.prepayment, "prepayment")

    def request(self, kind: str, buyer: str, seller: str, good: str, *terms: float) -> None:
        """Ask to sign a contract after every agent has decided (see ``_sign_requests``)."""
        self.requests.append((buyer, seller, good, kind, terms))

    def _sign_requests(self) -> None:
        """Sign this tick's requested contracts in (buyer, seller, good) order, so the
        agents' activation order cannot change who gets a seller's spare capacity."""
        for buyer, seller, good, kind, terms in sorted(self.requests, key=lambda r: r[:4]):
            if kind == "capacity_reservation":
                self.reserve_capacity(self.by_name[buyer], seller, good, *terms)
            else:
                self.sign_take_or_pay(self.by_name[buyer], seller, *terms)
        self.requests = []

    def _capped(self, seller: str, buyer: str, good: str, quantity: float) -> float:
        """``quantity`` cut so the buyer's contracts stay within the contract cap (if any)."""
        cap = self.policy.contract_cap
        if cap is None:
            return quantity
        held = sum(c.quantity for c in self.contracts.held(self.tick, buyer, seller, good))
        return max(0.0, min(quantity, cap * self.capacity_of(seller, good) - held))

    def reserve_capacity(
        self, designer: ChipDesigner, supplier: str, good: str, quantity: float, ask: float
    ) -> None:
        """A capacity reservation: the designer prepays half the capex of new capacity."""
        quantity = self._capped(supplier, designer.name, good, quantity)
        s = self.by_name[supplier]
        if quantity <= 0 or not isinstance(s, Supplier) or good not in s.lines:
            return
        b = self.world.behaviour
        line = s.lines[good]
        capex = line.capex_per_unit * self.policy.capex_factor(supplier)
        prepayment = 0.5 * capex * quantity
        c = self.contracts.sign(
            kind="capacity_reservation",
            seller=supplier,
            buyer=designer.name,
            good=good,
            quantity=quantity,
            price=ask * (1 + b.contract_premium),
            start=self.tick + line.lead_time,
            term=b.contract_term,
            signed=self.tick,
            prepayment=prepayment,
        )
        self.ledger.pay(c.buyer, c.seller, prepayment, "prepayment")
        line.reserved += quantity
        s.expand(line, quantity, capex)

    def sign_take_or_pay(self, lab: Lab, seller: str, quantity: float, price: float) -> None:
        """A take-or-pay compute contract from next tick, within the seller's spare capacity."""
        h = self.by_name[seller]
        committed = sum(
            c.quantity for c in self.contracts.contracts if c.seller == seller and self.tick < c.end
        )
        spare = max(0.0, h.available - committed)
        quantity = self._capped(seller, lab.name, "compute", min(quantity, spare))
        if quantity <= 1e-6 * max(1.0, lab.demand):
            return
        self.contracts.sign(
            kind="take_or_pay",
            seller=seller,
            buyer=lab.name,
            good="compute",
            quantity=quantity,
            price=price,
            start=self.tick + 1,
            term=self.world.behaviour.contract_term,
            signed=self.tick,
            min_take=0.8,
        )

    # ------------------------------------------------------------------ views
    def agents_of(self, cls) -> list:
        """Agents of one class, in creation order."""
        if cls not in self._of_class:
            self._of_class[cls] = [a for a in self.by_name.values() if isinstance(a, cls)]
        return self._of_class[cls]

    def tables(self) -> dict[str, dict[str, list]]:
        """The tidy tables collected so far (column name -> values)."""
        return self.recorder.tables()

    def date(self, tick: int | None = None) -> str:
        t = self.tick if tick is None else tick
        m = self.world.meta
        return f"{m.start_year + t // m.ticks_per_year}Q{t % m.ticks_per_year + 1}"
