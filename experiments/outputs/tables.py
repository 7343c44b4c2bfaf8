"""A run's tables on disk and its summary: Parquet per table plus ``manifest.json``.

A run is one or several seeds of a scenario. Every table carries a ``seed`` column
(one Parquet file per table holds all seeds); ``write_run`` writes them and the
manifest (every file atomically, see ``experiments.outputs.files``); ``read_run``
reads them back, naming any unreadable file. ``headline`` computes the per-seed,
per-tick series the summary and the fan charts show, and ``summary`` prints their
median with the 10th-90th percentile range over seeds at a few dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from experiments.errors import OutputError
from experiments.outputs.files import atomic_write, read_json, read_table, write_json
from experiments.outputs.format import number, text_table
from experiments.outputs.glossary import UNITS, price_unit

Tables = dict[str, dict[str, list]]
"""A run's tables: name -> column -> values (what ``MarketModel.tables()`` returns)."""

TICK_EXTRAS = ("tick", "date", "seed", "rebuilt", "shocks")
"""Columns of the ``ticks`` table that are not per-tick series."""

ENERGY_SERIES = {
    "energy_mwh": ("hyperscalers' energy (TWh per tick)", 1e6),
    "emissions_t": ("hyperscalers' emissions (Mt CO2e per tick)", 1e6),
    "water_m3": ("hyperscalers' water (bn L per tick)", 1e6),
    "carbon_paid": ("carbon price paid ($ per tick)", 1.0),
    "clean_paid": ("clean energy bought to meet a requirement ($ per tick)", 1.0),
}
"""``ticks`` columns shown as headline series in a larger unit: column -> (label, divisor)."""

FIELD_SERIES = {
    "capex": ("field: capex ($B per tick)", 1e9),
    "opex": ("field: opex ($B per tick)", 1e9),
    "revenue": ("field: revenue ($B per tick)", 1e9),
    "usable_share": ("field: usable / installed H100e", 1.0),
    "idle_cost": ("field: idle H100e's depreciation ($B per tick)", 1e9),
    "roi_served": ("field: return on rented H100e (per tick)", 1.0),
    "roi_fleet": ("field: return on installed H100e (per tick)", 1.0),
}
"""The field's KPIs in ``ticks`` (ODD 7.16) shown as headline series: column -> (label,
divisor). The token costs by tier and labs' dependency come from their own tables and
have labels starting with ``FIELD_PREFIX`` too."""

FIELD_PREFIX = "field: "
"""Start of every headline label of the field's KPIs (what ``plots.plot_field`` draws)."""

FIELD_HIDDEN = ("max_capacity", "usable_capacity")
"""``ticks`` columns of the field's KPIs left out of the headline (usable_share shows them)."""

MEMORY_SERIES = {
    "hbm_wafers": "wafer starts into HBM (M wafers per tick)",
    "dram_wafers": "wafer starts into DRAM (M wafers per tick)",
    "share": "HBM share of DRAM wafer starts",
}
"""Memory makers' split of their DRAM wafer starts (``agents`` columns; ODD 7.12)."""


def with_seed(tables: Tables, seed: int) -> Tables:
    """``tables`` with a ``seed`` column first in every table."""
    out = {}
    for name, cols in tables.items():
        n = len(next(iter(cols.values()), []))
        out[name] = {"seed": [seed] * n, **{k: v for k, v in cols.items() if k != "seed"}}
    return out


def combine(per_seed: list[Tables]) -> Tables:
    """Several seeds' tables (each with a ``seed`` column) as one set of tables."""
    out: Tables = {}
    for tables in per_seed:
        for name, cols in tables.items():
            dest = out.setdefault(name, {k: [] for k in cols})
            for k, v in cols.items():
                dest.setdefault(k, []).extend(v)
    return out


def write_run(result, out: Path) -> list[Path]:
    """Write ``result.tables`` as Parquet and ``result.manifest`` as JSON into ``out``
    (a ``experiments.studies.run.RunResult``); return the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, columns in result.tables.items():
        table = pa.table(columns)
        paths.append(atomic_write(out / f"{name}.parquet", lambda p, t=table: pq.write_table(t, p)))
    if getattr(result, "scenario", None) is not None:
        paths.append(write_json(out / "scenario.json", result.scenario))
    paths.append(write_json(out / "manifest.json", result.manifest))
    return paths


def read_run(out: Path) -> tuple[Tables, dict]:
    """The tables and manifest a run wrote into ``out`` (a ``seed`` column added from
    the manifest if the folder predates it).

    Raises ``OutputError`` naming the file if a table or the manifest is truncated
    or broken, or the manifest is missing.
    """
    out = Path(out)
    tables = {p.stem: read_table(p).to_pydict() for p in sorted(out.glob("*.parquet"))}
    manifest = read_json(out / "manifest.json")
    missing = [t for t in ("ticks", "prices", "agents") if t not in tables]
    if missing:
        files = ", ".join(f"{m}.parquet" for m in missing)
        raise OutputError(f"{out}: not a complete run folder (missing {files}); run it again")
    if "seed" not in tables["ticks"]:
        tables = with_seed(tables, int(manifest.get("seed", 0)))
    return tables, manifest


def frames(tables: Tables) -> dict[str, pd.DataFrame]:
    """A run's tables as DataFrames (a ``seed`` column of 0 if there is none)."""
    out = {}
    for name, cols in tables.items():
        df = pd.DataFrame(cols)
        if "seed" not in df.columns:
            df.insert(0, "seed", 0)
        out[name] = df
    return out


def _long(wide: pd.DataFrame, label: str) -> pd.DataFrame:
    """A (seed, tick)-indexed Series or one-column frame as long rows of one series."""
    s = wide.rename("value") if isinstance(wide, pd.Series) else wide.iloc[:, 0].rename("value")
    df = s.reset_index()
    df["series"] = label
    return df[["seed", "tick", "series", "value"]]


def headline(tables: Tables | Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The headline series of a run, per seed and tick: columns seed, tick, series, value.

    Series (labels carry units): each good's price and, when the tables have them,
    its spot and contract prices; labs' demand, unmet demand and unmet share; labs'
    mean contract coverage; market HHI of HBM, CoWoS and accelerator sellers; labs'
    mean exposure to Taiwan; suppliers' capex and its prepaid share; hyperscalers'
    energy, emissions, water, carbon price and clean energy paid (``ENERGY_SERIES``); the
    field's KPIs (``FIELD_SERIES``; cost per million tokens by model tier; labs' mean share
    of compute from their top provider and the largest share of a lab's equity held by one
    holder); memory makers' wafer starts into HBM and DRAM and HBM's share
    (``MEMORY_SERIES``); and every other numeric column of the ``ticks`` table (e.g.
    persistence, lead times).
    """
    t = tables if all(isinstance(v, pd.DataFrame) for v in tables.values()) else frames(tables)
    t = dict(t)
    ticks = t["ticks"]
    index = pd.MultiIndex.from_frame(ticks[["seed", "tick"]].drop_duplicates())
    parts: list[pd.DataFrame] = []

    def add(series: pd.Series, label: str, fill: float | None = None) -> None:
        s = series.reindex(index)
        if fill is not None:
            s = s.fillna(fill)
        parts.append(_long(s, label))

    prices = t["prices"]
    for col in [c for c in ("price", "spot_price", "contract_price") if c in prices.columns]:
        wide = prices.pivot_table(index=["seed", "tick"], columns="good", values=col,
                                  aggfunc="last", dropna=False)  # fmt: skip
        what = "price" if col == "price" else col.replace("_", " ")
        for good in wide.columns:
            add(wide[good], f"{what} {good} ({price_unit(good)})")
    agents = t["agents"]
    labs = agents[agents["type"] == "Lab"].groupby(["seed", "tick"])[["demand", "unmet"]].sum()
    labs = labs.reindex(index, fill_value=0.0)
    add(labs["demand"], "lab demand (H100e-quarters)")
    add(labs["unmet"], "unmet demand (H100e-quarters)")
    add(labs["unmet"] / labs["demand"].replace(0.0, np.nan), "unmet share")
    if "coverage" in t:
        cov = t["coverage"]
        add(cov[cov["good"] == "compute"].groupby(["seed", "tick"])["coverage"].mean(),
            "labs' contract coverage (mean)")  # fmt: skip
    if "concentration" in t:
        con = t["concentration"]
        con = con[(con["buyer"] == "*") & con["good"].isin(["hbm", "cowos", "accelerator"])]
        hhi = con.pivot_table(index=["seed", "tick"], columns="good", values="supplier_hhi",
                              aggfunc="last")  # fmt: skip
        for good in hhi.columns:
            add(hhi[good], f"market HHI {good} (0-10,000)")
    if "exposure" in t:
        ex = t["exposure"]
        tw = ex[(ex["by"] == "region") & (ex["origin"] == "TW")]
        add(tw.groupby(["seed", "tick"])["share"].mean(), "labs' exposure to TW (mean)", 0.0)
    by_tick = ticks.set_index(["seed", "tick"])
    for col, (label, scale) in ENERGY_SERIES.items():
        if col in ticks.columns:
            add(by_tick[col].astype(float) / scale, label)
    for col, (label, scale) in FIELD_SERIES.items():
        if col in ticks.columns:
            add(by_tick[col].astype(float) / scale, label)
    if "token_costs" in t:
        tc = t["token_costs"]
        if "generation" in tc.columns:  # the tiers' reference rows (ODD 7.16, 7.19)
            tc = tc[(tc["generation"] == "") & (tc["traffic_class"] == "economy")]
        wide = tc.pivot_table(index=["seed", "tick"], columns="tier", values="cost_per_mtok",
                              aggfunc="last")  # fmt: skip
        for tier in wide.columns:
            add(wide[tier], f"{FIELD_PREFIX}cost per M tokens, {tier} ($)")
    if "dependency" in t:
        dep = t["dependency"].groupby(["seed", "tick"])
        add(dep["compute_share"].mean(), f"{FIELD_PREFIX}labs' compute from top provider (mean)")
        add(dep["equity_share"].max(), f"{FIELD_PREFIX}labs' equity held by top holder (max)")
    for col in ticks.columns:
        if col in TICK_EXTRAS or col in ENERGY_SERIES or col in FIELD_SERIES:
            continue
        if col in FIELD_HIDDEN:
            continue
        if pd.api.types.is_numeric_dtype(ticks[col]):
            add(by_tick[col].astype(float), col)
    if "hbm_wafers" in agents.columns:  # memory makers with a DRAM wafer pool
        mm = agents[agents["type"] == "MemoryMaker"].groupby(["seed", "tick"])
        mm = mm[["wafers", "hbm_wafers", "dram_wafers"]].sum(min_count=1)
        if mm["wafers"].notna().any():
            add(mm["hbm_wafers"] / 1e6, MEMORY_SERIES["hbm_wafers"])
            add(mm["dram_wafers"] / 1e6, MEMORY_SERIES["dram_wafers"])
            add(mm["hbm_wafers"] / mm["wafers"].replace(0.0, np.nan), MEMORY_SERIES["share"])
    money = agents.groupby(["seed", "tick"])[["capex", "prepaid"]].sum()
    add(money["capex"], "suppliers' capex to date ($)")
    # Prepayments are received when a reservation is signed, capex is paid when the capacity
    # is ordered: early on the ratio can exceed 1 (buyers have prepaid capacity not yet built).
    add(money["prepaid"] / money["capex"].where(money["capex"] > 0),
        "  buyers' prepayments to date / capex to date")  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def bands(series: pd.DataFrame) -> pd.DataFrame:
    """Median and 10th/90th percentiles over seeds of long series (seed, tick, series,
    value): columns series, tick, median, p10, p90, seeds (NaN values left out)."""
    g = series.groupby(["series", "tick"], sort=False)["value"]
    out = pd.DataFrame({
        "median": g.median(), "p10": g.quantile(0.1), "p90": g.quantile(0.9),
        "seeds": g.count(),
    })  # fmt: skip
    return out.reset_index()


def band_text(median: float, p10: float, p90: float, seeds: int) -> str:
    """``median [p10, p90]`` (just the median for one seed)."""
    if seeds <= 1 or (np.isnan(p10) and np.isnan(p90)):
        return number(median, 3)
    return f"{number(median, 3)} [{number(p10, 3)}, {number(p90, 3)}]"


def summary(tables: Tables, dates: int = 5, series: pd.DataFrame | None = None) -> str:
    """A plain-text table of the headline series at a few dates: the median over seeds
    with the 10th-90th percentile range in brackets (one seed: its value). ``series``
    is ``headline(tables)`` if already computed."""
    series = headline(tables) if series is None else series
    ticks_df = frames({"ticks": tables["ticks"]})["ticks"]
    all_ticks = sorted(ticks_df["tick"].unique())
    picks = sorted({all_ticks[round(i * (len(all_ticks) - 1) / max(1, dates - 1))]
                    for i in range(dates)})  # fmt: skip
    date = dict(zip(ticks_df["tick"], ticks_df["date"]))
    b = bands(series[series["tick"].isin(picks)])
    b["cell"] = [band_text(m, lo, hi, n)
                 for m, lo, hi, n in zip(b["median"], b["p10"], b["p90"], b["seeds"])]  # fmt: skip
    order = list(dict.fromkeys(series["series"]))
    table = b.pivot(index="series", columns="tick", values="cell").reindex(order)[picks]
    table.columns = [date[p] for p in picks]
    table.index.name = ""
    n = ticks_df["seed"].nunique()
    head = f"median [p10, p90] over {n} seeds\n" if n > 1 else ""
    return head + text_table(table.fillna("-").reset_index(), left=[""])


__all__ = ["FIELD_PREFIX", "FIELD_SERIES", "UNITS", "Tables", "band_text", "bands", "combine",
           "frames", "headline", "read_run", "summary", "with_seed", "write_run"]  # fmt: skip
