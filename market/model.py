"""MarketModel: the Mesa model and the wiring of one tick (DESIGN.md, "The tick").

1. shocks and policies of the tick apply (``shocks.policy_at``), then the scenario's
   history schedules (``history.History.apply``: capacity, budgets, products);
2. contracts due this tick become commitments (buyers nominate, caps apply;
   ``contracts.ContractDesk``);
3. every agent submits orders (``agents.shuffle_do("submit_orders")``); the book
   is then put in agent-name order, so neither activation order nor the
   scenario's listing order can change it;
4. ``optimizers.Clearer`` clears the book (kept between ticks, warm-started);
   the tick's results become one frozen ``outcome.TickOutcome``; if the clearing
   sold out a pool of inputs not in allocation and its price took the rent, the pool
   goes into allocation and the tick is cleared again (``Allocation.catch_up``);
5. settlement: spot trades pay the buyer's nodal price along each route, or for a
   good sold at offer at most the seller's offer plus the route's cost (the route's
   cost goes outside the model), contracts pay their own price, breaches their
   penalty; agents update their stocks; hyperscalers in distress sell part of their
   fleet before any default (``credit.Credit``); backstops and vendor financing pay
   (``financing.Financing``, ODD 7.17);
   unfilled install orders wait in backlogs, traced upstream to quoted lead
   times (``backlog.LeadTimes``);
6. agents learn and decide (prices, capacity, contract requests); hyperscalers offer
   equity for compute to short labs; the desk signs the requests in name order; debt
   pays interest (rates by leverage, to financiers and outside); the tick's ledger
   moves the cash;
7. metrics are computed and collected (``tick_metrics.TickRecorder``).
"""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import mesa

from market import contracts as ct
from market.agents import BY_SECTION, SECTIONS, Hyperscaler, Lab, MarketAgent
from market.agents.hyperscaler import unmet_by_hyperscaler
from market.agents.supplier import Supplier, list_prices
from market.allocation import Allocation
from market.backlog import LeadTimes
from market.credit import Credit
from market.financing import Financing
from market.goods import GOODS, INSTALL, STOCK
from market.history import History
from market.ledger import EXTERNAL, Ledger
from market.network import build_network, route_table, routes_for_tick
from market.outcome import TickOutcome
from market.risk import RiskBook
from market.scenario import Scenario
from market.shocks import PolicyState, policy_at
from market.spv import FINANCING_KINDS as SPV_FINANCING
from market.spv import SpvDesk
from market.tick_metrics import TickRecorder
from market.traffic import enabled, premium_buckets
from optimizers import Clearer, Clearing, OrderBook, SolverOptions

CAPITAL_KINDS = ("capex", "prepayment", *SPV_FINANCING)  # not part of operating profit
CAPITAL_PURCHASES = ("spot:tools",)  # capex for the buyer, revenue for the seller (ODD 7.14)
#: Allocations between the cyclic garbage collector's youngest-generation passes during a
#: tick (Python's default is 700). A 1,000-agent tick makes ~10^5 short-lived orders, rows
#: and tuples that reference counting frees; at the default the collector ran every few
#: hundred of them and took ~18% of the tick (3.40 against 2.82 ticks/s, same results).
GC_GEN0_PER_TICK = 100_000


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Raise the collector's first threshold for one tick, then restore the caller's."""
    old = gc.get_threshold()
    gc.set_threshold(max(GC_GEN0_PER_TICK, old[0]), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


@dataclass(slots=True)
class Orders:
    """The tick's orders, each tagged with its agent's name."""

    bids: list = field(default_factory=list)
    asks: list = field(default_factory=list)
    recipes: list = field(default_factory=list)


def _ordered(tagged: list) -> list:
    """Orders in agent-name order; the sort is stable, so each agent's own orders keep theirs.
    ``tagged`` holds (agent, order, ...) tuples."""
    return [t[1] for t in sorted(tagged, key=lambda t: t[0])]


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
        self._route_cost: dict[tuple[str, str, str], float] = {}
        self._switching: dict[tuple[str, str, str], float] = {}  # $/unit, by route
        self.by_name: dict[str, MarketAgent] = {}
        self._of_class: dict[type, list] = {}
        # Agents are created section by section in name order, whatever the scenario's
        # listing order: ids, activation order and every iteration follow from names.
        for section, spec in sorted(
            scenario.agent_specs(), key=lambda s: (SECTIONS.index(s[0]), s[1].name)
        ):
            agent = BY_SECTION[section].cls(self, spec)
            agent.credit_line = spec.credit_line
            self.by_name[spec.name] = agent
        # A designer's family: itself, the designer it is a part of, and that one's other
        # parts (their chips share an ecosystem: ``DesignerSpec.part_of``).
        root = {d.name: d.part_of or d.name for d in scenario.designers}
        self.family = {d: tuple(sorted(e for e in root if root[e] == r)) for d, r in root.items()}
        self.clearer = Clearer(solver_options or SolverOptions())
        self.desk = ct.ContractDesk(self)
        self.financing = Financing(self)
        self.credit = Credit(self)
        self.risk = RiskBook(self)  # who financed each expansion (market.risk)
        self.spvs = SpvDesk(self)  # data-centre SPVs (market.spv)
        self.trading = self.agents  # agents that have not defaulted (market.credit)
        self.ledger = Ledger()  # open: payments until the end of the next tick
        self.last_ledger = Ledger()  # the last tick's payments, as applied to cash
        self.policy = PolicyState()
        self.history = History(self)  # the scenario's exogenous paths (market.history)
        self.price_ema: dict[str, float] = {}  # spot price per good, EMA ($/unit)
        self.list_prices: dict[str, float] = list_prices(self.agents_of(Supplier))
        self.outcome: TickOutcome | None = None
        self.unmet_by_hyperscaler: dict[str, float] = {}
        # (designer, generation) buckets that may serve premium traffic this tick (ODD 7.19)
        self.premium_buckets: frozenset[tuple[str, str]] = frozenset()
        self.lead_times = LeadTimes(self)
        self.allocation = Allocation(self)
        self.due: list[ct.Contract] = []
        self.recorder = TickRecorder(self)
        self.timing = {"agents": 0.0, "clearing": 0.0, "metrics": 0.0}
        self.desk.sign_initial()

    # ------------------------------------------------------------------ the tick
    def step(self) -> None:
        """One tick (ODD 3)."""
        with _fewer_collections():
            self._step()

    def _step(self) -> None:
        t0 = time.perf_counter()
        self.policy = policy_at(self.world, self.tick)
        self.history.apply(self.tick)  # capacity additions, budgets, products
        if enabled(self.world.traffic):
            self.premium_buckets = premium_buckets(
                self.world.designers, self.tick, self.world.traffic.premium_generations
            )
        self.list_prices = list_prices(self.agents_of(Supplier))
        self.desk.pay_signing()
        due = self.due = self.contracts.due(self.tick)
        self.desk.nominate(due)
        self.trading.shuffle_do("prepare")
        self.allocation.start_tick(due)
        self.orders = Orders()
        self.trading.shuffle_do("submit_orders")
        t1 = time.perf_counter()
        self.outcome = self._clear(due)
        if self.allocation.catch_up(self.outcome):
            self._recap_recipes()
            self.outcome = self._clear(due)
        t2 = time.perf_counter()
        self._learn_prices()
        self._settle_trades()
        self.trading.shuffle_do("settle")
        self.financing.settle()  # backstops and vendor financing (ODD 7.17)
        self.allocation.learn()
        self.unmet_by_hyperscaler = unmet_by_hyperscaler(
            self.agents_of(Hyperscaler), self.agents_of(Lab), self.outcome
        )
        self.lead_times.quote()
        self.trading.shuffle_do("decide")
        self.financing.offer_equity()  # hyperscalers' equity-for-compute offers (ODD 7.17)
        self.desk.sign_requests()
        self.desk.renew_supply_agreements()
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
        self._switching: dict[tuple[str, str, str], float] = {}
        routes = routes_for_tick(self._route_table, self.policy, exclusive, self._switching_cost)
        self._route_cost = {(r.seller, r.buyer, r.good): r.cost for r in routes}
        commitments, groups = ct.to_commitments([(r.seller, r.buyer, r.good) for r in routes], due)
        book = OrderBook(
            bids=_ordered(self.orders.bids),
            asks=_ordered(self.orders.asks),
            recipes=_ordered(self.orders.recipes),
            routes=routes,
            commitments=commitments,
            agents=tuple(sorted(self.by_name)),
            goods=(*GOODS, INSTALL, STOCK),
        )
        return book, groups

    def _clear(self, due: list[ct.Contract]) -> TickOutcome:
        """Assemble the book from this tick's orders, clear it, and read the outcome."""
        book, groups = self._book(due)
        at_offer = frozenset(self.world.behaviour.sold_at_offer)
        return TickOutcome.of(self.tick, book, self.clearer.clear(book), groups, at_offer)

    def _recap_recipes(self) -> None:
        """Recipes take their caps again from the inputs their agents have secured
        (after pools went into allocation mid-tick), each within its own plan (a
        generation's share of output, a stock plan; a recipe without a plan keeps its
        capacity: ``MarketAgent.recipe``)."""
        caps = {name: self.by_name[name].allocation_cap() for name, *_ in self.orders.recipes}
        self.orders.recipes = [
            (
                name,
                r
                if plan is None or caps[name] is None
                else replace(r, capacity=min(plan, caps[name])),
                plan,
            )
            for name, r, plan in self.orders.recipes
        ]

    def open_routes(self, seller: str, good: str) -> int:
        """How many of the seller's routes for ``good`` carry anything under this tick's
        policy (export rules with a cap of 0 close a route)."""
        return sum(
            1
            for s, _, g, cap, _, rs, rb in self._route_table
            if s == seller and g == good and cap > 0
            and not any(r.cap == 0 and r.matches(rs, rb, g) for r in self.policy.routes)
        )  # fmt: skip

    def _switching_cost(self, seller: str, buyer: str, good: str) -> float:
        """Ecosystem switching cost ($/H100e) of a designer's accelerators for a hyperscaler."""
        if good != "accelerator":
            return 0.0
        h = self.by_name[buyer]
        # The recent accelerator price; before any trade, the buyer's value of an H100e.
        price = self.price_ema.get("accelerator")
        if price is None:  # a lab buying for its own fleet has no install value: no cost yet
            price = getattr(h.spec, "value_per_h100e", 0.0)
        share = sum(h.fleet_share(d) for d in self.family[seller])
        cost = self.world.behaviour.switching_cost * price * max(0.0, 1.0 - share)
        self._switching[(seller, buyer, good)] = cost
        return cost

    def _learn_prices(self) -> None:
        w = self.world.behaviour.foresight
        for good, p in self.outcome.spot_price.items():
            old = self.price_ema.get(good)
            self.price_ema[good] = p if old is None else (1 - w) * old + w * p

    # ------------------------------------------------------------------ money
    def _settle_trades(self) -> None:
        out = self.outcome
        pay = self.ledger.pay
        for seller, buyer, good, q, p in out.spot:
            pay(buyer, seller, p * q, f"spot:{good}")
        for r, q in zip(out.book.routes, out.route_flows):
            if q > 0:
                switching = self._switching.get((r.seller, r.buyer, r.good), 0.0)
                pay(r.seller, EXTERNAL, (r.cost - switching) * q, "transport")
                pay(r.seller, EXTERNAL, switching * q, "switching")
        self.desk.settle(out.deliveries, self._route_cost, self._switching)

    def _interest_and_cash(self) -> None:
        self.credit.charge_interest(self.ledger)  # to financiers and outside (ODD 7.10, 7.17)
        self.spvs.settle(self.ledger)
        self.credit.settle(self.ledger)
        self.risk.close_tick(self.ledger)
        net = self.ledger.net()
        operating = self.ledger.net(exclude=CAPITAL_KINDS, exclude_paid=CAPITAL_PURCHASES)
        for _, payee, amount, kind in self.ledger.rows:
            if kind == "prepayment":
                self.by_name[payee].prepaid_total += amount
        for a in self.by_name.values():
            a.profit = operating.get(a.name, 0.0)
            a.profit_total += a.profit
            a.cash += net.get(a.name, 0.0)
        self.last_ledger, self.ledger = self.ledger, Ledger()

    def active_agents_changed(self) -> None:
        """An agent defaulted: from now on only the others trade."""
        self.trading = self.agents.select(lambda a: not a.defaulted)

    # ------------------------------------------------------------------ views
    @property
    def contracts(self) -> ct.ContractBook:
        """Every contract signed so far."""
        return self.desk.book

    @property
    def clearing(self) -> Clearing | None:
        """The last tick's clearing (None before the first tick)."""
        return None if self.outcome is None else self.outcome.clearing

    @property
    def book(self) -> OrderBook | None:
        return None if self.outcome is None else self.outcome.book

    @property
    def flows(self) -> dict[tuple[str, str, str], float]:
        """The last tick's units per (seller, buyer, good), spot + contract."""
        return {} if self.outcome is None else self.outcome.flows

    def agents_of(self, cls) -> list:
        """Agents of one class, in creation (section, name) order."""
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
