"""Hyperscaler: buys accelerators and MW, installs them as a durable fleet, rents compute.

Stocks: a fleet of H100e by designer and install vintage (retired after
``fleet_life`` ticks; the starting fleet has evenly spread ages) and energised MW.
Each tick it asks compute = min(fleet, MW / mw_per_h100e) in two price steps (opex
and any carbon price and clean-energy premium per H100e-quarter, plus a markup that
follows utilisation),
offers its spare MW to itself at 0, pays the carbon price on the emissions of the
compute it rents (``market.energy``), and buys new installs through the recipe
``install = 1 accelerator + mw_per_h100e MW [+ networking_per_h100e networking]
[+ mw_per_h100e MW of shell]`` with a bid sized from the compute demand it expects
and capped by its capex budget. With shells (``spec.shells``) its energised MW are
min(grid MW, shell MW), its spare shell MW are offered to itself at 0 as its spare
grid MW are, and its PUE and WUE are the MW-weighted averages of its shells'
(the start stock at ``spec.pue``/``spec.wue``, new MW at their developer's).
Its willingness to pay for a designer's accelerators rises with that designer's
share of its fleet (the model adds a switching cost to the routes of designers it has few of).
With chip generations (ODD 7.15) its cohorts carry their generation: each
(designer, generation) bucket needs its own MW per H100e, the most efficient are
powered first, and it asks compute per bucket at the bucket's running cost.
With traffic classes (ODD 7.19) the buckets that may serve premium traffic ask
``compute_premium`` instead, and a recipe ``compute = 1 compute_premium`` (cost 0) lets
that hardware serve economy traffic too.
"""

from __future__ import annotations

from market import energy, generations, metrics
from market import traffic as tc
from market.agents.base import MarketAgent, ema
from market.goods import INSTALL
from market.ledger import EXTERNAL
from market.scenario import HyperscalerSpec
from market.tolerance import REL_QUANTITY

NAN = float("nan")


class Hyperscaler(MarketAgent):
    def __init__(self, model, spec: HyperscalerSpec) -> None:
        super().__init__(model, spec.name, spec.region, spec.cash)
        self.spec = spec
        life = spec.fleet_life
        # fleet[designer] = list of [retire_tick, H100e, generation] ('' = a designer
        # without generations); the start fleet has spread ages and each designer's
        # generations in their start shares (ODD 7.15).
        # MW per H100e of a cohort relative to spec.mw_per_h100e, by (designer, generation).
        self.mw_factor = generations.mw_factors(model.world.designers)
        mix = {
            d.name: [
                (g.name, s)
                for g, s in zip(d.generations, generations.shares(d.generations, 0))
                if s > 0
            ]
            for d in model.world.designers
            if d.generations
        }
        self.fleet: dict[str, list[list]] = {
            d: [[1 + k, q / life * s, g] for k in range(life) for g, s in mix.get(d, [("", 1.0)])]
            for d, q in spec.fleet.items()
            if q > 0
        }
        # Compute by generation bucket (designer, generation), in a fixed order (the book
        # keeps its shape): every generation ('' without generations) of the designers it
        # can buy from or holds at the start (a distressed purchase may add buckets).
        edges = model.graph.in_edges(spec.name, keys=True)
        sellers = {d for d, _, good in edges if good == "accelerator"} | set(spec.fleet)
        self.buckets: list[tuple[str, str]] = sorted(
            (d.name, g)
            for d in model.world.designers
            if d.name in sellers
            for g in ([g.name for g in d.generations] or [""])
        )
        self.gen_available: dict[tuple[str, str], float] = {}
        self.gen_sold: dict[tuple[str, str], float] = {}
        self.gen_units: dict[tuple[str, str], float] = {}
        self.gen_powered: dict[tuple[str, str], float] = {}
        self.mw_need = 0.0  # MW its whole fleet needs (by generation)
        self.mw_per_sold = spec.mw_per_h100e  # MW per H100e of the compute it rents
        self.power_mw = spec.power_mw
        # Shells (section 7.13): MW of built shell, and the sums of PUE x MW and WUE x MW
        # over them, so its PUE and WUE are MW-weighted averages of its shells'.
        self.shell_mw = spec.power_mw if spec.shells else 0.0
        self._pue_mw = spec.pue * self.shell_mw
        self._wue_mw = spec.wue * self.shell_mw
        self.markup = model.world.behaviour.hyperscaler_markup
        self.available = 0.0  # H100e-quarters it can rent this tick
        self.premium_available = 0.0  # of which on premium-eligible hardware (ODD 7.19)
        self.ask_buckets: list[tuple[str, str]] = []  # bucket of each compute ask, in order
        self.premium_sold = 0.0  # H100e-quarters it rented as compute_premium this tick
        # (installed H100e, grid MW, shell MW or None) when it set ``available`` this tick
        self.rent_limits: tuple[float, float, float | None] = (0.0, 0.0, None)
        self.sold = 0.0
        self.installed = 0.0
        self.demand_ema: float | None = None
        self.unit_cost_ema: float | None = None
        self.utilisation = 0.0
        self.util_ema: float | None = None
        self.value = spec.value_per_h100e  # $ per installed H100e it bids
        # Unfilled install orders by ticks waited (1..patience): H100e. Served first
        # (bid at the full value plus a priority premium per tick waited), cancelled
        # after ``behaviour.backlog_patience`` ticks.
        self.waiting: dict[int, float] = {}
        self.cancelled = 0.0  # H100e of orders cancelled this tick
        self.ordered = 0.0  # H100e of new orders this tick
        self.install_bids: tuple[float, ...] = ()
        self._install_orders = 0.0  # H100e it would install this tick (backlog + new orders)
        self._spare_mw = 0.0  # MW it holds beyond its fleet's need
        # Energy, emissions and water of the compute it rented this tick (market.energy),
        # and the $ of carbon price it paid on them.
        self.intensity = model.world.grid_intensity[spec.region]  # g CO2e/kWh
        self.hours = energy.hours_per_tick(model.world.meta.ticks_per_year)
        self.footprint = energy.Footprint()
        self.carbon_paid = 0.0
        self.grid_clean = model.world.grid_clean_share.get(spec.region, 0.0)  # share, 0..1
        self.clean_paid = 0.0  # $ of clean energy bought this tick to meet a requirement
        self._tally()

    def _tally(self) -> None:
        """Installed H100e by designer, recounted whenever the fleet changes: the
        switching cost reads it for every accelerator route of every tick."""
        self.units = {d: sum(c[1] for c in cohorts) for d, cohorts in self.fleet.items()}
        self.fleet_size = sum(self.units.values())
        gen_units: dict[tuple[str, str], float] = {}
        for d, cohorts in self.fleet.items():
            for c in cohorts:
                gen_units[(d, c[2])] = gen_units.get((d, c[2]), 0.0) + c[1]
        self.gen_units = gen_units
        mw = self.spec.mw_per_h100e
        if not self.mw_factor:  # no generations: as before them
            self.mw_need = self.fleet_size * mw
        else:
            self.mw_need = sum(q * mw * self.mw_factor.get(k, 1.0) for k, q in gen_units.items())

    def _power_fleet(self, mw: float) -> float:
        """H100e it can power with ``mw`` MW: the generations that need least MW per H100e
        first (``gen_powered``); sets ``mw_per_sold``, the MW per H100e of what it powers."""
        per = self.spec.mw_per_h100e
        if not self.mw_factor:  # no designer has generations: every H100e needs ``per``
            self.mw_per_sold = per
            return min(self.fleet_size, mw / per)
        powered: dict[tuple[str, str], float] = {}
        left = mw
        drawn = 0.0
        for k in sorted(self.gen_units, key=lambda k: (self.mw_factor.get(k, 1.0), k)):
            need = per * self.mw_factor.get(k, 1.0)
            q = max(0.0, min(self.gen_units[k], left / need))
            powered[k] = q
            left -= q * need
            drawn += q * need
        self.gen_powered = powered
        total = sum(powered.values())
        self.mw_per_sold = drawn / total if total > 0 else per
        return total

    def fleet_share(self, designer: str) -> float:
        """The designer's share of the installed fleet (0 for an empty fleet)."""
        total = self.fleet_size
        return self.units.get(designer, 0.0) / total if total > 0 else 0.0

    @property
    def pue(self) -> float:
        """Facility / IT energy of its data centres: the MW-weighted average over its
        shells (``spec.pue`` without shells)."""
        if self.spec.shells and self.shell_mw > 0:
            return self._pue_mw / self.shell_mw
        return self.spec.pue

    @property
    def wue(self) -> float:
        """L of water per kWh of IT energy: the MW-weighted average over its shells
        (``spec.wue`` without shells)."""
        if self.spec.shells and self.shell_mw > 0:
            return self._wue_mw / self.shell_mw
        return self.spec.wue

    @property
    def energised_mw(self) -> float:
        """MW it can run accelerators on: its grid MW, and with shells at most its shell MW."""
        return min(self.power_mw, self.shell_mw) if self.spec.shells else self.power_mw

    def _add_shell(self, mw: float, pue: float, wue: float) -> None:
        self.shell_mw += mw
        self._pue_mw += mw * pue
        self._wue_mw += mw * wue

    def give_back_shells(self, mw: float) -> None:
        """Hand back ``mw`` MW of leased shell (an SPV's lease not renewed, ODD 7.18): its
        shell stock falls, its average cooling unchanged."""
        if not self.spec.shells or self.shell_mw <= 0:
            return
        kept = max(0.0, 1.0 - mw / self.shell_mw)
        self.shell_mw *= kept
        self._pue_mw *= kept
        self._wue_mw *= kept

    def capacity_for(self, good: str) -> float:
        return (self.available or self.fleet_size) if good == "compute" else 0.0

    def capacity_rows(self) -> list[tuple[str, float, float, float]]:
        return [("compute", self.available, self.available, self.sold)]

    def columns(self) -> dict[str, float]:
        return dict(
            capacity=self.available, sold=self.sold,
            utilisation=self.utilisation if self.available > 0 else float("nan"),
            stranded=metrics.stranded_capacity(self.available, self.sold), markup=self.markup,
            fleet=self.fleet_size, power_mw=self.power_mw,
            shell_mw=self.shell_mw if self.spec.shells else NAN, pue=self.pue, wue=self.wue,
            energy_mwh=self.footprint.energy_mwh, emissions_t=self.footprint.emissions_t,
            water_m3=self.footprint.water_m3, carbon_paid=self.carbon_paid,
            clean_paid=self.clean_paid,
        )  # fmt: skip

    def carbon_cost(self) -> float:
        """$ per H100e-quarter rented that the carbon price in force adds to its costs
        (``energy.carbon_cost_per_h100e``; 0 without a carbon price)."""
        price = self.model.policy.carbon_price(self.name)
        if price <= 0:
            return 0.0
        return energy.carbon_cost_per_h100e(
            self.mw_per_sold, self.intensity_now(), self.hours, price
        )

    def intensity_now(self) -> float:
        """g CO2e/kWh of its energy this tick: its grid's, lowered by the clean energy it
        buys to meet a requirement in force (``energy.residual_intensity``)."""
        required = self.model.policy.clean_share(self.name)
        if required <= self.grid_clean:
            return self.intensity
        return energy.residual_intensity(self.intensity, required, self.grid_clean)

    def clean_cost(self, mw_per_h100e: float | None = None) -> float:
        """$ per H100e-quarter rented of the clean energy a requirement in force makes it buy
        (``energy.clean_cost_per_h100e`` at ``mw_per_h100e``, default the MW per H100e of
        what it rents; 0 without a requirement or below its grid's clean share)."""
        mw = self.mw_per_sold if mw_per_h100e is None else mw_per_h100e
        return energy.clean_cost_per_h100e(
            mw, self.hours, self.model.policy.clean_share(self.name), self.grid_clean,
            self.model.world.behaviour.clean_energy_premium,
        )  # fmt: skip

    def running_cost(self) -> float:
        """$ per H100e-quarter rented: ``opex`` plus the carbon and clean-energy costs."""
        return self.spec.opex + self.carbon_cost() + self.clean_cost()

    def bucket_cost(self, key: tuple[str, str]) -> float:
        """$ per H100e-quarter rented from a generation bucket (ODD 7.15): opex with its
        energy share scaled by the bucket's MW factor f, plus the carbon and clean-energy
        costs at its MW per H100e: opex x (1 - e + e x f) + carbon(f x mw_per_h100e) +
        f x clean."""
        s = self.spec
        f = self.mw_factor.get(key, 1.0)
        e = s.opex_energy_share
        cost = s.opex * (1 - e + e * f)
        price = self.model.policy.carbon_price(self.name)
        if price > 0:
            cost += energy.carbon_cost_per_h100e(
                s.mw_per_h100e * f, self.intensity_now(), self.hours, price
            )
        return cost + self.clean_cost(s.mw_per_h100e * f)

    def submit_orders(self) -> None:
        b = self.model.world.behaviour
        t = self.model.tick
        for d in list(self.fleet):
            self.fleet[d] = [c for c in self.fleet[d] if c[0] > t]
        self._tally()
        s = self.spec
        fleet = self.fleet_size
        powered = self._power_fleet(self.energised_mw)
        self.available = powered * self.model.policy.capacity_factor(self.name)
        # What limited this tick's rentable H100e (the field's KPIs, ODD 7.16).
        self.rent_limits = (fleet, self.power_mw, self.shell_mw if s.shells else None)
        steps = ((1 - b.ask_top_share, 1.0), (b.ask_top_share, 1 + b.ask_top_premium))
        classes = tc.enabled(self.model.world.traffic)
        premium = self.model.premium_buckets
        self.premium_available = 0.0
        self.ask_buckets = []  # the bucket of each of its compute asks, in ask order
        if self.mw_factor:  # generations: one pair of asks per bucket, at its own cost
            factor = self.model.policy.capacity_factor(self.name)
            self.gen_available = {k: q * factor for k, q in self.gen_powered.items()}
            for k in self.buckets:
                q = self.gen_available.get(k, 0.0)
                price = self.bucket_cost(k) * (1 + self.markup)
                if not classes:
                    for share, mult in steps:
                        self.ask(tc.ECONOMY, q * share, price * mult)
                        self.ask_buckets.append(k)
                    continue
                # Both goods every tick, the other at 0 (the book keeps its shape when a
                # launch moves a bucket out of premium).
                eligible = k in premium
                self.premium_available += q if eligible else 0.0
                for good, on in ((tc.PREMIUM, eligible), (tc.ECONOMY, not eligible)):
                    for share, mult in steps:
                        self.ask(good, q * share if on else 0.0, price * mult)
                        self.ask_buckets.append(k)
        else:  # no generations: all of its fleet may serve premium (ODD 7.19)
            price = self.running_cost() * (1 + self.markup)
            good = tc.PREMIUM if classes else tc.ECONOMY
            self.premium_available = self.available if classes else 0.0
            for share, mult in steps:
                self.ask(good, self.available * share, price * mult)
        self.ask("power", max(0.0, self.power_mw - self.mw_need), 0.0)
        if s.shells:
            self.ask("shell", max(0.0, self.shell_mw - self.mw_need), 0.0)
        outstanding = sum(self.waiting.values())
        affordable = max(0.0, self.headroom) / self._unit_cost()
        if outstanding > affordable:  # it cancels what it could not pay (market.credit)
            cut = affordable / outstanding
            self.waiting = {a: q * cut for a, q in self.waiting.items()}
            outstanding = affordable
        self.ordered = max(0.0, self._wanted_installs(fleet) - outstanding)
        self._install_orders = outstanding + self.ordered
        self._spare_mw = max(0.0, self.power_mw - self.mw_need)
        self.recipe(INSTALL, self.install_inputs, self.allocation_cap(), 0.0)
        if classes:  # premium-eligible hardware may serve economy traffic (ODD 7.19)
            self.recipe(tc.ECONOMY, {tc.PREMIUM: 1.0}, float("inf"), 0.0, plan=None)
        value = self.install_value()
        shell = self.shell_residual()
        low = b.install_low_share
        bids = [self.ordered * (1 - low), self.ordered * low]
        self.bid(INSTALL, bids[0], value + shell)
        self.bid(INSTALL, bids[1], value * b.install_low_value + shell)
        # One bid slot per age, every tick (quantity 0 when empty): the book keeps its shape.
        for age in range(1, b.backlog_patience + 1):
            q = self.waiting.get(age, 0.0)
            bids.append(q)
            self.bid(INSTALL, q, value * (1 + b.backlog_priority * age) + shell)
        self.install_bids = tuple(bids)

    @property
    def install_inputs(self) -> dict[str, float]:
        """Inputs of one install: an accelerator (H100e) and its MW of grid connection;
        ``networking_per_h100e`` units of networking if it is modelled; with shells, its
        MW of shell too."""
        s = self.spec
        inputs = {"accelerator": 1.0, "power": s.mw_per_h100e}
        if s.networking_per_h100e > 0:
            inputs["networking"] = s.networking_per_h100e
        if s.shells:
            inputs["shell"] = s.mw_per_h100e
        return inputs

    def shell_residual(self) -> float:
        """$ per install of shell value left after the install's valuation: ``mw_per_h100e``
        x the list price of shells x max(0, 1 - valuation_ticks / shell_life); added to its
        install bids (a shell outlives the accelerators it first holds; 0 without shells)."""
        if not self.spec.shells:
            return 0.0
        b = self.model.world.behaviour
        left = max(0.0, 1.0 - b.valuation_ticks / b.shell_life)
        return self.spec.mw_per_h100e * self.model.list_prices.get("shell", 0.0) * left

    def allocation_cap(self) -> float:
        """H100e it can install this tick: its orders, at most what its spare and secured MW
        power (``market.allocation``)."""
        mw = self.model.allocation.secured(self.name, "power") + self._spare_mw
        return min(self._install_orders, mw / self.spec.mw_per_h100e)

    def _unit_cost(self) -> float:
        """$ it expects one install (accelerator + its other inputs) to cost: the moving
        average of what it paid; before its first install, the list prices
        (``list_install_cost``)."""
        return self.unit_cost_ema if self.unit_cost_ema else self.list_install_cost()

    def install_cost(self) -> float:
        """$ of capital per installed H100e (what it expects an install to cost, ``_unit_cost``):
        the capital per H100e of the field's KPIs (ODD 7.16)."""
        return self._unit_cost()

    def list_install_cost(self) -> float:
        """$ per install at list prices: its fleet's designers' list prices per H100e
        (weighted by its fleet) plus its other inputs (MW of power, networking, MW of
        shell) at the market's list prices."""
        m = self.model
        designers = [(m.by_name[d], q) for d, q in self.units.items() if d in m.by_name]
        total = sum(q for _, q in designers)
        if total > 0:
            chip = sum(q * d.asking_price() for d, q in designers) / total
        else:
            chip = self.spec.value_per_h100e  # no fleet to go by: what it would pay at most
        others = [(g, q) for g, q in self.install_inputs.items() if g != "accelerator"]
        return chip + sum(q * m.list_prices.get(g, 0.0) for g, q in others)

    def halt(self) -> None:
        self.available = self.sold = self.utilisation = 0.0
        self.premium_available = self.premium_sold = 0.0
        self.rent_limits = (0.0, 0.0, None)
        self.footprint = energy.Footprint()
        self.carbon_paid = self.clean_paid = 0.0
        self.ordered = self.cancelled = self.installed = 0.0
        self.waiting = {}

    def install_value(self) -> float:
        """$ it will pay for one more installed H100e (``value``, learnt in ``decide``)."""
        return self.value

    def _learn_value(self) -> None:
        """The value moves (weight ``foresight``) from ``value_per_h100e`` towards the NPV
        of the rent an install earns (``install_npv``) at the market's compute price
        and its own utilisation, both moving averages."""
        m = self.model
        price = m.price_ema.get("compute")
        if price is None:
            return
        b = m.world.behaviour
        util = self.util_ema if self.util_ema is not None else b.rental_utilisation
        per_tick = (1 + self.spec.discount_rate) ** (1 / m.world.meta.ticks_per_year)
        npv = install_npv(
            price, util, self.running_cost(), b.rental_decline, per_tick - 1, b.valuation_ticks
        )
        self.value = ema(self.value, npv, b.foresight)

    @property
    def backlog_total(self) -> float:
        """H100e of install orders waiting (after this tick's settlement)."""
        return sum(self.waiting.values())

    def _age_backlog(self, fills: tuple[float, ...]) -> None:
        """Unfilled orders wait one tick more; those past patience are cancelled."""
        patience = self.model.world.behaviour.backlog_patience
        tol = REL_QUANTITY * max(1.0, sum(self.install_bids))
        unfilled = [q - f if q - f > tol else 0.0 for q, f in zip(self.install_bids, fills)]
        if not unfilled:
            return
        backlog = {1: unfilled[0] + unfilled[1]}
        for age in range(1, patience + 1):
            backlog[age + 1] = unfilled[1 + age]
        self.cancelled = backlog.pop(patience + 1, 0.0)
        self.waiting = {a: q for a, q in backlog.items() if q > 0}

    def _wanted_installs(self, fleet: float) -> float:
        s = self.spec
        retiring = sum(
            c[1] for cohorts in self.fleet.values() for c in cohorts if c[0] <= self.model.tick + 1
        )
        expected = self.demand_ema if self.demand_ema is not None else self._start_demand()
        b = self.model.world.behaviour
        # Stock adjustment: replace what retires and close 1/T of the gap to the target.
        gap = retiring + max(0.0, b.fleet_headroom * expected - fleet) / b.fleet_adjustment_ticks
        unit = self._unit_cost()
        years = self.model.tick / self.model.world.meta.ticks_per_year
        budget = s.capex_budget * (1 + s.capex_growth) ** years
        budget *= self.model.policy.capex_factor(self.name)
        # No more than it can pay before its cash reaches its credit line (market.credit).
        budget = max(0.0, min(budget, self.headroom))
        return min(gap, budget / unit)

    holds_fleet = True

    def sell_fleet(self, share: float) -> tuple[dict, float]:
        """``share`` of every cohort and of its MW, taken off its books."""
        sold = {d: [[r, q * share, g] for r, q, g in cohorts] for d, cohorts in self.fleet.items()}
        for cohorts in self.fleet.values():
            for c in cohorts:
                c[1] *= 1 - share
        mw = self.power_mw * share
        self.power_mw -= mw
        if self.spec.shells:  # the shells go with the MW (its average cooling unchanged)
            kept = 1 - share
            self.shell_mw *= kept
            self._pue_mw *= kept
            self._wue_mw *= kept
        self._tally()
        return sold, mw

    def buy_fleet(self, cohorts: dict, mw: float) -> None:
        for d, bought in cohorts.items():
            self.fleet.setdefault(d, []).extend([list(c) for c in bought])
        if self.mw_factor:  # a bucket it could not buy into gets its asks from now on
            held = {(d, c[2]) for d, bought in cohorts.items() for c in bought}
            self.buckets = sorted(set(self.buckets) | held)
        self.power_mw += mw
        if self.spec.shells:  # shelled MW, taken at its own average cooling (approximation)
            self._add_shell(mw, self.pue, self.wue)
        self._tally()

    def _start_demand(self) -> float:
        """H100e-quarters of demand it expects before its first clearing: the labs' demand
        at the start, shared by the hyperscalers' start fleets."""
        w = self.model.world
        fleets = sum(sum(h.fleet.values()) for h in w.hyperscalers)
        if fleets <= 0:
            return self.fleet_size
        labs = sum(lab.training + lab.inference for lab in w.labs)
        return labs * sum(self.spec.fleet.values()) / fleets

    def settle(self) -> None:
        m = self.model
        s = self.spec
        t = m.tick
        self.installed = 0.0
        out = m.outcome
        self._age_backlog(out.fills.get(self.name, ()))
        for designer, q in out.inflows(self.name, "accelerator").items():
            if q > 0:
                cohorts = self.fleet.setdefault(designer, [])
                self.installed += q
                d = m.by_name.get(designer)
                gens = getattr(d, "generations", ())
                if not gens:
                    cohorts.append([t + 1 + s.fleet_life, q, ""])
                    continue
                # Deliveries carry the generation mix of what the designer made this tick.
                for g, share in zip(gens, d.gen_mix()):
                    if share > 0:
                        cohorts.append([t + 1 + s.fleet_life, q * share, g.name])
        self._tally()
        self.power_mw += sum(out.inflows(self.name, "power").values())
        if s.shells:
            for dev, q in out.inflows(self.name, "shell").items():
                if q > 0:
                    dc = m.by_name[dev]
                    self._add_shell(q, getattr(dc, "pue", s.pue), getattr(dc, "wue", s.wue))
        self.premium_sold = sum(out.outflows(self.name, tc.PREMIUM).values())
        self.sold = sum(out.outflows(self.name, "compute").values()) + self.premium_sold
        self.utilisation = self.sold / self.available if self.available > 0 else 0.0
        opex = s.opex * self.sold
        fills = out.ask_fills_of.get(self.name, ())
        if self.mw_factor and fills:
            # Compute sold by bucket: the fills of its asks for that bucket (its compute
            # asks come first); contract deliveries (not through asks) are taken to have
            # the same mix.
            by_bucket: dict[tuple[str, str], list[float]] = {k: [] for k in self.buckets}
            for k, q in zip(self.ask_buckets, fills):
                by_bucket[k].append(q)
            self.gen_sold = {k: sum(qs) for k, qs in by_bucket.items()}
            total = sum(self.gen_sold.values())
            if total > 0:
                f = self.mw_factor
                e = s.opex_energy_share
                mix = {k: q / total for k, q in self.gen_sold.items()}
                self.mw_per_sold = s.mw_per_h100e * sum(w * f.get(k, 1.0) for k, w in mix.items())
                opex *= sum(w * (1 - e + e * f.get(k, 1.0)) for k, w in mix.items())
        m.ledger.pay(self.name, EXTERNAL, opex, "operating")
        self.footprint = energy.footprint(
            self.sold, self.mw_per_sold, self.pue, self.wue, self.intensity_now(), self.hours
        )
        self.carbon_paid = m.policy.carbon_price(self.name) * self.footprint.emissions_t
        m.ledger.pay(self.name, EXTERNAL, self.carbon_paid, "carbon")
        bought = energy.clean_bought_share(m.policy.clean_share(self.name), self.grid_clean)
        self.clean_paid = (
            bought * self.footprint.energy_mwh * m.world.behaviour.clean_energy_premium
        )
        m.ledger.pay(self.name, EXTERNAL, self.clean_paid, "clean_energy")

    def decide(self) -> None:
        m = self.model
        b = m.world.behaviour
        unmet = m.unmet_by_hyperscaler.get(self.name, 0.0)
        self.demand_ema = ema(self.demand_ema, self.sold + unmet, b.foresight)
        acc = m.outcome.node_price(self.name, "accelerator")
        if acc is not None and self.installed > 0:
            unit = acc + sum(
                q * (m.outcome.node_price(self.name, g) or 0.0)
                for g, q in self.install_inputs.items()
                if g != "accelerator"
            )
            self.unit_cost_ema = ema(self.unit_cost_ema, unit, b.foresight)
        self.util_ema = ema(self.util_ema, self.utilisation, b.foresight)
        self._learn_value()
        if self.utilisation >= b.sold_out_utilisation:
            self.markup = min(b.max_markup, self.markup + b.markup_step)
        elif self.utilisation < b.idle_utilisation:
            self.markup = max(0.0, self.markup - b.markup_step)


def install_npv(
    price: float, utilisation: float, opex: float, decline: float, rate: float, ticks: int
) -> float:
    """$ NPV of one installed H100e: sum over t = 1..ticks of
    (utilisation x price x (1 - decline)^(t-1) - opex) / (1 + rate)^t, at least 0.

    ``price`` and ``opex`` are $ per H100e-quarter (per tick); ``rate`` per tick."""
    npv = 0.0
    for t in range(1, ticks + 1):
        npv += (utilisation * price * (1 - decline) ** (t - 1) - opex) / (1 + rate) ** t
    return max(npv, 0.0)


def most_spare_compute(hypers: list[Hyperscaler]) -> str | None:
    """The hyperscaler with most unsold compute this tick (ties: first name)."""
    spare = {h.name: h.available - h.sold for h in hypers}
    return max(sorted(spare), key=lambda n: spare[n]) if spare else None


def unmet_by_hyperscaler(hypers: list[Hyperscaler], labs: list, outcome) -> dict[str, float]:
    """Unmet lab demand attributed to each hyperscaler by its share of each lab's supply
    (split evenly over all hyperscalers for a lab that got nothing)."""
    share: dict[str, float] = {h.name: 0.0 for h in hypers}
    for lab in labs:
        if lab.unmet <= 0:
            continue
        got = tc.compute_inflows(outcome, lab.name)
        supply = sum(got.values())
        if supply > 0:
            for h, q in got.items():
                share[h] = share.get(h, 0.0) + lab.unmet * q / supply
        else:
            for h in share:
                share[h] += lab.unmet / len(share)
    return share
