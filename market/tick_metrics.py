"""What each tick records: tidy tables in a Mesa DataCollector (``metrics.py`` computes).

Tables (one row per tick and key; money in $, quantities per tick in the good's unit):

- ``ticks``: tick, date, surplus ($: value of bids served - ask, recipe and
  route costs of the tick's trades, i.e. the clearing's welfare without the
  artificial shortfall penalty), shortfall (contract units not delivered),
  clearing model rebuilt, active shocks,
  relationship persistence (share of this tick's trading pairs that also traded
  last tick; NaN at tick 0), contracts in force, breaches this tick,
  backlog_installs (H100e of install orders waiting), cancelled_installs (H100e of
  orders cancelled after the patience), lead_time_<good> (weeks: backlog waiting
  on the good / units delivered this tick; ``market.backlog``), defaults (agents
  that defaulted this tick) and defaulted (all so far; ``market.credit``);
  energy_mwh, emissions_t, water_m3, carbon_paid and clean_paid: the hyperscalers' totals of
  the agents table's columns of the same names.
- ``prices`` (compute_premium only with traffic classes, ODD 7.19): tick, date, good,
  spot_price (volume-weighted over spot trades, $/unit
  paid by buyers; when nothing trades, the mean nodal shadow price at the good's
  buyers), contract_price (volume-weighted over contracted deliveries; NaN when
  none), price (the transaction price: volume-weighted over spot and contract
  units; the spot price when nothing moved), volume (spot units), contract_volume.
- ``agents``: tick, agent, type, region, cash, profit, revenue ($ this tick from goods
  sold and labs' value of compute), gross_margin (this tick's (revenue - cost of goods
  sold) / revenue, ``metrics.gross_margins``), roi, capex (cumulative $ spent on new
  capacity), prepaid (cumulative $ of customers' prepayments received: the share of
  expansion risk customers carry), capacity, sold, utilisation, stranded, markup;
  labs: demand, received, unmet; hyperscalers: fleet (H100e), power_mw, energy_mwh (MWh
  drawn by the compute it rented), emissions_t (t CO2e of that energy at its region's
  grid intensity), water_m3 (m3 of water at its WUE; ``market.energy``), carbon_paid ($
  of carbon price), clean_paid ($ of clean energy bought); sellers: backlog (units of
  orders waiting on it) and lead_time (weeks it quotes, the largest over its goods);
  credit_line ($ it may borrow: cash never goes below -credit_line), defaulted (it has
  defaulted and stopped trading), default_loss (cumulative $ of contracts it lost to
  others' defaults; ``market.credit``); memory makers with a DRAM wafer pool: wafers
  (wafer starts available this tick), hbm_wafers and dram_wafers (wafer starts it put
  into HBM and into DRAM); the outside DRAM buyers: demand (GB wanted at their reference
  price), received, unmet; suppliers: tools_on_order (tool units their capacity orders
  still wait for, ``market.tools``).
- ``flows``: tick, seller, buyer, good, quantity (spot + contract units).
- ``node_prices``: tick, agent, good, price ($/unit at that node, the price rule's).
- ``contracts``: tick, contract, kind, seller, buyer, good, nominated, delivered,
  shortfall, price, breach.
- ``concentration``: tick, buyer, good, supplier_hhi, top1_share (buyer "*" is the
  whole market's HHI of sellers).
- ``coverage``: tick, buyer, good, coverage (contracted share of units received).
- ``exposure``: tick, lab, by ("region" or "supplier"), origin, share of the lab's
  compute traced upstream: lab <- hyperscalers (this tick's compute), hyperscaler
  <- designers (its installed fleet), designer <- wafer/HBM/CoWoS suppliers (an EMA
  of the $ value of its inputs).
- ``capacity``: tick, agent, good, capacity (installed units per tick), available
  (after shocks), sold; one row per agent and good it makes.
- ``sovereignty``: tick, region, good, capacity (available units per tick of the
  agents located in the region), use (units the region's buyers received this tick),
  self_sufficiency (min(1, capacity / use); NaN when use is 0); one row per region of
  any agent and good (``market.sovereignty``).
- ``risk``: tick, project ("<owner>:<asset>"), owner, party, party_type, source, financed
  ($ this tick), invested ($ so far), exposure ($: the stake's book value) and
  realised_loss ($ written down this tick); one row per stake (``market.risk``, ODD 7.18).
- ``spvs``: tick, spv, tenant, drawn ($ of shells and MW bought so far), debt ($
  outstanding), assets ($ book value), mw (MW under lease), lease_share, rent and
  debt_service ($ this tick), defaulted, rvg_paid ($; ``market.spv``).
- ``single_points``: tick, lab, good (the upstream tier: compute, accelerator, wafer,
  hbm, cowos, networking, shell), supplier (the one with the largest share of the lab's
  supply in that tier, traced upstream: lab <- hyperscalers (this tick's compute) <-
  designers (installed fleet) <- suppliers (this tick's units of the good); networking
  and shells: lab <- hyperscalers <- makers and developers (this tick's units)), share,
  and single_point (share >= ``sovereignty.SPOF_SHARE``); no row when nothing is traced.
- ``generations`` (designers with generations only; ODD 7.15): tick, date, designer,
  generation, share (planned share of the designer's H100e output), made (H100e this
  tick), installed (H100e in all fleets), mw_per_h100e (MW per H100e it needs, fleet-
  weighted over hyperscalers), utilisation (compute sold / available over the
  hyperscalers' buckets of it; NaN when none available), rental_per_chip_hour ($ per chip-
  hour: the compute price the hyperscalers received, volume-weighted, x realised H100e
  per chip / hours per tick; NaN when none sold).
- ``token_costs`` (ODD 7.16, 7.19): tick, tier, traffic_class, generation ('' = the tier's
  reference H100e), price (the class's compute price), tokens_per_s, cost_per_mtok,
  tokens_per_task, cost_per_task; economy rows at the compute price for every tier and
  every generation of ``token_speedups``; with traffic classes, premium rows at the
  premium price for the reference and the generations eligible this tick.
- ``traffic`` (with traffic classes only; ODD 7.19): tick, date, traffic_class (premium,
  economy), price ($ per H100e-quarter: the class's spot price, the marginal price; the
  prices table's compute price also averages in contract deliveries), capacity
  (H100e-quarters the hyperscalers offered on hardware eligible for the class), demand
  (labs' H100e-quarters at their values), served, moved (premium traffic served on
  economy hardware; 0 for economy), unmet (demand - served, at least 0).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING

import mesa

from market import metrics, risk, sovereignty
from market import traffic as tc
from market.agents import ChipDesigner, Hyperscaler, Lab
from market.agents.lab import CLASS_COLUMNS
from market.backlog import QUOTED
from market.goods import GOODS

if TYPE_CHECKING:
    from market.model import MarketModel

ENERGY = ("energy_mwh", "emissions_t", "water_m3", "carbon_paid", "clean_paid")
"""Hyperscalers' energy (MWh), emissions (t CO2e), water (m3), carbon price paid ($) and
clean energy bought to meet a requirement ($) this tick: per agent in ``agents``, their
totals in ``ticks``."""

WAFERS = ("wafers", "hbm_wafers", "dram_wafers")
"""Memory makers with a DRAM wafer pool: wafer starts available this tick, and those it
put into HBM and into DRAM (``market/agents/memory_maker.py``)."""

FINANCE = (
    "capex", "opex", "revenue", "max_capacity", "usable_capacity", "binding", "sold",
    "utilisation", "idle", "idle_cost", "roi_served", "roi_fleet",
)  # fmt: skip
"""Columns of the ``finance`` table after tick, agent, type (the field's KPIs, ODD 7.16):
$ this tick of capex, opex and revenue (``metrics.capex_opex_revenue``); hyperscalers
only (NaN or "" for others): installed H100e (max_capacity), usable H100e and the limit
that binds (``metrics.usable_capacity``), H100e rented (sold), sold / usable, idle H100e
(installed - sold), the $ of depreciation idle H100e carry and the returns on served
and on all installed H100e (``metrics.fleet_returns``)."""

FIELD_TICKS = (
    "capex", "opex", "revenue", "max_capacity", "usable_capacity", "usable_share",
    "idle_cost", "roi_served", "roi_fleet",
)  # fmt: skip
"""The ``finance`` table's market totals per tick in ``ticks``: $ of capex, opex and revenue
(all agents), hyperscalers' installed and usable H100e, usable / installed, $ of idle cost,
and the returns of all hyperscalers' fleets together (sums of margins over sums of capital)."""

TABLES = {
    "ticks": [
        "tick", "date", "surplus", "shortfall", "rebuilt", "shocks", "persistence",
        "contracts_active", "breaches", "backlog_installs", "cancelled_installs",
        *(f"lead_time_{g}" for g in QUOTED), "defaults", "defaulted", "distress_sales",
        "write_downs", *ENERGY, *FIELD_TICKS,
    ],
    "prices": [
        "tick", "date", "good", "price", "spot_price", "contract_price", "volume",
        "contract_volume",
    ],
    "agents": [
        "tick", "agent", "type", "region", "cash", "profit", "revenue", "gross_margin", "roi",
        "capex",
        "prepaid", "capacity", "sold",
        "utilisation", "stranded", "markup", "demand", "received", "unmet", "fleet", "power_mw",
        "shell_mw", "pue", "wue", "backlog", "lead_time", "credit_line", "defaulted",
        "default_loss", *ENERGY, "stock", "stock_value", "write_down", *WAFERS,
        "tools_on_order",
    ],
    "flows": ["tick", "seller", "buyer", "good", "quantity"],
    "node_prices": ["tick", "agent", "good", "price"],
    "contracts": [
        "tick", "contract", "kind", "seller", "buyer", "good", "nominated", "delivered",
        "shortfall", "price", "breach",
    ],
    "concentration": ["tick", "buyer", "good", "supplier_hhi", "top1_share"],
    "coverage": ["tick", "buyer", "good", "coverage"],
    "exposure": ["tick", "lab", "by", "origin", "share"],
    "capacity": ["tick", "agent", "good", "capacity", "available", "sold"],
    "sovereignty": ["tick", "region", "good", "capacity", "use", "self_sufficiency"],
    "single_points": ["tick", "lab", "good", "supplier", "share", "single_point"],
    "finance": ["tick", "agent", "type", *FINANCE],
    "dependency": ["tick", "lab", "compute_provider", "compute_share", "equity_holder",
                   "equity_share"],
    "token_costs": ["tick", "tier", "traffic_class", "generation", "price", "tokens_per_s",
                    "cost_per_mtok", "tokens_per_task", "cost_per_task"],
    "traffic": ["tick", "date", "traffic_class", "price", "capacity", "demand", "served", "moved",
                "unmet"],
    "generations": [
        "tick", "date", "designer", "generation", "share", "made", "installed",
        "mw_per_h100e", "utilisation", "rental_per_chip_hour",
    ],
    "risk": ["tick", *risk.COLUMNS],
    "spvs": ["tick", "spv", "tenant", "drawn", "debt", "assets", "mw", "lease_share", "rent",
             "debt_service", "defaulted", "rvg_paid"],
}  # fmt: skip

NAN = float("nan")
INPUT_TIERS = ("wafer", "hbm", "cowos")  # the designers' inputs, traced to their makers
INSTALL_TIERS = ("networking", "shell")  # the hyperscalers' install inputs, traced likewise


def surplus(c) -> float:
    """The clearing's welfare ($) without the penalty on contract shortfalls."""
    return float(c.welfare + c.shortfall_penalty * c.commitment_shortfalls.sum())


class TickRecorder:
    """Computes the tick's metrics and adds them to a Mesa DataCollector's tables."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        self.collector = mesa.DataCollector(
            model_reporters={
                "surplus": lambda m: surplus(m.clearing) if m.clearing else NAN,
                "unmet_demand": lambda m: sum(a.unmet for a in m.agents_of(Lab)),
            },
            tables=TABLES,
        )
        self._previous: set[tuple[str, str, str]] = set()
        self._input_value: dict[tuple[str, str], float] = {}
        self._shares_tick: int | None = None  # the tick _lab_shares last traced
        self._capital = [g for g, info in GOODS.items() if info.durable]
        # Equity of each lab held by each hyperscaler (equity-for-compute contracts signed so
        # far; the book is read from where the last tick stopped).
        self._equity: dict[str, dict[str, float]] = defaultdict(dict)
        self._contracts_read = 0

    def tables(self) -> dict[str, dict[str, list]]:
        return {name: dict(self.collector.tables[name]) for name in TABLES}

    def _row(self, table: str, **row) -> None:
        """Append one row to ``table``: every column of the table, none missing (a missing
        column is a KeyError naming it). Mesa's ``add_table_row`` does the same, one
        column check at a time; this is the hot path of the metrics."""
        for column, values in self.collector.tables[table].items():
            values.append(row[column])

    def _extend(self, table: str, columns: dict[str, list]) -> None:
        """Add many rows at once: ``columns`` holds every column of ``table``, equally long."""
        dest = self.collector.tables[table]
        if set(columns) != set(dest):
            raise ValueError(f"table {table}: columns {sorted(columns)} != {sorted(dest)}")
        for col, values in columns.items():
            dest[col].extend(values)

    def record(self) -> None:
        m = self.model
        out = m.outcome
        c = out.clearing
        t, date = m.tick, m.date()
        due = m.contracts.due(t)
        self.collector.collect(m)

        current = {k for k, q in out.flows.items() if q > 0}
        field = self._finance(t)
        breaches = 0
        contract_units: dict[tuple[str, str], float] = defaultdict(float)  # (buyer, good)
        contract_by_good: dict[str, float] = defaultdict(float)
        for k, d, s in out.deliveries:
            breach = bool(s > 1e-9 * max(1.0, k.nominated))
            breaches += breach
            contract_units[(k.buyer, k.good)] += float(d)
            contract_by_good[k.good] += float(d)
            self._row(
                "contracts", tick=t, contract=k.id, kind=k.kind, seller=k.seller, buyer=k.buyer,
                good=k.good, nominated=k.nominated, delivered=float(d), shortfall=float(s),
                price=k.price, breach=breach,
            )  # fmt: skip
        self._row(
            "ticks", tick=t, date=date, surplus=surplus(c),
            shortfall=float(c.commitment_shortfalls.sum()),
            rebuilt=c.rebuilt, shocks=";".join(m.policy.active),
            persistence=(
                metrics.relationship_persistence(self._previous, current) if t > 0 else NAN
            ),
            contracts_active=len(due), breaches=breaches,
            backlog_installs=sum(h.backlog_total for h in m.agents_of(Hyperscaler)),
            cancelled_installs=sum(h.cancelled for h in m.agents_of(Hyperscaler)),
            **{f"lead_time_{g}": w for g, w in m.lead_times.by_good.items()},
            defaults=m.credit.defaults_this_tick, defaulted=len(m.credit.defaulted),
            distress_sales=m.credit.sales_this_tick,
            write_downs=sum(d.write_down for d in m.agents_of(ChipDesigner)),
            **self._energy_totals(), **field,
        )  # fmt: skip
        self._previous = current

        class_price: dict[str, float] = {}  # transaction prices of the compute goods
        class_spot: dict[str, float] = {}  # their spot prices (the marginal price of a class)
        contract_value: dict[str, float] = defaultdict(float)
        for k, d, _ in out.deliveries:
            contract_value[k.good] += k.price * d
        classes = tc.enabled(m.world.traffic)
        for good in GOODS:
            if good == tc.PREMIUM and not classes:  # no premium class: no row (ODD 7.19)
                continue
            trades = [(q, p) for _, _, g, q, p in out.spot if g == good]
            vol = sum(q for q, _ in trades)
            if vol > 0:
                spot = sum(q * p for q, p in trades) / vol
            else:  # nothing traded: the mean nodal (shadow) price at the good's buyers
                shadow = [c.prices[(r.buyer, good)] for r in out.book.routes if r.good == good]
                spot = sum(shadow) / len(shadow) if shadow else NAN
            cvol = contract_by_good.get(good, 0.0)
            contract = contract_value[good] / cvol if cvol > 0 else NAN
            price = (vol * spot + contract_value[good]) / (vol + cvol) if vol + cvol > 0 else spot
            self._row(
                "prices", tick=t, date=date, good=good, price=price, spot_price=spot,
                contract_price=contract, volume=vol, contract_volume=cvol,
            )  # fmt: skip
            if good in tc.COMPUTE_GOODS:
                class_price[good] = price
                class_spot[good] = spot
        self._token_costs(t, class_price)
        self._traffic(t, date, class_spot)

        for (s, b, g), q in out.flows.items():
            self._row("flows", tick=t, seller=s, buyer=b, good=g, quantity=q)
        for (agent, good), p in c.prices.items():
            if good in GOODS:
                self._row("node_prices", tick=t, agent=agent, good=good, price=p)

        self._agents(t)
        flows = [(s, b, g, q) for (s, b, g), q in out.flows.items()]
        received: dict[tuple[str, str], float] = defaultdict(float)
        for _, b, g, q in flows:
            received[(b, g)] += q
        for (b, g), cov in metrics.contract_coverage(contract_units, received).items():
            self._row("coverage", tick=t, buyer=b, good=g, coverage=cov)
        hhi = metrics.buyer_supplier_hhi(flows)
        top = metrics.buyer_top1_share(flows)
        for key in sorted(hhi, key=str):
            b, g = key
            self._row("concentration", tick=t, buyer=b, good=g, supplier_hhi=hhi[key],
                      top1_share=top[key])  # fmt: skip
        for g, v in metrics.market_hhi((s, g, q) for s, _, g, q in flows).items():
            self._row("concentration", tick=t, buyer="*", good=g, supplier_hhi=v, top1_share=NAN)
        self._exposure(t)
        self._capacity(t)
        self._generations(t, date)
        self._sovereignty(t)
        self._dependency(t)
        self._extend("risk", m.risk.rows(t))
        for v in m.spvs.spvs:
            self._row(
                "spvs", tick=t, spv=v.name, tenant=v.spec.tenant, drawn=v.drawn, debt=v.debt,
                assets=v.asset, mw=v.mw, lease_share=v.lease_share, rent=v.rent,
                debt_service=v.service, defaulted=v.defaulted, rvg_paid=v.rvg_paid,
            )  # fmt: skip

    def _finance(self, t: int) -> dict[str, float]:
        """One ``finance`` row per agent (ODD 7.16); returns the market totals for ``ticks``."""
        m = self.model
        money = metrics.capex_opex_revenue(m.last_ledger.rows, self._capital)
        capex, opex, revenue = money["capex"], money["opex"], money["revenue"]
        hypers: dict[str, dict] = {}
        served = [0.0, 0.0]  # sum of (margin - depreciation of sold), of capital sold
        whole = [0.0, 0.0]  # the same over all installed H100e
        for h in m.agents_of(Hyperscaler):
            fleet, grid, shell = h.rent_limits
            usable, binding = metrics.usable_capacity(
                fleet, grid, shell, h.spec.mw_per_h100e, m.policy.capacity_factor(h.name)
            )
            k = h.install_cost()
            life = h.spec.fleet_life
            rev, cost = revenue.get(h.name, 0.0), opex.get(h.name, 0.0)
            r = metrics.fleet_returns(rev, cost, h.sold, fleet, k, life)
            served[0] += rev - cost - k / life * h.sold
            served[1] += k * h.sold
            whole[0] += rev - cost - k / life * fleet
            whole[1] += k * fleet
            hypers[h.name] = dict(
                max_capacity=fleet, usable_capacity=usable, binding=binding, sold=h.sold,
                utilisation=h.sold / usable if usable > 0 else NAN,
                idle=max(fleet - h.sold, 0.0), **r,
            )  # fmt: skip
        # Column by column (one list per column, not one dict per row): ~1,000 agents a tick.
        agents = list(m.by_name.values())
        names = [a.name for a in agents]
        cols: dict[str, list] = {
            "tick": [t] * len(agents), "agent": names,
            "type": [type(a).__name__ for a in agents],
            "capex": [capex.get(n, 0.0) for n in names],
            "opex": [opex.get(n, 0.0) for n in names],
            "revenue": [revenue.get(n, 0.0) for n in names],
        }  # fmt: skip
        for col in FINANCE[3:]:
            blank = "" if col == "binding" else NAN
            cols[col] = [hypers[n][col] if n in hypers else blank for n in names]
        self._extend("finance", cols)
        installed = sum(x["max_capacity"] for x in hypers.values())
        usable = sum(x["usable_capacity"] for x in hypers.values())
        return dict(
            capex=sum(cols["capex"]), opex=sum(cols["opex"]), revenue=sum(cols["revenue"]),
            max_capacity=installed, usable_capacity=usable,
            usable_share=usable / installed if installed > 0 else NAN,
            idle_cost=sum(x["idle_cost"] for x in hypers.values()),
            roi_served=served[0] / served[1] if served[1] > 0 else NAN,
            roi_fleet=whole[0] / whole[1] if whole[1] > 0 else NAN,
        )  # fmt: skip

    def _token_costs(self, t: int, prices: dict[str, float]) -> None:
        """Cost per million tokens and per task of each model tier, traffic class and
        generation at this tick's class prices ($ per H100e-quarter; ODD 7.16, 7.19):
        ``metrics.cost_per_mtok`` at the tier's tokens per H100e-second x the generation's
        speed-up (``token_speedups``; '' = the tier's reference)."""
        m = self.model
        w = m.world
        gens = list(w.token_speedups)
        rows = [("economy", prices.get(tc.ECONOMY, NAN), g) for g in ("", *gens)]
        if tc.enabled(w.traffic):
            eligible = {g for _, g in m.premium_buckets}
            premium = prices.get(tc.PREMIUM, NAN)
            rows += [("premium", premium, g) for g in ("", *gens) if not g or g in eligible]
        for tier in w.token_tiers:
            for klass, price, gen in rows:
                speed = tier.tokens_per_h100e_s * tc.speedup(w.token_speedups, gen)
                cost = metrics.cost_per_mtok(price, speed, w.meta.ticks_per_year)
                self._row(
                    "token_costs", tick=t, tier=tier.name, traffic_class=klass, generation=gen,
                    price=price, tokens_per_s=speed, cost_per_mtok=cost,
                    tokens_per_task=tier.tokens_per_task,
                    cost_per_task=cost * tier.tokens_per_task / 1e6,
                )  # fmt: skip

    def _traffic(self, t: int, date: str, prices: dict[str, float]) -> None:
        """One ``traffic`` row per class (ODD 7.19): the labs' demand, served, moved and
        unmet H100e-quarters and the hyperscalers' capacity eligible for the class."""
        m = self.model
        if not tc.enabled(m.world.traffic):
            return
        labs = m.agents_of(Lab)
        hypers = m.agents_of(Hyperscaler)
        total = {k: math.fsum(lab.by_class[k] for lab in labs) for k in CLASS_COLUMNS}
        premium_cap = math.fsum(h.premium_available for h in hypers)
        for klass, good, cap in (
            ("premium", tc.PREMIUM, premium_cap),
            ("economy", tc.ECONOMY, math.fsum(h.available for h in hypers)),
        ):
            self._row(
                "traffic", tick=t, date=date, traffic_class=klass, price=prices.get(good, NAN),
                capacity=cap, demand=total[f"{klass}_demand"], served=total[f"{klass}_served"],
                moved=total["moved"] if klass == "premium" else 0.0,
                unmet=total[f"{klass}_unmet"],
            )  # fmt: skip

    def _dependency(self, t: int) -> None:
        """Each lab's top compute provider this tick and top equity holder (ODD 7.16)."""
        m = self.model
        book = m.contracts.contracts
        for c in book[self._contracts_read :]:
            if c.kind == "equity_for_compute":
                held = self._equity[c.buyer]
                held[c.seller] = held.get(c.seller, 0.0) + c.equity_share
        self._contracts_read = len(book)
        for lab in m.agents_of(Lab):
            provider, share, holder, equity = metrics.lab_dependency(
                tc.compute_inflows(m.outcome, lab.name), self._equity.get(lab.name, {})
            )
            self._row(
                "dependency", tick=t, lab=lab.name, compute_provider=provider or "",
                compute_share=share, equity_holder=holder or "", equity_share=equity,
            )  # fmt: skip

    def _energy_totals(self) -> dict[str, float]:
        """The hyperscalers' energy, emissions, water and carbon paid, added up."""
        hypers = self.model.agents_of(Hyperscaler)
        f = [h.footprint for h in hypers]
        return dict(
            energy_mwh=sum(x.energy_mwh for x in f), emissions_t=sum(x.emissions_t for x in f),
            water_m3=sum(x.water_m3 for x in f), carbon_paid=sum(h.carbon_paid for h in hypers),
            clean_paid=sum(h.clean_paid for h in hypers),
        )  # fmt: skip

    def _agents(self, t: int) -> None:
        m = self.model
        capital = [g for g, info in GOODS.items() if info.durable]
        margins = metrics.gross_margins(m.last_ledger.rows, capital)
        revenue, _ = metrics.revenue_and_cost(m.last_ledger.rows, capital)
        for a in m.by_name.values():
            row = dict(
                tick=t, agent=a.name, type=type(a).__name__, region=a.region, cash=a.cash,
                profit=a.profit, revenue=revenue.get(a.name, 0.0),
                gross_margin=margins.get(a.name, NAN), roi=a.roi,
                capex=a.capex_total, prepaid=a.prepaid_total,
                capacity=NAN, sold=NAN, utilisation=NAN,
                stranded=NAN, markup=NAN, demand=NAN, received=NAN, unmet=NAN, fleet=NAN,
                power_mw=NAN, shell_mw=NAN, pue=NAN, wue=NAN, backlog=a.backlog,
                **dict.fromkeys(ENERGY + WAFERS, NAN), stock=NAN, stock_value=NAN,
                write_down=NAN, tools_on_order=NAN,
                lead_time=max(a.lead_times.values()) if a.lead_times else 0.0,
                credit_line=a.credit_line, defaulted=a.defaulted, default_loss=a.default_loss,
            )  # fmt: skip
            row.update(a.columns())
            self._row("agents", **row)

    def _lab_shares(self) -> tuple[sovereignty.Shares, sovereignty.Shares]:
        """Each lab's supply traced one and two layers up, computed once a tick for the
        exposure and single-points tables: lab <- hyperscalers (this tick's compute) and
        lab <- hyperscalers <- designers (installed fleet, H100e); see
        ``sovereignty.step_upstream``."""
        m = self.model
        if self._shares_tick != m.tick:
            labs = [a.name for a in m.agents_of(Lab)]
            compute = [
                (h, lab, q) for lab in labs for h, q in tc.compute_inflows(m.outcome, lab).items()
            ]
            fleet = [(d, h.name, q) for h in m.agents_of(Hyperscaler) for d, q in h.units.items()]
            by_hyper = sovereignty.step_upstream({lab: {lab: 1.0} for lab in labs}, compute)
            self._shares = (by_hyper, sovereignty.step_upstream(by_hyper, fleet))
            self._shares_tick = m.tick
        return self._shares

    def _exposure(self, t: int) -> None:
        """Each lab's compute traced upstream by proportional mixing (the layered form of
        ``metrics.trace_exposure``: ``sovereignty.step_upstream``): lab <- hyperscalers
        (this tick's compute) <- designers (installed fleet, H100e) <- input suppliers
        ($ of inputs, moving average); shares by supplier and by the origins' region."""
        m = self.model
        w = m.world.behaviour.foresight
        for d in m.agents_of(ChipDesigner):
            for good in INPUT_TIERS:
                price = m.outcome.node_price(d.name, good) or 0.0
                for s, q in m.outcome.inflows(d.name, good).items():
                    key = (s, d.name)
                    value = q * price
                    old = self._input_value.get(key)
                    self._input_value[key] = value if old is None else (1 - w) * old + w * value
        inputs = [(s, d, v) for (s, d), v in self._input_value.items()]
        _, by_designer = self._lab_shares()
        exposure = sovereignty.only(sovereignty.step_upstream(by_designer, inputs), m.by_name)
        for lab in exposure:
            by_region: dict[str, float] = {}
            for origin, share in sorted(exposure[lab].items()):
                self._row("exposure", tick=t, lab=lab, by="supplier", origin=origin, share=share)
                region = m.by_name[origin].region
                by_region[region] = by_region.get(region, 0.0) + share
            for region, share in sorted(by_region.items()):
                self._row("exposure", tick=t, lab=lab, by="region", origin=region, share=share)

    def _capacity(self, t: int) -> None:
        """One row per agent and good it can make: installed capacity, available
        (after shocks) and sold, units per tick in the good's unit (so TSMC's wafer and
        CoWoS lines stay apart)."""
        for a in self.model.by_name.values():
            for good, capacity, available, sold in a.capacity_rows():
                self._row("capacity", tick=t, agent=a.name, good=good, capacity=capacity,
                          available=available, sold=sold)  # fmt: skip

    def _generations(self, t: int, date: str) -> None:
        """One row per designer's generation (``generations`` table; ODD 7.15)."""
        m = self.model
        designers = [d for d in m.agents_of(ChipDesigner) if d.generations]
        if not designers:
            return
        hypers = m.agents_of(Hyperscaler)
        hours = hypers[0].hours if hypers else 0.0
        units: dict[tuple[str, str], float] = defaultdict(float)
        mw: dict[tuple[str, str], float] = defaultdict(float)
        avail: dict[tuple[str, str], float] = defaultdict(float)
        sold: dict[tuple[str, str], float] = defaultdict(float)
        paid: dict[tuple[str, str], float] = defaultdict(float)
        for h in hypers:
            price = m.outcome.received_price(h.name, "compute")
            per = h.spec.mw_per_h100e
            for k, q in h.gen_units.items():
                units[k] += q
                mw[k] += q * per * h.mw_factor.get(k, 1.0)
            for k, q in h.gen_available.items():
                avail[k] += q
            for k, q in h.gen_sold.items():
                sold[k] += q
                if price is not None:
                    paid[k] += q * price
        for d in designers:
            for i, g in enumerate(d.generations):
                k = (d.name, g.name)
                n = units.get(k, 0.0)
                a, q = avail.get(k, 0.0), sold.get(k, 0.0)
                rent = paid[k] / q * d.gen_h[i] / hours if q > 0 and hours > 0 else NAN
                self._row(
                    "generations", tick=t, date=date, designer=d.name, generation=g.name,
                    share=d.gen_share[i], made=d.gen_made[i], installed=n,
                    mw_per_h100e=mw[k] / n if n > 0 else NAN,
                    utilisation=q / a if a > 0 else NAN, rental_per_chip_hour=rent,
                )  # fmt: skip

    def _sovereignty(self, t: int) -> None:
        """Self-sufficiency per region and good, and each lab's largest supplier per
        upstream tier (``market.sovereignty``)."""
        m = self.model
        agents = list(m.by_name.values())
        region_of = {a.name: a.region for a in agents}
        capacity = sovereignty.regional_capacity(
            ((a.name, good, avail) for a in agents for good, _, avail, _ in a.capacity_rows()),
            region_of,
        )
        flows = m.outcome.flows
        if tc.enabled(m.world.traffic):  # premium compute counts as compute
            folded: dict[tuple[str, str, str], float] = defaultdict(float)
            for (s, b, g), q in flows.items():
                folded[(s, b, tc.ECONOMY if g == tc.PREMIUM else g)] += q
            flows = folded
        use = sovereignty.regional_use(flows, region_of)
        for region in sorted(set(region_of.values())):
            for good in GOODS:  # compute_premium: counted in compute (0 here)
                cap, used = capacity.get((region, good), 0.0), use.get((region, good), 0.0)
                share = sovereignty.self_sufficiency(cap, used)
                self._row("sovereignty", tick=t, region=region, good=good, capacity=cap,
                          use=used, self_sufficiency=share)  # fmt: skip
        for lab, good, supplier, share in self.largest_upstream():
            self._row("single_points", tick=t, lab=lab, good=good, supplier=supplier, share=share,
                      single_point=share >= sovereignty.SPOF_SHARE)  # fmt: skip

    def largest_upstream(self) -> list[tuple[str, str, str, float]]:
        """(lab, tier, supplier, share) of each lab's largest supplier per upstream tier
        this tick, traced lab <- hyperscalers (compute) <- designers (fleet) <- suppliers
        (this tick's units of the tier's good)."""
        m = self.model
        flows = m.outcome.flows
        by_hyper, by_designer = self._lab_shares()
        designers = {d.name for d in m.agents_of(ChipDesigner)}
        hypers = {h.name for h in m.agents_of(Hyperscaler)}
        inputs: dict[str, list] = {good: [] for good in INPUT_TIERS}
        installs: dict[str, list] = {good: [] for good in INSTALL_TIERS}
        for (s, b, g), q in flows.items():
            if g in inputs and b in designers:
                inputs[g].append((s, b, q))
            elif g in installs and b in hypers:
                installs[g].append((s, b, q))
        makers: dict[str, set[str]] = {good: set() for good in (*INPUT_TIERS, *INSTALL_TIERS)}
        for a in m.by_name.values():
            for good, *_ in a.capacity_rows():
                if good in makers:
                    makers[good].add(a.name)
        tiers = {
            "compute": sovereignty.only(by_hyper, hypers),
            "accelerator": sovereignty.only(by_designer, designers),
        }
        for good in INPUT_TIERS:
            up = sovereignty.step_upstream(by_designer, inputs[good])
            tiers[good] = sovereignty.only(up, makers[good])
        for good in INSTALL_TIERS:  # bought by the hyperscalers themselves
            up = sovereignty.step_upstream(by_hyper, installs[good])
            tiers[good] = sovereignty.only(up, makers[good])
        out = []
        for good, by_lab in tiers.items():
            for lab, shares in by_lab.items():
                if shares:
                    s, x = max(sorted(shares.items()), key=lambda p: p[1])
                    out.append((lab, good, s, x))
        return out
