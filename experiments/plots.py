"""PNG plots of one run's tables: prices, demand and unmet demand, lock-in, capacity.

Every time plot shades the ticks in which a shock or policy was active and
labels its axes with units. Input is the tidy tables (column -> values) that
``experiments.runs`` writes; output is a list of PNG paths.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import matplotlib
import networkx as nx

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

UNITS = {
    "wafer": "$/wafer",
    "hbm": "$/GB",
    "cowos": "$/CoWoS wafer",
    "accelerator": "$/H100e",
    "power": "$/MW",
    "compute": "$/H100e-quarter",
}


def _shade_shocks(ax, tables: dict) -> None:
    ticks, shocks = tables["ticks"]["tick"], tables["ticks"]["shocks"]
    start = None
    for t, s in zip([*ticks, None], [*shocks, ""]):
        if s and start is None:
            start = t
        elif not s and start is not None:
            ax.axvspan(start - 0.5, (t if t is not None else ticks[-1] + 1) - 0.5,
                       color="tab:red", alpha=0.12, lw=0)  # fmt: skip
            start = None


def _dates(ax, tables: dict) -> None:
    ticks, dates = tables["ticks"]["tick"], tables["ticks"]["date"]
    step = max(1, len(ticks) // 8)
    ax.set_xticks(ticks[::step], dates[::step], rotation=30, fontsize=8)


def _by(table: dict, key: str, value: str, where=None) -> dict[str, tuple[list, list]]:
    out: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    cols = list(table)
    for row in zip(*table.values()):
        r = dict(zip(cols, row))
        if where is None or where(r):
            out[r[key]][0].append(r["tick"])
            out[r[key]][1].append(r[value])
    return out


def _save(fig, path: Path, paths: list[Path]) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)


def plot_run(tables: dict, out: Path, title: str = "") -> list[Path]:
    """Write prices.png, demand.png, lockin.png and capacity.png into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []

    fig, axes = plt.subplots(2, 3, figsize=(13, 7), sharex=True)
    for ax, (good, (t, p)) in zip(
        axes.flat, sorted(_by(tables["prices"], "good", "price").items())
    ):
        ax.plot(t, p, color="tab:blue")
        ax.set_title(good)
        ax.set_ylabel(UNITS.get(good, "$/unit"))
        _shade_shocks(ax, tables)
        _dates(ax, tables)
    fig.suptitle(f"{title} clearing prices (volume-weighted; shaded: shocks)")
    _save(fig, out / "prices.png", paths)

    a = tables["agents"]
    demand, received, unmet = defaultdict(float), defaultdict(float), defaultdict(float)
    for t, typ, d, r, u in zip(a["tick"], a["type"], a["demand"], a["received"], a["unmet"]):
        if typ == "Lab":
            demand[t] += d
            received[t] += r
            unmet[t] += u
    ticks = sorted(demand)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(ticks, [demand[t] / 1e6 for t in ticks], label="labs' demand")
    ax.plot(ticks, [received[t] / 1e6 for t in ticks], label="compute received")
    ax.fill_between(ticks, [received[t] / 1e6 for t in ticks], [demand[t] / 1e6 for t in ticks],
                    color="tab:orange", alpha=0.3, label="unmet demand")  # fmt: skip
    ax.set_ylabel("million H100e-quarters per quarter")
    ax.legend()
    _shade_shocks(ax, tables)
    _dates(ax, tables)
    ax.set_title(f"{title} compute demand and unmet demand")
    _save(fig, out / "demand.png", paths)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for buyer, (t, c) in sorted(_by(tables["coverage"], "buyer", "coverage",
                                    lambda r: r["good"] == "compute").items()):  # fmt: skip
        ax1.plot(t, c, label=buyer, lw=1)
    ax1.set_ylabel("contracted share of compute received")
    ax1.set_title("labs' contract coverage")
    ax1.legend(fontsize=7)
    for good, (t, h) in sorted(_by(tables["concentration"], "good", "supplier_hhi",
                                   lambda r: r["buyer"] == "*").items()):  # fmt: skip
        ax2.plot(t, h, label=good, lw=1)
    ax2.set_ylabel("HHI of sellers (0-10,000)")
    ax2.set_title("market concentration")
    ax2.legend(fontsize=7)
    for ax in (ax1, ax2):
        _shade_shocks(ax, tables)
        _dates(ax, tables)
    fig.suptitle(f"{title} lock-in and concentration")
    _save(fig, out / "lockin.png", paths)

    fig, axes = plt.subplots(2, 3, figsize=(13, 7), sharex=True)
    units = {"Fab": "wafers", "MemoryMaker": "GB HBM", "Packager": "CoWoS wafers",
             "PowerProvider": "MW new", "Hyperscaler": "H100e-quarters"}  # fmt: skip
    for ax, (typ, unit) in zip(axes.flat, units.items()):
        cap, sold = defaultdict(float), defaultdict(float)
        for t, ty, c, s in zip(a["tick"], a["type"], a["capacity"], a["sold"]):
            if ty == typ:
                cap[t] += c
                sold[t] += s
        ticks = sorted(cap)
        ax.plot(ticks, [cap[t] for t in ticks], label="capacity")
        ax.plot(ticks, [sold[t] for t in ticks], label="used")
        ax.set_title(typ)
        ax.set_ylabel(f"{unit} per quarter")
        _shade_shocks(ax, tables)
        _dates(ax, tables)
    axes.flat[0].legend()
    exp = _by(tables["exposure"], "origin", "share", lambda r: r["by"] == "region")
    ax = axes.flat[5]
    for region, (t, s) in sorted(exp.items()):
        mean = defaultdict(list)
        for tick, share in zip(t, s):
            mean[tick].append(share)
        ticks = sorted(mean)
        ax.plot(ticks, [sum(mean[k]) / len(mean[k]) for k in ticks], label=region, lw=1)
    ax.set_title("labs' exposure by region (mean)")
    ax.set_ylabel("share of compute")
    ax.legend(fontsize=7)
    _shade_shocks(ax, tables)
    _dates(ax, tables)
    fig.suptitle(f"{title} capacity, use and dependency")
    _save(fig, out / "capacity.png", paths)
    last = max(tables["ticks"]["tick"])
    for tick in sorted({0, last // 2, last}):
        paths.append(plot_network(tables, tick, out / f"network_t{tick:03d}.png", title))
    return paths


TIERS = ("Fab", "MemoryMaker", "Packager", "PowerProvider", "ChipDesigner", "Hyperscaler", "Lab")
COLUMN = {"Fab": 0, "MemoryMaker": 0, "Packager": 0, "PowerProvider": 1, "ChipDesigner": 1,
          "Hyperscaler": 2, "Lab": 3}  # fmt: skip


def plot_network(tables: dict, tick: int, path: Path, title: str = "") -> Path:
    """The supply network at ``tick``: nodes by tier (columns) and region (colour),
    edges weighted by the $ value of their flow and coloured by the buyer's price
    relative to that good's median price (so goods with different units compare)."""
    a = tables["agents"]
    kind = {n: t for tk, n, t in zip(a["tick"], a["agent"], a["type"]) if tk == tick}
    region = {n: r for tk, n, r in zip(a["tick"], a["agent"], a["region"]) if tk == tick}
    price = {(n, g): p for tk, n, g, p in zip(*(tables["node_prices"][c] for c in
             ("tick", "agent", "good", "price"))) if tk == tick}  # fmt: skip
    g = nx.DiGraph()
    for n in kind:
        g.add_node(n)
    f = tables["flows"]
    for tk, s, b, good, q in zip(f["tick"], f["seller"], f["buyer"], f["good"], f["quantity"]):
        if tk == tick and q > 0:
            p = price.get((b, good), 0.0)
            g.add_edge(s, b, good=good, value=q * p, price=p)
    by_good: dict[str, list[float]] = defaultdict(list)
    for _, _, d in g.edges(data=True):
        by_good[d["good"]].append(d["price"])
    median = {k: sorted(v)[len(v) // 2] or 1.0 for k, v in by_good.items()}
    pos = {}
    for col in range(4):
        members = sorted((n for n in kind if COLUMN[kind[n]] == col),
                         key=lambda n: (TIERS.index(kind[n]), n))  # fmt: skip
        for i, n in enumerate(members):
            pos[n] = (col, -i + (len(members) - 1) / 2)
    regions = sorted(set(region.values()))
    cmap = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(12, 8))
    values = [d["value"] for _, _, d in g.edges(data=True)]
    top = max(values, default=1.0) or 1.0
    rel = [math.log2(max(d["price"], 1e-9) / median[d["good"]]) for _, _, d in g.edges(data=True)]
    edges = nx.draw_networkx_edges(
        g, pos, ax=ax, width=[0.3 + 5 * v / top for v in values], edge_color=rel,
        edge_cmap=plt.get_cmap("coolwarm"), edge_vmin=-1, edge_vmax=1, arrows=False, alpha=0.7,
    )  # fmt: skip
    nx.draw_networkx_nodes(g, pos, ax=ax, node_size=160,
                           node_color=[cmap(regions.index(region[n]) % 10) for n in g])  # fmt: skip
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=6)
    for i, r in enumerate(regions):
        ax.scatter([], [], color=cmap(i % 10), label=r)
    ax.legend(title="region", fontsize=7, loc="lower right")
    ax.set_xticks(range(4), ["wafers, HBM, CoWoS", "power, designers", "hyperscalers", "labs"])
    ax.set_yticks([])
    if edges is not None and values:
        cbar = fig.colorbar(plt.cm.ScalarMappable(plt.Normalize(-1, 1), plt.get_cmap("coolwarm")),
                            ax=ax, shrink=0.6)  # fmt: skip
        cbar.set_label("buyer's price vs the good's median (log2)")
    date = dict(zip(tables["ticks"]["tick"], tables["ticks"]["date"])).get(tick, tick)
    ax.set_title(f"{title} supply network, {date} (edge width: $ value of the flow)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
