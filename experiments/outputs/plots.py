"""Every PNG plot: a run's tables (prices, demand and unmet demand, lock-in, capacity,
the supply network), a sweep's KPI distributions, a what-if forest plot and
sensitivity bars.

Every time plot shades the ticks in which a shock or policy was active and
labels its axes with units. Run plots take the tidy tables (column -> values)
that ``experiments.outputs.tables`` writes; study plots take the DataFrames the
studies return. Each function returns the PNG path(s) it wrote.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from experiments.kpis import KPIS  # noqa: E402
from experiments.outputs.glossary import GOOD_UNITS, quantity_unit  # noqa: E402
from experiments.outputs.tables import (  # noqa: E402
    ENERGY_SERIES,
    FIELD_PREFIX,
    MEMORY_SERIES,
    bands,
    headline,
)


def _first_seed(tables: dict) -> dict:
    """The ``ticks`` table of the first seed only (shocks and dates are alike on every seed)."""
    t = tables["ticks"]
    if "seed" not in t:
        return t
    first = t["seed"][0]
    keep = [i for i, s in enumerate(t["seed"]) if s == first]
    return {k: [v[i] for i in keep] for k, v in t.items()}


def _shade_shocks(ax, tables: dict) -> None:
    t = _first_seed(tables)
    ticks, shocks = t["tick"], t["shocks"]
    start = None
    for tick, s in zip([*ticks, None], [*shocks, ""]):
        if s and start is None:
            start = tick
        elif not s and start is not None:
            ax.axvspan(start - 0.5, (tick if tick is not None else ticks[-1] + 1) - 0.5,
                       color="tab:red", alpha=0.12, lw=0)  # fmt: skip
            start = None


def _dates(ax, tables: dict) -> None:
    t = _first_seed(tables)
    ticks, dates = t["tick"], t["date"]
    step = max(1, len(ticks) // 8)
    ax.set_xticks(ticks[::step], dates[::step], rotation=30, fontsize=8)


def fan(ax, band: pd.DataFrame, label: str | None = None, color=None) -> None:
    """A fan chart on ``ax``: the median line and the p10-p90 band over ticks
    (``band`` has columns tick, median, p10, p90, as ``tables.bands`` gives)."""
    band = band.sort_values("tick")
    (line,) = ax.plot(band["tick"], band["median"], label=label, color=color, lw=1.5)
    ax.fill_between(band["tick"], band["p10"], band["p90"], color=line.get_color(), alpha=0.25,
                    lw=0)  # fmt: skip


def _save(fig, path: Path, paths: list[Path]) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)


def _grid(n: int, cols: int = 3, size=(4.4, 3.3)):
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False,
                             sharex=True)  # fmt: skip
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig, list(axes.flat)[:n]


def plot_fans(series: pd.DataFrame, path: Path, title: str, tables: dict | None = None,
              zero: bool = False) -> Path:  # fmt: skip
    """One panel per series of long per-seed series (seed, tick, series, value): median
    and p10-p90 band over seeds; shocks shaded when ``tables`` is given; a zero line
    when ``zero`` (for differences)."""
    names = list(dict.fromkeys(series["series"]))
    b = bands(series)
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names):
        fan(ax, b[b["series"] == name])
        ax.set_title(name, fontsize=9)
        if zero:
            ax.axhline(0, color="black", lw=0.7)
        if tables is not None:
            _shade_shocks(ax, tables)
            _dates(ax, tables)
    n = series["seed"].nunique()
    fig.suptitle(f"{title} (median and p10-p90 over {n} seeds; shaded: shocks)")
    _save(fig, path, [])
    return path


def _capacity_frame(tables: dict) -> pd.DataFrame:
    """Capacity per (seed, tick, agent, good): the ``capacity`` table, or for a folder
    written before it existed, the ``agents`` table's single-good agents."""
    if "capacity" in tables:
        df = pd.DataFrame(tables["capacity"])
        if "seed" not in df.columns:
            df["seed"] = 0
        return df
    a = pd.DataFrame(tables["agents"])
    if "seed" not in a.columns:
        a["seed"] = 0
    goods = {"MemoryMaker": "hbm", "Packager": "cowos", "PowerProvider": "power",
             "NetworkMaker": "networking", "DCDeveloper": "shell",
             "ChipDesigner": "accelerator", "Hyperscaler": "compute"}  # fmt: skip
    a = a[a["type"].isin(list(goods))].copy()
    a["good"] = a["type"].map(goods)
    return a[["seed", "tick", "agent", "good", "capacity", "sold"]]


def plot_run(tables: dict, out: Path, title: str = "",
             series: pd.DataFrame | None = None) -> list[Path]:  # fmt: skip
    """Write prices.png, demand.png, lockin.png, capacity.png and exposure.png (and
    generations.png when designers have generations, leadtimes.png when the tables have
    lead times, energy.png when they have the
    hyperscalers' energy, emissions and water, memory.png when memory makers split a
    DRAM wafer pool, field.png with the field's KPIs, ODD 7.16) into ``out``: fan charts (median,
    p10-p90 over seeds) and the network of the first seed.
    ``series`` is ``tables.headline(tables)`` if already computed."""
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    series = headline(tables) if series is None else series

    prices = series[series["series"].str.startswith("price ")]
    paths.append(plot_fans(prices, out / "prices.png", f"{title} prices", tables))

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for label, colour in (("lab demand (H100e-quarters)", "tab:blue"),
                          ("unmet demand (H100e-quarters)", "tab:orange")):  # fmt: skip
        s = series[series["series"] == label].assign(value=lambda d: d["value"] / 1e6)
        fan(ax, bands(s), label.split(" (")[0], colour)
    ax.set_ylabel("million H100e-quarters per quarter")
    ax.legend()
    _shade_shocks(ax, tables)
    _dates(ax, tables)
    ax.set_title(f"{title} labs' compute demand and unmet demand (median, p10-p90 over seeds)")
    _save(fig, out / "demand.png", paths)

    lead = series[series["series"].str.startswith("lead_time")]
    if len(lead):  # when the market quotes lead times (ticks columns lead_time_<good>)
        paths.append(plot_fans(lead, out / "leadtimes.png", f"{title} quoted lead times (weeks)",
                               tables))  # fmt: skip

    energy = series[series["series"].isin([label for label, _ in ENERGY_SERIES.values()])]
    if len(energy):  # runs that record hyperscalers' energy (ticks columns energy_mwh, ...)
        what = f"{title} hyperscalers' energy, emissions and water"
        paths.append(plot_fans(energy, out / "energy.png", what, tables))

    memory = series[series["series"].isin(MEMORY_SERIES.values())]
    if len(memory):  # memory makers with a DRAM wafer pool (ODD 7.12)
        what = f"{title} memory makers' DRAM wafer starts: HBM and DRAM"
        paths.append(plot_fans(memory, out / "memory.png", what, tables))

    field = series[series["series"].str.startswith(FIELD_PREFIX)]
    if len(field):  # the field's KPIs (ODD 7.16)
        what = f"{title} the field's KPIs: money, capacity, returns, cost per token, dependency"
        paths.append(plot_fans(field, out / "field.png", what, tables))

    paths.append(plot_lockin(tables, out / "lockin.png", title, series))
    paths.append(plot_capacity(tables, out / "capacity.png", title))
    if tables.get("generations", {}).get("tick"):  # designers with generations (ODD 7.15)
        paths.append(plot_generations(tables, out / "generations.png", title))
    if len(tables.get("risk", {}).get("tick", ())):  # who bears the risk (ODD 7.18)
        paths.append(plot_risk(tables, out / "risk.png", title))
    if tables.get("traffic", {}).get("tick"):  # inference traffic classes (ODD 7.19)
        paths.append(plot_traffic(tables, out / "traffic.png", title))

    fig, ax = plt.subplots(figsize=(9, 4.5))
    ex = pd.DataFrame(tables["exposure"])
    if "seed" not in ex.columns:
        ex["seed"] = 0
    ex = ex[ex["by"] == "region"].groupby(["seed", "tick", "origin"])["share"].mean()
    for region, block in ex.reset_index().groupby("origin"):
        s = block.rename(columns={"share": "value"}).assign(series=region)
        fan(ax, bands(s), region, REGION_COLOURS.get(region))
    ax.set_ylabel("share of labs' compute (mean over labs)")
    ax.set_title(f"{title} labs' compute traced to each region")
    ax.legend(fontsize=8)
    _shade_shocks(ax, tables)
    _dates(ax, tables)
    _save(fig, out / "exposure.png", paths)

    first = _first_seed(tables)
    seed = tables["ticks"].get("seed", [0])[0]
    last = max(first["tick"])
    one = _one_seed(tables, seed)
    for tick in sorted({0, last // 2, last}):
        paths.append(plot_network(one, tick, out / f"network_t{tick:03d}.png", title))
    return paths


def _one_seed(tables: dict, seed) -> dict:
    """The tables of one seed."""
    out = {}
    for name, cols in tables.items():
        if "seed" not in cols:
            out[name] = cols
            continue
        keep = [i for i, s in enumerate(cols["seed"]) if s == seed]
        out[name] = {k: [v[i] for i in keep] for k, v in cols.items()}
    return out


def plot_generations(tables: dict, path: Path, title: str = "") -> Path:
    """Chip generations (ODD 7.15), medians over seeds: per designer, its installed
    fleet by generation (stacked, million H100e) and the share of its output made in
    each; then every generation's utilisation and rental $ per chip-hour."""
    g = pd.DataFrame(tables["generations"])
    if "seed" not in g.columns:
        g["seed"] = 0
    designers = list(dict.fromkeys(g["designer"]))
    fig, axes = _grid(2 * len(designers) + 2, cols=2)
    for i, d in enumerate(designers):
        block = g[g["designer"] == d]
        gens = list(dict.fromkeys(block["generation"]))
        med = block.groupby(["generation", "tick"])[["installed", "made"]].median()
        inst = med["installed"].unstack(0).reindex(columns=gens).sort_index() / 1e6
        ax = axes[2 * i]
        ax.stackplot(inst.index, inst.T.values, labels=gens)
        ax.set_title(f"{d}: installed fleet by generation", fontsize=9)
        ax.set_ylabel("million H100e", fontsize=8)
        ax.legend(fontsize=6, loc="upper left")
        _dates(ax, tables)
        made = med["made"].unstack(0).reindex(columns=gens).sort_index()
        share = made.div(made.sum(axis=1).replace(0, np.nan), axis=0)
        ax = axes[2 * i + 1]
        for gen in gens:
            ax.plot(share.index, share[gen], lw=1.2, label=gen)
        ax.set_title(f"{d}: share of output made by generation", fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=6)
        _dates(ax, tables)
    panels = (
        (axes[-2], "utilisation", "utilisation (compute sold / available)"),
        (axes[-1], "rental_per_chip_hour", "rental $ per chip-hour"),
    )
    for ax, col, label in panels:
        med = g.groupby(["designer", "generation", "tick"])[col].median()
        for (d, gen), block in med.groupby(level=[0, 1]):
            if block.notna().any():
                ax.plot(block.index.get_level_values(2), block.values, lw=1, label=f"{d} {gen}")
        ax.set_title(label, fontsize=9)
        if col == "utilisation":
            ax.set_ylim(-0.02, 1.05)
        ax.legend(fontsize=5, ncol=2)
        _shade_shocks(ax, tables)
        _dates(ax, tables)
    fig.suptitle(f"{title} chip generations (median over seeds)")
    _save(fig, path, [])
    return path


def plot_traffic(tables: dict, path: Path, title: str = "", tier: str = "large") -> Path:
    """Inference traffic classes (ODD 7.19), median and p10-p90 over seeds: the premium and
    economy compute prices; each class's demand, served and moved H100e-quarters; and the
    cost per million tokens of model tier ``tier`` by class and chip generation."""
    tr = pd.DataFrame(tables["traffic"])
    tcost = pd.DataFrame(tables["token_costs"])
    for df in (tr, tcost):
        if "seed" not in df.columns:
            df["seed"] = 0
    fig, axes = _grid(3, cols=3, size=(5.0, 3.6))
    colours = {"premium": "tab:red", "economy": "tab:blue"}
    for klass, block in tr.groupby("traffic_class"):
        s = block.rename(columns={"price": "value"}).assign(series=klass)
        fan(axes[0], bands(s), klass, colours.get(klass))
        for col, style in (("demand", ":"), ("served", "-")):
            med = block.groupby("tick")[col].median() / 1e6
            axes[1].plot(med.index, med.values, style, color=colours.get(klass),
                         label=f"{klass} {col}")  # fmt: skip
    moved = tr[tr["traffic_class"] == "premium"].groupby("tick")["moved"].median() / 1e6
    axes[1].plot(moved.index, moved.values, "--", color="tab:purple", label="premium moved")
    axes[0].set_title("compute price by class ($/H100e-quarter)", fontsize=9)
    axes[1].set_title("million H100e-quarters per quarter", fontsize=9)
    block = tcost[(tcost["tier"] == tier)]
    for (klass, gen), b in block.groupby(["traffic_class", "generation"]):
        med = b.groupby("tick")["cost_per_mtok"].median()
        label = f"{klass} {gen or 'H100 reference'}"
        axes[2].plot(med.index, med.values, "-" if klass == "economy" else "--", lw=1,
                     label=label)  # fmt: skip
    axes[2].set_yscale("log")
    axes[2].set_title(f"$ per million tokens, {tier} tier, by class and generation", fontsize=9)
    for ax in axes[:3]:
        ax.legend(fontsize=6)
        _shade_shocks(ax, tables)
        _dates(ax, tables)
    fig.suptitle(f"{title} inference traffic classes (median over seeds)")
    _save(fig, path, [])
    return path


def plot_capacity(tables: dict, path: Path, title: str = "") -> Path:
    """Capacity per good: one panel per good, a line per agent (median over seeds) and
    the good's total sold (dashed), in the good's own unit; an agent making several
    goods (TSMC: wafers and CoWoS) appears in each of their panels."""
    cap = _capacity_frame(tables)
    goods = [g for g in GOOD_UNITS if g in set(cap["good"])]
    goods += sorted(set(cap["good"]) - set(goods))
    fig, axes = _grid(len(goods))
    for ax, good in zip(axes, goods):
        block = cap[cap["good"] == good]
        med = block.groupby(["agent", "tick"])["capacity"].median().unstack(0).sort_index()
        unlimited = [a for a in med.columns if np.isinf(med[a]).all()]
        med = med.drop(columns=unlimited).replace([np.inf, -np.inf], np.nan)
        top = med.iloc[-1].sort_values(ascending=False).index if len(med) else []
        for i, agent in enumerate(top):
            ax.plot(med.index, med[agent], lw=1.2, label=agent if i < 8 else None)
        if unlimited:  # e.g. designers limited only by their inputs
            ax.plot([], [], " ", label=f"no own limit: {', '.join(unlimited)}")
        sold = block.groupby(["seed", "tick"])["sold"].sum().groupby("tick").median()
        ax.plot(sold.index, sold.values, "k--", lw=1, label="total sold")
        ax.set_title(f"{good}: capacity per agent", fontsize=9)
        ax.set_ylabel(f"{quantity_unit(good)} per quarter", fontsize=8)
        ax.legend(fontsize=6, ncol=2)
        _shade_shocks(ax, tables)
        _dates(ax, tables)
    fig.suptitle(f"{title} capacity per agent and good (median over seeds; shaded: shocks)")
    _save(fig, path, [])
    return path


def plot_risk(tables: dict, path: Path, title: str = "") -> Path:
    """Who bears the risk of expansions (ODD 7.18): exposure ($ at risk) by party type and
    by source, stacked, and realised losses by party type, cumulative; medians over seeds
    of each tick's sums, $ billions."""
    r = pd.DataFrame(tables["risk"])
    if "seed" not in r.columns:
        r["seed"] = 0
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    panels = (
        ("party_type", "exposure", False, "exposure by party type"),
        ("source", "exposure", False, "exposure by source of financing"),
        ("party_type", "realised_loss", True, "realised losses by party type, cumulative"),
    )
    for ax, (key, col, cumulative, what) in zip(axes, panels):
        per = r.groupby(["seed", "tick", key])[col].sum().unstack(key).fillna(0.0)
        if cumulative:
            per = per.groupby(level="seed").cumsum()
        med = per.groupby(level="tick").median() / 1e9
        med = med.loc[:, med.abs().max() > 0]
        if cumulative:
            for c in med.columns:
                ax.plot(med.index, med[c], lw=1.4, label=c)
        elif len(med.columns):
            ax.stackplot(med.index, med.T.values, labels=list(med.columns), alpha=0.8)
        ax.set_title(what, fontsize=9)
        ax.set_ylabel("$ billion")
        if len(med.columns):
            ax.legend(fontsize=6, ncol=2)
        else:
            ax.text(0.5, 0.5, "none", ha="center", transform=ax.transAxes)
        _shade_shocks(ax, tables)
        _dates(ax, tables)
    fig.suptitle(f"{title} who bears the risk of expansions (median over seeds; shaded: shocks)")
    _save(fig, path, [])
    return path


def plot_lockin(tables: dict, path: Path, title: str = "",
                series: pd.DataFrame | None = None) -> Path:  # fmt: skip
    """Lock-in at a glance: a heat map of each lab's contracted share of compute over
    time (median over seeds), market concentration of three inputs and relationship
    persistence (fans over seeds)."""
    cov = pd.DataFrame(tables["coverage"])
    if "seed" not in cov.columns:
        cov["seed"] = 0
    cov = cov[cov["good"] == "compute"]
    heat = cov.groupby(["buyer", "tick"])["coverage"].median().unstack("tick")
    series = headline(tables) if series is None else series
    fig = plt.figure(figsize=(13, 7))
    grid = fig.add_gridspec(2, 2, height_ratios=[1.2, 1])
    ax0 = fig.add_subplot(grid[0, :])
    if len(heat):
        heat = heat.loc[heat.mean(axis=1).sort_values(ascending=False).index]
        im = ax0.imshow(heat.to_numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1,
                        extent=(heat.columns[0] - 0.5, heat.columns[-1] + 0.5, len(heat) - 0.5,
                                -0.5), interpolation="nearest")  # fmt: skip
        ax0.set_yticks(range(len(heat)), heat.index, fontsize=8)
        fig.colorbar(im, ax=ax0, pad=0.01, label="contracted share of compute received")
    ax0.set_title("labs' contract coverage (1 = all compute under contract; median over seeds)")
    _dates(ax0, tables)
    ax1 = fig.add_subplot(grid[1, 0])
    for good in ("hbm", "cowos", "accelerator"):
        s = series[series["series"] == f"market HHI {good} (0-10,000)"]
        if len(s):
            fan(ax1, bands(s), good)
    ax1.axhline(2500, color="grey", ls=":", lw=1)
    ax1.text(ax1.get_xlim()[0], 2550, " highly concentrated (> 2,500)", fontsize=7, color="grey")
    ax1.set_ylabel("HHI of sellers (0-10,000)")
    ax1.set_title("market concentration")
    ax1.legend(fontsize=8)
    ax2 = fig.add_subplot(grid[1, 1])
    s = series[series["series"] == "persistence"]
    if len(s):
        fan(ax2, bands(s), "persistence")
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("share of trading pairs kept from last quarter")
    ax2.set_title("relationship persistence")
    for ax in (ax1, ax2):
        _shade_shocks(ax, tables)
        _dates(ax, tables)
    fig.suptitle(f"{title} lock-in and concentration")
    _save(fig, path, [])
    return path


TIERS = ("ToolMaker", "Fab", "MemoryMaker", "Packager", "PowerProvider", "NetworkMaker",
         "DCDeveloper", "ChipDesigner", "Hyperscaler", "Lab", "DramBuyers",
         "Financier")  # fmt: skip
"""Node types from upstream to downstream."""
COLUMN = {"ToolMaker": 0, "Fab": 0, "MemoryMaker": 0, "Packager": 0, "PowerProvider": 1,
          "NetworkMaker": 1, "DCDeveloper": 1, "ChipDesigner": 1, "Hyperscaler": 2, "Lab": 3,
          "DramBuyers": 3, "Financier": 3}  # fmt: skip
"""The network drawing's column of each node type."""
REGION_COLOURS = {"US": "#1f77b4", "TW": "#d62728", "KR": "#2ca02c", "CN": "#ff7f0e",
                  "EU": "#9467bd", "JP": "#8c564b", "NL": "#e377c2"}  # fmt: skip


def draw_network(
    ax,
    nodes: dict[str, tuple[str, str]],
    flows: dict[tuple[str, str, str], float],
    prices: dict[tuple[str, str], float],
) -> None:
    """Draw the supply network on ``ax``: ``nodes`` maps a name to (type, region).

    Nodes sit in tier columns, coloured by region. An edge's width is the $ value
    of its flow (units x the buyer's price) relative to the largest; its colour is
    the buyer's price relative to the mean price of that good over its buyers, so
    goods in different units compare. Used by the run plots and the dashboard.
    """
    ax.set_axis_off()
    by_col: dict[int, list[str]] = defaultdict(list)
    for name, (kind, _) in nodes.items():
        by_col[COLUMN.get(kind, 1)].append(name)
    pos: dict[str, tuple[float, float]] = {}
    for col, members in by_col.items():
        members.sort(key=lambda n: (TIERS.index(nodes[n][0]), n))
        for i, name in enumerate(members):
            pos[name] = (float(col), 1.0 - (i + 0.5) / len(members))
    buyer_prices: dict[str, list[float]] = defaultdict(list)
    for (_, b, g), q in flows.items():
        if q > 0 and prices.get((b, g), 0.0) > 0:
            buyer_prices[g].append(prices[(b, g)])
    mean = {g: sum(v) / len(v) for g, v in buyer_prices.items()}
    values = {k: q * prices.get((k[1], k[2]), 0.0) for k, q in flows.items() if q > 0}
    top = max(values.values(), default=0.0) or 1.0
    cmap = matplotlib.colormaps["coolwarm"]
    norm = matplotlib.colors.LogNorm(vmin=0.5, vmax=2.0)
    for (seller, buyer, good), value in sorted(values.items()):
        if seller not in pos or buyer not in pos:
            continue
        rel = prices.get((buyer, good), 0.0) / mean.get(good, math.inf)
        colour = cmap(norm(min(max(rel, 0.5), 2.0))) if rel > 0 else "grey"
        (x0, y0), (x1, y1) = pos[seller], pos[buyer]
        ax.plot([x0, x1], [y0, y1], color=colour, alpha=0.6, zorder=1,
                linewidth=0.4 + 5.0 * value / top)  # fmt: skip
    for name, (x, y) in pos.items():
        ax.scatter([x], [y], s=60, color=REGION_COLOURS.get(nodes[name][1], "grey"), zorder=2,
                   edgecolors="black", linewidths=0.5)  # fmt: skip
        ax.annotate(name, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=6.5)
    middle = "power, networking, shells, designers"
    for col, label in enumerate(("fabs, memory, packaging", middle, "hyperscalers",
                                 "labs, DRAM buyers")):  # fmt: skip
        ax.text(col, 1.04, label, ha="center", fontsize=8)
    handles = [matplotlib.lines.Line2D([], [], marker="o", linestyle="", color=c, label=r)
               for r, c in REGION_COLOURS.items()]  # fmt: skip
    ax.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7, frameon=False,
              bbox_to_anchor=(0.5, -0.08))  # fmt: skip
    ax.set_xlim(-0.15, 3.6)
    ax.set_ylim(-0.08, 1.08)
    bar = ax.figure.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax,
                             shrink=0.6, pad=0.01, label="buyer price / good's mean")  # fmt: skip
    bar.set_ticks([0.5, 0.75, 1.0, 1.5, 2.0], labels=["<=0.5", "0.75", "1", "1.5", ">=2"])
    bar.minorticks_off()


def plot_network(tables: dict, tick: int, path: Path, title: str = "") -> Path:
    """The supply network at ``tick`` from a run's tables (see ``draw_network``)."""
    a = tables["agents"]
    nodes = {n: (t, r) for tk, n, t, r in zip(a["tick"], a["agent"], a["type"], a["region"])
             if tk == tick}  # fmt: skip
    np_ = tables["node_prices"]
    prices = {(n, g): p for tk, n, g, p in zip(np_["tick"], np_["agent"], np_["good"],
                                               np_["price"]) if tk == tick}  # fmt: skip
    f = tables["flows"]
    flows = {(s, b, g): q for tk, s, b, g, q in zip(f["tick"], f["seller"], f["buyer"], f["good"],
                                                    f["quantity"]) if tk == tick}  # fmt: skip
    fig, ax = plt.subplots(figsize=(12, 8))
    draw_network(ax, nodes, flows, prices)
    date = dict(zip(tables["ticks"]["tick"], tables["ticks"]["date"])).get(tick, tick)
    ax.set_title(f"{title} supply network, {date} (edge width: $ value of the flow)")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- studies


def plot_distributions(runs: pd.DataFrame, out: Path) -> Path:
    """Histograms of every KPI over a sweep's finished runs: ``out/kpi_distributions.png``."""
    outs = [c for c in runs.columns if c.startswith("out:")]
    done = runs[runs["status"] == "done"]
    n = max(1, len(outs))
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, c in zip(axes.flat, outs):
        x = done[c].dropna()
        bins = min(30, max(5, len(done) // 3))
        if len(x) and np.ptp(x) <= 1e-9 * max(1.0, float(np.abs(x).max())):
            bins = 1  # a KPI constant up to rounding: one bar (numpy cannot split 1 ulp)
        ax.hist(x, bins=bins, color="tab:blue")
        ax.set_title(c[4:])
        ax.set_ylabel("runs")
    for ax in list(axes.flat)[len(outs) :]:
        ax.axis("off")
    fig.suptitle(f"KPI distributions over {len(done)} runs")
    path = Path(out) / "kpi_distributions.png"
    _save(fig, path, [])
    return path


def plot_forest(diffs: pd.DataFrame, out: Path, suffix: str = "",
                title: str = "What-if: policy minus baseline on paired seeds") -> Path:  # fmt: skip
    """Forest plot: each policy's KPI difference vs baseline (% of the base mean), 95% CI;
    ``out/whatif_forest<suffix>.png``."""
    kpis = list(dict.fromkeys(diffs["kpi"]))
    policies = list(dict.fromkeys(diffs["policy"]))
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(kpis) * len(policies) + 1.5))
    y, labels = 0, []
    cmap = plt.get_cmap("tab10")
    for kpi in kpis:
        for j, pol in enumerate(policies):
            row = diffs[(diffs["kpi"] == kpi) & (diffs["policy"] == pol)]
            if row.empty:
                continue
            r = row.iloc[0]
            scale = abs(r["base_mean"]) or 1.0
            mid = 100 * r["diff_mean"] / scale
            lo, hi = 100 * r["ci_low"] / scale, 100 * r["ci_high"] / scale
            if not (math.isnan(lo) or math.isnan(hi)):
                ax.plot([lo, hi], [y, y], color=cmap(j % 10), lw=2)
            ax.plot([mid], [y], "o", color=cmap(j % 10), label=pol if kpi == kpis[0] else None)
            labels.append(kpi)
            y += 1
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("difference vs baseline, % of the baseline mean (95% interval)")
    ax.legend(fontsize=8)
    ax.set_title(title)
    path = Path(out) / f"whatif_forest{suffix}.png"
    _save(fig, path, [])
    return path


def plot_scatter(runs: pd.DataFrame, out: Path, max_points: int = 2000) -> Path | None:
    """Input-versus-output scatter plots of a sweep's finished runs: a row per output, a
    column per numeric input; ``out/inputs_outputs.png`` (None without numeric inputs)."""
    done = runs[runs["status"] == "done"]
    params = [c for c in done.columns if c.startswith("param:")
              and pd.api.types.is_numeric_dtype(done[c]) and done[c].nunique() > 1]  # fmt: skip
    outs = [c for c in done.columns if c.startswith("out:")]
    if not params or not outs or not len(done):
        return None
    done = done.head(max_points)
    fig, axes = plt.subplots(len(outs), len(params), squeeze=False,
                             figsize=(3.2 * len(params) + 0.5, 2.6 * len(outs) + 0.5))  # fmt: skip
    for i, o in enumerate(outs):
        for j, p in enumerate(params):
            ax = axes[i][j]
            ax.scatter(done[p], done[o], s=8, alpha=0.6, color="tab:blue")
            if i == len(outs) - 1:
                ax.set_xlabel(p[6:], fontsize=8)
            if j == 0:
                unit = KPIS.get(o[4:], "").split(",")[0]
                ax.set_ylabel(f"{o[4:]}\n({unit})" if unit else o[4:], fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle(f"Inputs versus outputs over {len(done)} runs")
    path = Path(out) / "inputs_outputs.png"
    _save(fig, path, [])
    return path


def plot_sensitivity(df: pd.DataFrame, out: str | os.PathLike[str]) -> list[Path]:
    """One horizontal bar chart per output: Sobol S1 and ST, or Morris mu_star; PNG paths.

    Error bars are the 95% confidence half widths. Files are
    ``out/sensitivity-<output>.png``.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for output, block in df.groupby("output", sort=False):
        method = str(block["method"].iloc[0])
        params = list(block["parameter"])
        y = np.arange(len(params))
        fig, ax = plt.subplots(figsize=(7, 1.8 + 0.5 * len(params)))
        if method == "sobol":
            h = 0.38
            ax.barh(y - h / 2, block["S1"], h, xerr=block["S1_conf"], capsize=3,
                    label="S1 (first order)", color="tab:blue")  # fmt: skip
            ax.barh(y + h / 2, block["ST"], h, xerr=block["ST_conf"], capsize=3,
                    label="ST (total)", color="tab:orange")  # fmt: skip
            ax.axvline(0, color="black", lw=0.6)
            ax.set_xlabel("Sobol index (share of output variance)")
            ax.legend(loc="best", fontsize=8)
        else:
            ax.barh(y, block["mu_star"], 0.6, xerr=block["mu_star_conf"], capsize=3,
                    color="tab:blue")  # fmt: skip
            unit = KPIS.get(str(output), "output units").split(",")[0]
            ax.set_xlabel(f"Morris mu* = mean |elementary effect|\n({unit} per parameter range)")
        ax.set_yticks(y, params, fontsize=8)
        ax.invert_yaxis()
        ax.set_ylabel("parameter")
        ax.set_title(f"{output}: {method} sensitivity", fontsize=10)
        _save(fig, folder / f"sensitivity-{output}.png", paths)
    return paths


def plot_backtest(points: pd.DataFrame, series: pd.DataFrame, out: Path,
                  titles: dict[str, tuple[str, str]], start_year: int) -> list[Path]:  # fmt: skip
    """One PNG per backtest series (``backtest_<series>.png``): per key, the model's
    median and p10-p90 band per tick over seeds (the model's per-tick series, in the
    data's unit) and the historical points (dots at their periods' last ticks, with the
    model's median for the same period as an open circle); the out-of-sample years
    shaded. ``titles`` maps a series to (title, unit)."""
    paths = []
    split = (2025 - start_year) * 4
    for name, (title, unit) in titles.items():
        pts = points[points["series"] == name]
        if not len(pts):
            continue
        keys = list(dict.fromkeys(pts["key"]))
        fig, axes = _grid(len(keys), cols=min(len(keys), 2), size=(5.2, 3.4))
        for ax, key in zip(axes, keys):
            s = series[(series["series"] == name) & (series["key"] == key)]
            # Flows are compared over a period's sum: the per-tick band shows the path.
            if len(s):
                fan(ax, bands(s.rename(columns={"key": "_k"})[["seed", "tick", "series", "value"]]),
                    label="model per tick")  # fmt: skip
            p = pts[pts["key"] == key]
            ax.scatter(p["last"], p["data"], color="black", zorder=3, s=18, label="data (period)")
            ax.scatter(p["last"], p["median"], facecolors="none", edgecolors="tab:red", zorder=3,
                       s=26, label="model (period)")  # fmt: skip
            ax.axvspan(split - 0.5, max(series["tick"].max(), split) + 0.5, color="grey",
                       alpha=0.08, lw=0)  # fmt: skip
            ticks = sorted(series["tick"].unique())[::2]
            ax.set_xticks(ticks, [f"{start_year + t // 4}Q{t % 4 + 1}" for t in ticks],
                          rotation=30, fontsize=8)  # fmt: skip
            ax.set_title(f"{key}" if len(keys) > 1 else title, fontsize=9)
            ax.set_ylabel(unit, fontsize=8)
        axes[0].legend(fontsize=7)
        n = series["seed"].nunique()
        fig.suptitle(f"{title}\nmodel median and p10-p90 over {n} seeds vs data "
                     "(shaded: out-of-sample)", fontsize=9)  # fmt: skip
        path = Path(out) / f"backtest_{name}.png"
        _save(fig, path, paths)
    return paths
