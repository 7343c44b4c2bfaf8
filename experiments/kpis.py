"""Scalar KPIs of one run, computed from its tidy tables (means over the run's ticks).

Every KPI is a float; its unit is in ``KPIS`` (families with one KPI per lab or
region, e.g. ``compute_received[OpenAI]``, in ``FAMILIES``). Sweeps, what-if studies
and sensitivity analyses keep a chosen subset of these per run. ``window`` cuts a
run's tables to a range of ticks, so the same KPIs hold over a shock's window or
after it; ``rents`` computes the tariff revenue and quota rents a policy creates
from the flows and node prices (the market does not record them).
"""

from __future__ import annotations

import math
from collections import defaultdict

from experiments.outputs.glossary import UNITS

PRICE_GOODS = (
    "accelerator", "compute", "hbm", "cowos", "wafer", "power", "networking", "shell", "dram",
    "compute_premium",
)  # fmt: skip
"""Goods with a price KPI ``price_<good>`` (units from the one units table)."""

KPIS: dict[str, str] = {
    **{f"price_{g}": f"{UNITS[g]}, mean over ticks" for g in PRICE_GOODS},
    "unmet_share": "unmet / demanded lab compute, over the whole run",
    "unmet_demand": "H100e-quarters unmet, mean per tick",
    "contract_coverage": "labs' contracted share of compute received, mean",
    "hhi_cowos": "market HHI of CoWoS sellers (0-10,000), mean",
    "hhi_hbm": "market HHI of HBM sellers (0-10,000), mean",
    "hhi_accelerator": "market HHI of accelerator sellers (0-10,000), mean",
    "exposure_tw": "labs' compute share traced to Taiwan, mean over labs and ticks",
    "welfare": "$ of total surplus (bid value - costs, no shortfall penalty), sum over ticks",
    "shortfall": "contract units not delivered, sum over ticks",
    "breaches": "contract breaches, sum over ticks",
    "supplier_capex": "$ of capacity expansion, total over the run",
    "tariff_revenue": "$ of tariffs: the tariff ($ per unit of the good) x units moved on tariffed "
    "routes, sum over ticks",
    "quota_rent": "$ of quota rents: (buyer's - seller's node price) x units moved on routes "
    "capped by an export control, sum over ticks",
    "energy": "TWh drawn by the compute hyperscalers rented, mean per tick",
    "emissions": "Mt CO2e of that energy (each hyperscaler's grid intensity), mean per tick",
    "water": "bn L of water (IT energy x WUE), mean per tick",
    "carbon_paid": "$ of carbon price paid by hyperscalers, sum over ticks",
    "clean_paid": "$ of clean energy hyperscalers bought to meet a clean-energy requirement, "
    "sum over ticks (ODD 7.11)",
    "write_downs": "$ of designers' finished-goods stock written off when export rules "
    "stranded it, sum over ticks (ODD 7.4)",
    "hbm_wafer_share": "memory makers' wafer starts put into HBM / all their DRAM wafer "
    "starts, over the run (ODD 7.12)",
    "capex": "$ of capital spending by all agents, sum over ticks (ODD 7.16)",
    "opex": "$ of operating costs of all agents, sum over ticks",
    "revenue": "$ of revenue of all agents (labs: value of compute), sum over ticks",
    "usable_share": "hyperscalers' usable / installed H100e, over the run",
    "fleet_utilisation": "H100e rented / installed at hyperscalers, over the run",
    "idle_cost": "$ of depreciation carried by idle installed H100e, sum over ticks",
    "roi_served": "hyperscalers' return per tick on the rented H100e's capital, mean over ticks",
    "roi_fleet": "hyperscalers' return per tick on all installed H100e, mean over ticks",
    "realised_loss": "$ of realised losses on expansions (stranded capacity written down, "
    "defaulted SPVs), sum over ticks (ODD 7.18)",
    "spv_defaults": "data-centre SPVs that defaulted during the run",
    "premium_served_share": "premium inference served / demanded, over the run (ODD 7.19)",
    "economy_served_share": "economy inference served / demanded, over the run",
    "moved_share": "premium inference served on economy hardware / premium demanded, over the run",
    "premium_spread": "premium / economy compute price - 1, mean over ticks",
}

ENERGY_KPIS = (("energy", "energy_mwh", 1e6), ("emissions", "emissions_t", 1e6),
               ("water", "water_m3", 1e6))  # fmt: skip
"""(KPI, ``ticks`` column, divisor): MWh -> TWh, t -> Mt, m3 -> bn L (1 m3 = 1,000 L)."""

FAMILIES: dict[str, str] = {
    "compute_received[{}]": "H100e-quarters of compute the lab received, mean per tick",
    "unmet_share[{}]": "unmet / demanded compute of the lab, over the ticks",
    "region_compute_received[{}]": "H100e-quarters received by the region's labs, mean per tick",
    "region_unmet_share[{}]": "unmet / demanded compute of the region's labs, over the ticks",
    "cost_per_mtok[{}]": "$ per million tokens of the model tier at the compute price, mean "
    "over ticks",
    "cost_per_task[{}]": "$ per task of the model tier, mean over ticks",
    "cost_per_mtok_premium[{}]": "$ per million tokens of the model tier at the premium "
    "compute price, mean over ticks (ODD 7.19)",
    "dependency_compute[{}]": "the lab's share of compute from its top provider, mean over ticks",
    "dependency_equity[{}]": "share of the lab's equity held by its top holder, last tick",
    "risk_loss[{}]": "$ of realised losses borne by the party type (an agent type, lender, "
    "investor), sum over ticks (ODD 7.18)",
    "risk_loss_by_source[{}]": "$ of realised losses on stakes financed by the source "
    "(own_cash, debt, prepayment, spv_debt, spv_equity, rvg, ...), sum over ticks",
    "risk_exposure_share[{}]": "the party type's share of all exposure ($ at risk summed over "
    "ticks)",
    "risk_source_share[{}]": "the source's share of all exposure ($ at risk summed over ticks)",
}
"""KPI families, one per lab or region (``{}`` is its name)."""


def unit(kpi: str) -> str:
    """The unit of a KPI or of a family member (``""`` if unknown)."""
    base = kpi.split("@", 1)[0]
    if base in KPIS:
        return KPIS[base]
    for pattern, text in FAMILIES.items():
        head = pattern.split("{", 1)[0]
        if base.startswith(head) and base.endswith("]"):
            return text
    return ""


def is_kpi(name: str) -> bool:
    """Whether ``name`` is a KPI, a family member or a family wildcard (``name[*]``)."""
    return name in KPIS or bool(unit(name)) or name.replace("[*]", "[{}]") in FAMILIES


def select(names: tuple[str, ...], values: dict[str, float]) -> dict[str, float]:
    """The KPIs ``names`` from ``values``; ``family[*]`` picks every member present."""
    out: dict[str, float] = {}
    for name in names:
        if name.endswith("[*]"):
            head = name[:-2]
            out.update({k: v for k, v in values.items() if k.startswith(head)})
        else:
            out[name] = values.get(name, math.nan)
    return out


def window(tables: dict[str, dict[str, list]], start: int, end: int) -> dict[str, dict[str, list]]:
    """The rows of every table with ``start <= tick < end``."""
    out = {}
    for name, cols in tables.items():
        keep = [i for i, t in enumerate(cols.get("tick", [])) if start <= t < end]
        out[name] = {k: [v[i] for i in keep] for k, v in cols.items()}
    return out


def _matches(shock, seller_region: str, buyer_region: str, good: str) -> bool:
    return ((not shock.from_region or seller_region == shock.from_region)
            and (not shock.to_region or buyer_region == shock.to_region)
            and (not shock.goods or good in shock.goods)
            and seller_region != buyer_region)  # fmt: skip


def rents(tables: dict[str, dict[str, list]], shocks) -> dict[int, tuple[float, float]]:
    """tick -> (tariff revenue $, quota rent $) from the tables and the scenario's shocks.

    Tariff revenue is the tariff ($/unit, the shock's factor) times the units (spot and
    contract) moved on a tariffed route; a quota rent is the gap between the buyer's
    and the seller's node price times the units moved on a route an export control
    caps (0 < factor < 1; a ban moves nothing). Both come from the ``flows`` and
    ``node_prices`` tables: the market itself does not record them.
    """
    a = tables["agents"]
    region = dict(zip(a["agent"], a["region"]))
    ticks = sorted(set(tables["ticks"]["tick"]))
    out = {t: (0.0, 0.0) for t in ticks}
    policy = [s for s in shocks if s.kind in ("tariff", "export_control")]
    if not policy:
        return out
    np_ = tables["node_prices"]
    price = {(t, n, g): p for t, n, g, p in zip(np_["tick"], np_["agent"], np_["good"],
                                              np_["price"])}  # fmt: skip
    f = tables["flows"]
    tariff: dict[int, float] = defaultdict(float)
    quota: dict[int, float] = defaultdict(float)
    for t, s, b, g, q in zip(f["tick"], f["seller"], f["buyer"], f["good"], f["quantity"]):
        if q <= 0:
            continue
        for shock in policy:
            if not (shock.start <= t < shock.end and _matches(shock, region.get(s, ""),
                                                              region.get(b, ""), g)):  # fmt: skip
                continue
            if shock.kind == "tariff":
                tariff[t] += shock.factor * q
            elif 0 < shock.factor < 1:
                gap = price.get((t, b, g), math.nan) - price.get((t, s, g), math.nan)
                if gap > 0:
                    quota[t] += gap * q
    return {t: (tariff[t], quota[t]) for t in ticks}


def _mean(values: list[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return sum(vals) / len(vals) if vals else math.nan


def kpis(tables: dict[str, dict[str, list]], shocks=()) -> dict[str, float]:
    """All KPIs of one run's tables (``shocks``: the scenario's, for the rents)."""
    out: dict[str, float] = {}
    prices: dict[str, list[float]] = defaultdict(list)
    for good, price in zip(tables["prices"]["good"], tables["prices"]["price"]):
        prices[good].append(price)
    for good in PRICE_GOODS:
        out[f"price_{good}"] = _mean(prices[good])
    a = tables["agents"]
    demand = unmet = 0.0
    for typ, d, u in zip(a["type"], a["demand"], a["unmet"]):
        if typ == "Lab":
            demand += d
            unmet += u
    ticks = tables["ticks"]["tick"]
    n_ticks = max(1, len(ticks))
    out["unmet_share"] = unmet / demand if demand > 0 else math.nan
    by_lab: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    lab_region: dict[str, str] = {}
    for ag, typ, reg, d, r, u in zip(a["agent"], a["type"], a["region"], a["demand"],
                                     a["received"], a["unmet"]):  # fmt: skip
        if typ == "Lab":
            lab_region[ag] = reg
            acc = by_lab[ag]
            acc[0], acc[1], acc[2] = acc[0] + d, acc[1] + r, acc[2] + u
    by_region: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for lab, (d, r, u) in sorted(by_lab.items()):
        out[f"compute_received[{lab}]"] = r / n_ticks
        out[f"unmet_share[{lab}]"] = u / d if d > 0 else math.nan
        acc = by_region[lab_region[lab]]
        acc[0], acc[1], acc[2] = acc[0] + d, acc[1] + r, acc[2] + u
    for reg, (d, r, u) in sorted(by_region.items()):
        out[f"region_compute_received[{reg}]"] = r / n_ticks
        out[f"region_unmet_share[{reg}]"] = u / d if d > 0 else math.nan
    out["unmet_demand"] = unmet / max(1, len(ticks))
    cov = [c for g, c in zip(tables["coverage"]["good"], tables["coverage"]["coverage"])
           if g == "compute"]  # fmt: skip
    out["contract_coverage"] = _mean(cov) if cov else 0.0
    con = tables["concentration"]
    hhi: dict[str, list[float]] = defaultdict(list)
    for buyer, good, h in zip(con["buyer"], con["good"], con["supplier_hhi"]):
        if buyer == "*":
            hhi[good].append(h)
    for good in ("cowos", "hbm", "accelerator"):
        out[f"hhi_{good}"] = _mean(hhi[good])
    ex = tables["exposure"]
    tw: dict[tuple[int, str], float] = defaultdict(float)
    labs: set[tuple[int, str]] = set()
    for tick, lab, by, origin, share in zip(ex["tick"], ex["lab"], ex["by"], ex["origin"],
                                           ex["share"]):  # fmt: skip
        if by == "region":
            labs.add((tick, lab))
            if origin == "TW":
                tw[(tick, lab)] += share
    out["exposure_tw"] = _mean([tw[k] for k in labs]) if labs else math.nan
    wafers = hbm_wafers = 0.0
    for w, x in zip(a.get("wafers", ()), a.get("hbm_wafers", ())):
        if not (math.isnan(w) or math.isnan(x)):
            wafers, hbm_wafers = wafers + w, hbm_wafers + x
    out["hbm_wafer_share"] = hbm_wafers / wafers if wafers > 0 else math.nan
    out["welfare"] = float(sum(tables["ticks"]["surplus"]))
    out["shortfall"] = float(sum(tables["ticks"]["shortfall"]))
    out["breaches"] = float(sum(tables["ticks"]["breaches"]))
    last = max(ticks) if ticks else 0
    out["supplier_capex"] = float(
        sum(c for t, c in zip(a["tick"], a["capex"]) if t == last and not math.isnan(c))
    )
    for name, column, scale in ENERGY_KPIS:
        values = tables["ticks"].get(column)
        out[name] = _mean(values) / scale if values else math.nan
    for name in ("carbon_paid", "clean_paid", "write_downs"):  # $, summed over the ticks
        paid = tables["ticks"].get(name)
        out[name] = float(sum(paid)) if paid else math.nan
    out.update(field_kpis(tables))
    out.update(risk_kpis(tables))
    money = rents(tables, shocks)
    out["tariff_revenue"] = sum(v[0] for v in money.values())
    out["quota_rent"] = sum(v[1] for v in money.values())
    return out


def traffic_kpis(tables: dict[str, dict[str, list]]) -> dict[str, float]:
    """The traffic classes' KPIs of a run (ODD 7.19) from its ``traffic`` table: served
    shares by class, the moved share of premium and the mean premium spread; NaN without
    traffic classes."""
    tr = tables.get("traffic", {})
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    price: dict[int, dict[str, float]] = defaultdict(dict)
    for t, cl, p, d, s, mv in zip(tr.get("tick", ()), tr.get("traffic_class", ()),
                                  tr.get("price", ()), tr.get("demand", ()),
                                  tr.get("served", ()), tr.get("moved", ())):  # fmt: skip
        acc = sums[cl]
        acc[0], acc[1], acc[2] = acc[0] + d, acc[1] + s, acc[2] + mv
        price[t][cl] = p
    out = {}
    for cl in ("premium", "economy"):
        d, s, _ = sums.get(cl, (0.0, 0.0, 0.0))
        out[f"{cl}_served_share"] = s / d if d > 0 else math.nan
    d, _, mv = sums.get("premium", (0.0, 0.0, 0.0))
    out["moved_share"] = mv / d if d > 0 else math.nan
    spread = [
        p["premium"] / p["economy"] - 1
        for p in price.values()
        if p.get("economy", 0) > 0 and not math.isnan(p.get("premium", math.nan))
    ]
    out["premium_spread"] = _mean(spread)
    return out


def field_kpis(tables: dict[str, dict[str, list]]) -> dict[str, float]:
    """The field's KPIs of a run (ODD 7.16): money, capacity and returns from ``ticks``,
    cost per token and per task by tier from ``token_costs``, each lab's dependency from
    ``dependency``. NaN for what a run's tables do not have (e.g. written before 7.16)."""
    out: dict[str, float] = {}
    ticks = tables["ticks"]
    for name in ("capex", "opex", "revenue", "idle_cost"):
        values = [v for v in ticks.get(name, ()) if not math.isnan(v)]
        out[name] = float(math.fsum(values)) if name in ticks else math.nan
    installed = math.fsum(v for v in ticks.get("max_capacity", ()) if not math.isnan(v))
    usable = math.fsum(v for v in ticks.get("usable_capacity", ()) if not math.isnan(v))
    sold = math.fsum(
        v for v, typ in zip(tables.get("finance", {}).get("sold", ()),
                            tables.get("finance", {}).get("type", ()))
        if typ == "Hyperscaler" and not math.isnan(v)
    )  # fmt: skip
    out["usable_share"] = usable / installed if installed > 0 else math.nan
    out["fleet_utilisation"] = sold / installed if installed > 0 else math.nan
    for name in ("roi_served", "roi_fleet"):
        out[name] = _mean(list(ticks.get(name, ())))
    tc = tables.get("token_costs", {})
    cost: dict[str, list[float]] = defaultdict(list)
    task: dict[str, list[float]] = defaultdict(list)
    premium: dict[str, list[float]] = defaultdict(list)
    n = len(tc.get("tier", ()))
    # The tier's reference rows (ODD 7.16): economy class, no generation (tables written
    # before 7.19 have neither column and hold only those rows).
    klass = tc.get("traffic_class", ["economy"] * n)
    gen = tc.get("generation", [""] * n)
    for tier, c, k, cl, g in zip(tc.get("tier", ()), tc.get("cost_per_mtok", ()),
                                 tc.get("cost_per_task", ()), klass, gen):  # fmt: skip
        if g:
            continue
        if cl == "premium":
            premium[tier].append(c)
        else:
            cost[tier].append(c)
            task[tier].append(k)
    for tier in sorted(cost):
        out[f"cost_per_mtok[{tier}]"] = _mean(cost[tier])
        out[f"cost_per_task[{tier}]"] = _mean(task[tier])
    for tier in sorted(premium):
        out[f"cost_per_mtok_premium[{tier}]"] = _mean(premium[tier])
    out.update(traffic_kpis(tables))
    dep = tables.get("dependency", {})
    share: dict[str, list[float]] = defaultdict(list)
    equity: dict[str, tuple[int, float]] = {}
    for t, lab, c, e in zip(dep.get("tick", ()), dep.get("lab", ()), dep.get("compute_share", ()),
                            dep.get("equity_share", ())):  # fmt: skip
        share[lab].append(c)
        if t >= equity.get(lab, (-1, 0.0))[0]:
            equity[lab] = (t, e)
    for lab in sorted(share):
        out[f"dependency_compute[{lab}]"] = _mean(share[lab])
        out[f"dependency_equity[{lab}]"] = equity[lab][1]
    return out


def risk_kpis(tables: dict[str, dict[str, list]]) -> dict[str, float]:
    """Who bears the risk over a run (ODD 7.18), from the ``risk`` and ``spvs`` tables:
    realised losses in all, by party type and by source, and the shares of exposure ($ at
    risk summed over ticks) by party type and by source. Every agent type of the run and
    every source gets a value (0 when it bore nothing), so paired runs compare member by
    member; NaN for a run written before the risk table."""
    from market.risk import SOURCES

    r = tables.get("risk")
    if r is None:
        return {"realised_loss": math.nan, "spv_defaults": math.nan}
    types = sorted({*tables["agents"]["type"], "lender", "investor"})
    loss = dict.fromkeys(types, 0.0)
    by_source = dict.fromkeys(SOURCES, 0.0)
    exposure = dict.fromkeys(types, 0.0)
    source_exposure = dict.fromkeys(SOURCES, 0.0)
    for typ, src, e, x in zip(r["party_type"], r["source"], r["exposure"], r["realised_loss"]):
        loss[typ] = loss.get(typ, 0.0) + x
        by_source[src] = by_source.get(src, 0.0) + x
        exposure[typ] = exposure.get(typ, 0.0) + e
        source_exposure[src] = source_exposure.get(src, 0.0) + e
    total = math.fsum(exposure.values())
    out = {"realised_loss": math.fsum(loss.values())}
    for typ in sorted(loss):
        out[f"risk_loss[{typ}]"] = loss[typ]
        out[f"risk_exposure_share[{typ}]"] = exposure[typ] / total if total > 0 else math.nan
    for src in sorted(by_source):
        out[f"risk_loss_by_source[{src}]"] = by_source[src]
        out[f"risk_source_share[{src}]"] = source_exposure[src] / total if total > 0 else math.nan
    spv = tables.get("spvs", {})
    last: dict[str, bool] = {}
    for name, d in zip(spv.get("spv", ()), spv.get("defaulted", ())):
        last[name] = bool(d)
    out["spv_defaults"] = float(sum(last.values()))
    return out
