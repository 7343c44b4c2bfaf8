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
from experiments.outputs.tables import UNITS  # noqa: E402


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
"""Node types from upstream to downstream."""
COLUMN = {"Fab": 0, "MemoryMaker": 0, "Packager": 0, "PowerProvider": 1, "ChipDesigner": 1,
          "Hyperscaler": 2, "Lab": 3}  # fmt: skip
"""The network drawing's column of each node type."""
REGION_COLOURS = {"US": "#1f77b4", "TW": "#d62728", "KR": "#2ca02c", "CN": "#ff7f0e",
                  "EU": "#9467bd", "JP": "#8c564b"}  # fmt: skip


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
    for col, label in enumerate(("fabs, HBM, packaging", "power, designers", "hyperscalers",
                                 "labs")):  # fmt: skip
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
        ax.hist(done[c].dropna(), bins=min(30, max(5, len(done) // 3)), color="tab:blue")
        ax.set_title(c[4:])
        ax.set_ylabel("runs")
    for ax in list(axes.flat)[len(outs) :]:
        ax.axis("off")
    fig.suptitle(f"KPI distributions over {len(done)} runs")
    path = Path(out) / "kpi_distributions.png"
    _save(fig, path, [])
    return path


def plot_forest(diffs: pd.DataFrame, out: Path) -> Path:
    """Forest plot: each policy's KPI difference vs baseline (% of the base mean), 95% CI;
    ``out/whatif_forest.png``."""
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
    ax.set_title("What-if: policy minus baseline on paired seeds")
    path = Path(out) / "whatif_forest.png"
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
