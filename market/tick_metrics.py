"""What each tick records: tidy tables in a Mesa DataCollector (``metrics.py`` computes).

Tables (one row per tick and key; money in $, quantities per tick in the good's unit):

- ``ticks``: tick, date, surplus ($: value of bids served - ask, recipe and
  route costs of the tick's trades, i.e. the clearing's welfare without the
  artificial shortfall penalty), shortfall (contract units not delivered),
  clearing model rebuilt, active shocks,
  relationship persistence (share of this tick's trading pairs that also traded
  last tick; NaN at tick 0), contracts in force, breaches this tick.
- ``prices``: tick, date, good, price (volume-weighted over spot trades, $/unit
  paid by buyers; when nothing trades, the mean nodal shadow price at the good's
  buyers), volume (spot units), contract_volume.
- ``agents``: tick, agent, type, region, cash, profit, roi, capex (cumulative $
  spent on new capacity), prepaid (cumulative $ of customers' prepayments
  received: the share of expansion risk customers carry), capacity, sold,
  utilisation, stranded, markup; labs: demand, received, unmet; hyperscalers:
  fleet (H100e), power_mw.
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
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import mesa
import networkx as nx

from market import metrics
from market.agents import ChipDesigner, Hyperscaler, Lab
from market.agents.supplier import Supplier
from market.goods import GOODS

if TYPE_CHECKING:
    from market.model import MarketModel

TABLES = {
    "ticks": [
        "tick", "date", "surplus", "shortfall", "rebuilt", "shocks", "persistence",
        "contracts_active", "breaches",
    ],
    "prices": ["tick", "date", "good", "price", "volume", "contract_volume"],
    "agents": [
        "tick", "agent", "type", "region", "cash", "profit", "roi", "capex", "prepaid",
        "capacity", "sold",
        "utilisation", "stranded", "markup", "demand", "received", "unmet", "fleet", "power_mw",
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
}  # fmt: skip

NAN = float("nan")


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

    def tables(self) -> dict[str, dict[str, list]]:
        return {name: dict(self.collector.tables[name]) for name in TABLES}

    def _row(self, table: str, **row) -> None:
        self.collector.add_table_row(table, row)

    def record(self) -> None:
        m = self.model
        c = m.clearing
        t, date = m.tick, m.date()
        due = m.contracts.due(t)
        self.collector.collect(m)

        current = {k for k, q in m.flows.items() if q > 0}
        breaches = 0
        contract_units: dict[tuple[str, str], float] = defaultdict(float)  # (buyer, good)
        contract_by_good: dict[str, float] = defaultdict(float)
        for k, d, s in m.deliveries:
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
        )  # fmt: skip
        self._previous = current

        for good in GOODS:
            trades = [(q, p) for _, _, g, q, p in m.spot if g == good]
            vol = sum(q for q, _ in trades)
            if vol > 0:
                price = sum(q * p for q, p in trades) / vol
            else:  # nothing traded: the mean nodal (shadow) price at the good's buyers
                shadow = [c.prices[(r.buyer, good)] for r in m.book.routes if r.good == good]
                price = sum(shadow) / len(shadow) if shadow else NAN
            self._row(
                "prices", tick=t, date=date, good=good, price=price, volume=vol,
                contract_volume=contract_by_good.get(good, 0.0),
            )  # fmt: skip

        for (s, b, g), q in m.flows.items():
            self._row("flows", tick=t, seller=s, buyer=b, good=g, quantity=q)
        for (agent, good), p in c.prices.items():
            if good in GOODS:
                self._row("node_prices", tick=t, agent=agent, good=good, price=p)

        self._agents(t)
        flows = [(s, b, g, q) for (s, b, g), q in m.flows.items()]
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

    def _agents(self, t: int) -> None:
        m = self.model
        for a in m.by_name.values():
            row = dict(
                tick=t, agent=a.name, type=type(a).__name__, region=a.region, cash=a.cash,
                profit=a.profit, roi=a.roi, capex=a.capex_total, prepaid=a.prepaid_total,
                capacity=NAN, sold=NAN, utilisation=NAN,
                stranded=NAN, markup=NAN, demand=NAN, received=NAN, unmet=NAN, fleet=NAN,
                power_mw=NAN,
            )  # fmt: skip
            if isinstance(a, Supplier):
                cap = sum(line.available for line in a.lines.values())
                sold = sum(line.sold for line in a.lines.values())
                row.update(
                    capacity=sum(line.capacity for line in a.lines.values()), sold=sold,
                    utilisation=metrics.utilisation(min(sold, cap), cap) if cap > 0 else NAN,
                    stranded=metrics.stranded_capacity(cap, sold),
                    markup=max(line.markup for line in a.lines.values()),
                )  # fmt: skip
            elif isinstance(a, Hyperscaler):
                row.update(
                    capacity=a.available, sold=a.sold,
                    utilisation=a.utilisation if a.available > 0 else NAN,
                    stranded=metrics.stranded_capacity(a.available, a.sold), markup=a.markup,
                    fleet=a.fleet_size, power_mw=a.power_mw,
                )  # fmt: skip
            elif isinstance(a, ChipDesigner):
                row.update(capacity=a.capacity, sold=a.made, markup=a.markup)
            elif isinstance(a, Lab):
                row.update(demand=a.demand, received=a.received, unmet=a.unmet)
            self._row("agents", **row)

    def _exposure(self, t: int) -> None:
        m = self.model
        w = m.world.behaviour.foresight
        g = nx.DiGraph()
        for a in m.by_name.values():
            g.add_node(a.name, region=a.region)
        for d in m.agents_of(ChipDesigner):
            for good in ("wafer", "hbm", "cowos"):
                price = m.node_price(d.name, good) or 0.0
                for s, q in m.inflows(d.name, good).items():
                    key = (s, d.name)
                    value = q * price
                    old = self._input_value.get(key)
                    self._input_value[key] = value if old is None else (1 - w) * old + w * value
        for (s, d), v in self._input_value.items():
            if v > 0:
                g.add_edge(s, d, flow=v + (g.edges[s, d]["flow"] if g.has_edge(s, d) else 0.0))
        for h in m.agents_of(Hyperscaler):
            for d, cohorts in h.fleet.items():
                units = sum(q for _, q in cohorts)
                if units > 0:
                    g.add_edge(d, h.name, flow=units)
        labs = [a.name for a in m.agents_of(Lab)]
        for lab in labs:
            for h, q in m.inflows(lab, "compute").items():
                g.add_edge(h, lab, flow=q)
        exposure = metrics.trace_exposure(g, labs)
        by_region = metrics.exposure_by("region", g, exposure)
        for lab in labs:
            for origin, share in sorted(exposure[lab].items()):
                self._row("exposure", tick=t, lab=lab, by="supplier", origin=origin, share=share)
            for region, share in sorted(by_region[lab].items()):
                self._row("exposure", tick=t, lab=lab, by="region", origin=region, share=share)

    def _capacity(self, t: int) -> None:
        """One row per agent and good it can make: installed capacity, available
        (after shocks) and sold, units per tick in the good's unit (so TSMC's wafer and
        CoWoS lines stay apart)."""
        m = self.model
        for a in m.by_name.values():
            if isinstance(a, Supplier):
                for line in a.lines.values():
                    self._row("capacity", tick=t, agent=a.name, good=line.good,
                              capacity=line.capacity, available=line.available,
                              sold=line.sold)  # fmt: skip
            elif isinstance(a, Hyperscaler):
                self._row("capacity", tick=t, agent=a.name, good="compute",
                          capacity=a.available, available=a.available, sold=a.sold)  # fmt: skip
            elif isinstance(a, ChipDesigner):
                self._row("capacity", tick=t, agent=a.name, good="accelerator",
                          capacity=a.capacity, available=a.capacity, sold=a.made)  # fmt: skip
