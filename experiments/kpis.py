"""Scalar KPIs of one run, computed from its tidy tables (means over the run's ticks).

Every KPI is a float; its unit is in ``KPIS``. Sweeps, what-if studies and
sensitivity analyses keep a chosen subset of these per run.
"""

from __future__ import annotations

import math
from collections import defaultdict

KPIS: dict[str, str] = {
    "price_accelerator": "$/H100e, mean over ticks",
    "price_compute": "$/H100e-quarter, mean over ticks",
    "price_hbm": "$/GB, mean over ticks",
    "price_cowos": "$/CoWoS wafer, mean over ticks",
    "price_wafer": "$/wafer, mean over ticks",
    "price_power": "$/MW, mean over ticks",
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
}


def _mean(values: list[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return sum(vals) / len(vals) if vals else math.nan


def kpis(tables: dict[str, dict[str, list]]) -> dict[str, float]:
    """All KPIs of one run's tables."""
    out: dict[str, float] = {}
    prices: dict[str, list[float]] = defaultdict(list)
    for good, price in zip(tables["prices"]["good"], tables["prices"]["price"]):
        prices[good].append(price)
    for good in ("accelerator", "compute", "hbm", "cowos", "wafer", "power"):
        out[f"price_{good}"] = _mean(prices[good])
    a = tables["agents"]
    demand = unmet = 0.0
    for typ, d, u in zip(a["type"], a["demand"], a["unmet"]):
        if typ == "Lab":
            demand += d
            unmet += u
    ticks = tables["ticks"]["tick"]
    out["unmet_share"] = unmet / demand if demand > 0 else math.nan
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
    out["welfare"] = float(sum(tables["ticks"]["surplus"]))
    out["shortfall"] = float(sum(tables["ticks"]["shortfall"]))
    out["breaches"] = float(sum(tables["ticks"]["breaches"]))
    last = max(ticks) if ticks else 0
    out["supplier_capex"] = float(
        sum(c for t, c in zip(a["tick"], a["capex"]) if t == last and not math.isnan(c))
    )
    return out
