"""Backtest: run a history scenario on N seeds and score it against public data (issue 9).

    aimarket backtest [SCENARIO] [--seeds N] [--out DIR]

The scenario (default ``history_2023``) runs on the study engine
(``experiments.engine.execute``: one run per seed, written as it finishes,
resumable, the same on any number of workers). Each run returns the model's
series that the history maps onto (:data:`SERIES`, as ``data/README.md`` says),
per tick. Each historical point (a row of ``data/history/*.csv``: a quarter, a
year, a half-year or a month) is compared with the model over its ticks (a sum for
flows, a mean for prices and shares, the last tick for a capacity "at the end of
the period"), taking the median over seeds and the 10th-90th percentiles.

Per series and per sample (``in``: 2023Q1-2024Q4, ticks before ``SPLIT_TICK``;
``out``: 2025Q1 on) the ``metrics`` table holds:

- ``error``: MAPE (mean |model / data - 1|) for flows, money and capacities; the
  mean |log(model / data)| for lead times (they span 5x); mean absolute error in
  percentage points for shares;
- ``corr``: Pearson correlation of the model's median and the data over the points
  (NaN with fewer than 3 points or no variation);
- ``sign_share``: share of period-to-period changes (consecutive points of one key,
  within the sample) whose sign the model's median gets right.

Written into ``out``: ``metrics.parquet``/``.csv``, ``points.parquet``/``.csv`` (each
historical point with the model's median and band), one PNG per series, and
``report.html`` (``experiments.outputs.report``). :func:`targets` checks the issue's
targets; ``GUARD`` records out-of-sample errors for the CI guard (``--record``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.engine import RunOutputs, Task, collect_series, execute
from experiments.errors import StudyError
from experiments.outputs.files import empty_for_run, read_json, write_frame, write_json
from experiments.outputs.format import text_table
from experiments.scenarios import load_scenario, scenario_hash, validate_scenario
from experiments.studies.run import run_model
from market import MarketModel, Scenario
from market.history import product_at
from optimizers import SolverOptions

DATA = Path(__file__).parents[2] / "data" / "history"
"""The historical series (``data/history/*.csv``; ``data/README.md``)."""
GUARD = DATA / "backtest_guard.json"
"""The out-of-sample errors the CI guard holds the model to (``--record`` rewrites it)."""
DEFAULT_SCENARIO = "history_2023"
SPLIT = "2025Q1"
"""First quarter of the out-of-sample years; earlier quarters are in-sample."""
HOURS_PER_QUARTER = 24 * 91.25
"""Hours in a quarter: $/H100e-quarter / this = $/H100-hour."""
NETWORKING_SHARE = 0.15
"""Share of Nvidia's Data Center revenue that is networking, not accelerators (about
8-18% in FY25-26, Epoch's compilation; $11.0B of $62.3B in FY26Q4): the model's
accelerator revenue is compared with the reported revenue x (1 - this)."""
BUDGET_SHARE = 0.45
"""Share of hyperscalers' capex the model's budgets cover (baseline.toml): the model's
spend on accelerators and MW is compared with the reported capex x this."""
DESIGNERS = {"Nvidia": "Nvidia", "Google TPU": "Broadcom-TPU", "AMD": "AMD",
             "AWS Trainium": "Trainium"}  # fmt: skip
"""Epoch's designer names -> the scenario's agents (data/README.md)."""
HBM_MAKERS = {"SK hynix": "SK hynix", "Samsung": "Samsung HBM", "Micron": "Micron"}
HYPERSCALERS = ("Microsoft", "Alphabet", "Amazon", "Meta")


# ----------------------------------------------------------------- periods and ticks


def period_quarters(period: str) -> list[str]:
    """The calendar quarters a period covers: ``2023`` -> 4 quarters, ``2026H1`` -> 2,
    ``2024Q3`` -> 1, a month ``2024-10`` -> its quarter."""
    p = period.strip()
    if re.fullmatch(r"\d{4}", p):
        return [f"{p}Q{q}" for q in range(1, 5)]
    m = re.fullmatch(r"(\d{4})H([12])", p)
    if m:
        first = 1 if m.group(2) == "1" else 3
        return [f"{m.group(1)}Q{q}" for q in (first, first + 1)]
    if re.fullmatch(r"\d{4}Q[1-4]", p):
        return [p]
    m = re.fullmatch(r"(\d{4})-(\d{2})", p)
    if m:
        return [f"{m.group(1)}Q{(int(m.group(2)) - 1) // 3 + 1}"]
    raise ValueError(f"period {period!r} is not YYYY, YYYYHn, YYYYQn or YYYY-MM")


def quarter_index(quarter: str, start_year: int) -> int:
    """The tick of ``YYYYQn`` when tick 0 is ``start_year``Q1 (may be negative)."""
    return (int(quarter[:4]) - start_year) * 4 + int(quarter[-1]) - 1


# ----------------------------------------------------------------- the model's series


def _frame(tables: Mapping[str, Mapping[str, list]], name: str) -> pd.DataFrame:
    return pd.DataFrame(dict(tables[name]))


def model_series(tables: Mapping[str, Mapping[str, list]], scenario: Scenario) -> pd.DataFrame:
    """The model's per-tick values for every series (long: tick, series, key, value).

    Units are the data's: chips, H100e, $B, $/H100-hour, weeks, wafers per month,
    % of the HBM market.
    """
    agents = _frame(tables, "agents")
    rows: list[pd.DataFrame] = []

    def add(series: str, key: str, by_tick: pd.Series) -> None:
        rows.append(pd.DataFrame({"tick": by_tick.index.astype(int), "series": series,
                                  "key": key, "value": by_tick.to_numpy(float)}))  # fmt: skip

    made = agents[agents["type"] == "ChipDesigner"].pivot_table(
        index="tick", columns="agent", values="sold", aggfunc="sum"
    )
    ticks = made.index
    # The model counts realised H100e (peak x performance); Epoch counts peak H100e.
    peak: dict[str, pd.Series] = {}
    for epoch, agent in DESIGNERS.items():
        realised = made[agent] if agent in made else pd.Series(0.0, index=ticks)
        product = [product_at(scenario, agent, int(t)) for t in ticks]
        performance = np.array([p["performance"] for p in product])
        peak[agent] = realised / performance
        add("chip_h100e", epoch, peak[agent])
        per_chip = np.array([p["h100e_per_chip"] for p in product])
        add("chip_units", epoch, peak[agent] / per_chip)
    four = sum(peak.values())
    add("nvidia_share", "Nvidia", 100 * peak["Nvidia"] / four.replace(0, np.nan))
    flows = _frame(tables, "flows")
    prices = _frame(tables, "node_prices")
    # Nvidia's revenue: what it was paid this tick (agents.revenue, from the ledger).
    nvidia = agents[agents["agent"] == "Nvidia"].set_index("tick")["revenue"] / 1e9
    add("nvidia_revenue", "Nvidia", nvidia.reindex(ticks, fill_value=0.0))
    p = _frame(tables, "prices")
    compute = p[p["good"] == "compute"].set_index("tick")["price"] / HOURS_PER_QUARTER
    add("h100_rental", "H100", compute.reindex(ticks))
    t = _frame(tables, "ticks").set_index("tick")
    add("lead_time", "H100 servers", t["lead_time_accelerator"].reindex(ticks))
    cap = _frame(tables, "capacity")
    cowos = cap[(cap["agent"] == "TSMC") & (cap["good"] == "cowos")].set_index("tick")
    add("cowos_capacity", "TSMC", cowos["capacity"].reindex(ticks) / 3)  # per quarter -> month
    hbm = (
        flows[flows["good"] == "hbm"]
        .pivot_table(index="tick", columns="seller", values="quantity", aggfunc="sum")
        .reindex(ticks, fill_value=0.0)
    )
    total = hbm.sum(axis=1).replace(0, np.nan)
    for agent in HBM_MAKERS.values():
        share = hbm[agent] if agent in hbm else pd.Series(0.0, index=ticks)
        add("hbm_share", agent, 100 * share / total)
    spend = flows[flows["buyer"].isin(HYPERSCALERS) & flows["good"].isin(["accelerator", "power"])]
    spend = spend.merge(prices, left_on=["tick", "buyer", "good"],
                        right_on=["tick", "agent", "good"], how="left")  # fmt: skip
    money = (spend["quantity"] * spend["price"]).groupby(spend["tick"]).sum() / 1e9
    add("hyperscaler_capex", "four", money.reindex(ticks, fill_value=0.0))
    return pd.concat(rows, ignore_index=True)


# ----------------------------------------------------------------- the data


@dataclass(frozen=True)
class Series:
    """One historical series and how the model's series is compared with it."""

    name: str
    title: str
    unit: str
    file: str
    key: str | None  # the CSV column that picks the key (None: one key)
    agg: str  # how ticks make a period: "sum", "mean" or "last"
    error: str  # "mape", "log" or "points"
    keys: Mapping[str, str] = field(default_factory=dict)  # data key -> model key
    rows: Callable[[pd.DataFrame], pd.DataFrame] | None = None  # row filter; None: estimates
    scale: float = 1.0  # data x scale = what the model is compared with
    note: str = ""


def _estimates(df: pd.DataFrame) -> pd.DataFrame:
    """Rows made after the fact (not forecasts), without one-sided bounds."""
    if "kind" in df:
        df = df[df["kind"].fillna("estimate") == "estimate"]
    if "bound" in df:
        df = df[df["bound"].fillna("") == ""]
    return df


def _rental_path(df: pd.DataFrame) -> pd.DataFrame:
    """One H100 rental measure per year, the most consistent available (data/README.md):
    2023 the market rental at launch, 2024 on-demand SXM (Oct), then the 1-year
    contract (SemiAnalysis)."""
    keep = {"market rental, launch", "on-demand SXM", "1-year contract"}
    return df[df["measure"].isin(keep) & (df["bound"].fillna("") == "")]


def _lead_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Quoted lead times of H100 servers and GPUs (not the Blackwell backlog, not bounds)."""
    return df[~df["product"].str.contains("Blackwell") & (df["bound"].fillna("") == "")]


def _capex_total(df: pd.DataFrame) -> pd.DataFrame:
    """The four hyperscalers' cash capex summed per quarter (quarters with all four)."""
    cash = df[df["measure"] == "cash capex"]
    full = cash.groupby("period").filter(lambda g: set(g["company"]) >= set(HYPERSCALERS))
    out = full.groupby("period", as_index=False)["value"].sum()
    out["confidence"] = "high"
    return out


def _hbm_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Shares by shipments where given, else by revenue (about 2 points apart); no
    projections or bounds."""
    df = df[df["bound"].fillna("") == ""] if "bound" in df else df
    if "kind" in df:
        df = df[df["kind"].fillna("estimate") == "estimate"]
    df = df.assign(_pref=(df["basis"] != "shipments").astype(int))
    df = df.sort_values("_pref").drop_duplicates(["period", "maker"])
    return df.drop(columns="_pref")


SERIES: tuple[Series, ...] = (
    Series("chip_units", "Chips sold per designer per year (Epoch AI)", "chips",
           "chip_units_by_designer.csv", "designer", "sum", "mape",
           {k: k for k in DESIGNERS}),
    Series("chip_h100e", "H100e sold per designer per quarter (Epoch AI)", "H100e",
           "chip_h100e_by_designer_quarterly.csv", "designer", "sum", "mape",
           {k: k for k in DESIGNERS}),
    Series("nvidia_share", "Nvidia's share of new H100e (Epoch AI)", "% of new H100e",
           "nvidia_share_of_new_compute.csv", None, "sum", "points", {"": "Nvidia"}),
    Series("nvidia_revenue", "Nvidia Data Center revenue x 0.85 (accelerators only)", "$B",
           "nvidia_datacenter_revenue.csv", None, "sum", "mape", {"": "Nvidia"},
           scale=1 - NETWORKING_SHARE),
    Series("h100_rental", "H100 rental price (one measure per year)", "$/GPU-hour",
           "h100_rental_price.csv", None, "mean", "mape", {"": "H100"}, rows=_rental_path),
    Series("lead_time", "AI-server lead time", "weeks", "ai_server_lead_times.csv", None,
           "mean", "log", {"": "H100 servers"}, rows=_lead_rows),
    Series("cowos_capacity", "TSMC CoWoS capacity at the end of the period (an input)",
           "wafers/month", "cowos_capacity.csv", None, "last", "mape", {"": "TSMC"},
           rows=lambda df: _estimates(df[df["maker"] == "TSMC"])),
    Series("hbm_share", "HBM market share by maker", "% of HBM market",
           "hbm_market_share.csv", "maker", "mean", "points", HBM_MAKERS, rows=_hbm_rows),
    Series("hyperscaler_capex", "Four hyperscalers' capex x 0.45 (an input)", "$B",
           "hyperscaler_capex.csv", None, "sum", "mape", {"": "four"}, rows=_capex_total,
           scale=BUDGET_SHARE),
)  # fmt: skip
"""The series scored (the other CSVs are context; see data/README.md)."""


def history_points(scenario: Scenario, data: Path = DATA) -> pd.DataFrame:
    """Every historical point the scenario's ticks cover: series, key (the model's),
    period, first and last tick, value (in the model's terms: data x scale), sample."""
    start = scenario.meta.start_year
    horizon = scenario.meta.horizon
    split = quarter_index(SPLIT, start)
    out = []
    for s in SERIES:
        path = data / s.file
        if not path.exists():
            raise StudyError(f"{path}: missing; the backtest needs data/history/ (data/README.md)")
        df = (s.rows or _estimates)(pd.read_csv(path))
        # Several sources for one period: their mean.
        key_col = s.key
        df = df.assign(_key=df[key_col] if key_col else "")
        df = df[df["_key"].isin(list(s.keys))]
        df = df.groupby(["_key", "period"], as_index=False)["value"].mean()
        for _, r in df.iterrows():
            quarters = period_quarters(str(r["period"]))
            ticks = [quarter_index(q, start) for q in quarters]
            if min(ticks) < 0 or max(ticks) >= horizon:
                continue
            sample = "in" if max(ticks) < split else "out" if min(ticks) >= split else "mixed"
            out.append({"series": s.name, "key": s.keys[r["_key"]], "period": str(r["period"]),
                        "first": min(ticks), "last": max(ticks),
                        "data": float(r["value"]) * s.scale, "sample": sample})  # fmt: skip
    return pd.DataFrame(out)


def model_points(points: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """Each point's model value per seed (long: point index, seed, model)."""
    aggs = {s.name: s.agg for s in SERIES}
    out = []
    for seed, per_seed in series.groupby("seed"):
        by = {k: g.set_index("tick")["value"] for k, g in per_seed.groupby(["series", "key"])}
        for i, p in points.iterrows():
            values = by.get((p["series"], p["key"]))
            if values is None:
                continue
            span = values.reindex(range(int(p["first"]), int(p["last"]) + 1))
            agg = aggs[p["series"]]
            if p["series"] == "nvidia_share":  # a share of sums, not a sum of shares
                v = _share_of_sums(per_seed, int(p["first"]), int(p["last"]))
            elif agg == "sum":
                v = span.sum(min_count=len(span))
            elif agg == "mean":
                v = span.mean()
            else:
                v = span.iloc[-1]
            out.append({"point": i, "seed": seed, "model": float(v)})
    return pd.DataFrame(out)


def _share_of_sums(per_seed: pd.DataFrame, first: int, last: int) -> float:
    h = per_seed[(per_seed["series"] == "chip_h100e") & per_seed["tick"].between(first, last)]
    total = h["value"].sum()
    return 100 * h.loc[h["key"] == "Nvidia", "value"].sum() / total if total > 0 else math.nan


# ----------------------------------------------------------------- scores


def error(kind: str, model: np.ndarray, data: np.ndarray) -> float:
    """The error of ``model`` against ``data`` (see the module docstring)."""
    ok = np.isfinite(model) & np.isfinite(data)
    model, data = model[ok], data[ok]
    if not len(data):
        return math.nan
    if kind == "mape":
        return float(np.mean(np.abs(model / data - 1)))
    if kind == "log":
        with np.errstate(divide="ignore"):
            return float(np.mean(np.abs(np.log(np.maximum(model, 1e-12) / data))))
    return float(np.mean(np.abs(model - data)))


def correlation(model: np.ndarray, data: np.ndarray) -> float:
    """Pearson correlation (NaN with fewer than 3 finite points or no variation)."""
    ok = np.isfinite(model) & np.isfinite(data)
    if ok.sum() < 3 or np.std(model[ok]) == 0 or np.std(data[ok]) == 0:
        return math.nan
    return float(np.corrcoef(model[ok], data[ok])[0, 1])


def sign_share(frame: pd.DataFrame) -> tuple[float, int]:
    """Share of consecutive changes (per key, in period order) of the right sign, and
    how many changes there were."""
    right = n = 0
    for _, g in frame.sort_values("first").groupby("key"):
        g = g.drop_duplicates("first")
        dm, dd = np.diff(g["median"].to_numpy()), np.diff(g["data"].to_numpy())
        ok = np.isfinite(dm) & np.isfinite(dd) & (dd != 0)
        right += int((np.sign(dm[ok]) == np.sign(dd[ok])).sum())
        n += int(ok.sum())
    return (right / n if n else math.nan), n


def score(points: pd.DataFrame, per_seed: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(points with median, p10, p90 of the model; the metrics table)."""
    q = per_seed.groupby("point")["model"].quantile([0.1, 0.5, 0.9]).unstack()
    pts = points.copy()
    pts["median"] = q[0.5].reindex(pts.index)
    pts["p10"] = q[0.1].reindex(pts.index)
    pts["p90"] = q[0.9].reindex(pts.index)
    kinds = {s.name: s.error for s in SERIES}
    units = {s.name: s.unit for s in SERIES}
    rows = []
    for s in SERIES:
        for sample in ("in", "out"):
            f = pts[(pts["series"] == s.name) & (pts["sample"] == sample)]
            if not len(f):
                continue
            m, d = f["median"].to_numpy(float), f["data"].to_numpy(float)
            share, changes = sign_share(f)
            rows.append({"series": s.name, "sample": sample, "unit": units[s.name],
                         "error_kind": kinds[s.name], "points": len(f),
                         "error": error(kinds[s.name], m, d), "corr": correlation(m, d),
                         "sign_share": share, "changes": changes})  # fmt: skip
    return pts, pd.DataFrame(rows)


# ----------------------------------------------------------------- targets (issue 9)


def targets(points: pd.DataFrame, series: pd.DataFrame | None = None) -> pd.DataFrame:
    """The issue's targets, each met or missed (target, value, goal, met).

    The 2023 lead-time peak compares peaks: the highest quoted lead time of 2023 with
    the highest of the model's per-tick median in 2023 (``series``, the model's
    per-seed series; without it, the model's value for the same period); the 2024
    fall compares the lowest quoted lead time of 2024 with the model's for its period."""
    rows = []
    units = points[(points["series"] == "chip_units") & (points["sample"] == "out")]
    for _, r in units.iterrows():
        err = abs(r["median"] / r["data"] - 1)
        rows.append((f"chip units {r['key']} {r['period']}", err, "within 30%", err <= 0.30))
    rent = points[points["series"] == "h100_rental"].sort_values("first")
    for _, r in rent.iterrows():
        err = abs(r["median"] / r["data"] - 1)
        rows.append((f"H100 rental {r['period']}", err, "within 35%", err <= 0.35))
    years = rent.assign(year=rent["period"].str[:4]).groupby("year")[["median", "data"]].mean()
    for (y0, a), (y1, b) in zip(years.iterrows(), list(years.iterrows())[1:]):
        right = np.sign(b["median"] - a["median"]) == np.sign(b["data"] - a["data"])
        rows.append(
            (
                f"H100 rental change {y0}->{y1}",
                float(b["median"] / a["median"] - 1),
                "sign of the data's " + f"{b['data'] / a['data'] - 1:+.0%}",
                bool(right),
            )
        )
    share = points[points["series"] == "nvidia_share"]
    for _, r in share.iterrows():
        gap = r["median"] - r["data"]
        rows.append((f"Nvidia share {r['period']}", gap, "within 10 points", abs(gap) <= 10))
    lead = points[points["series"] == "lead_time"].sort_values("first")
    y23 = lead[lead["period"].str.startswith("2023")]
    y24 = lead[lead["period"].str.startswith("2024")]
    if len(y23) and len(y24):
        peak = y23.loc[y23["data"].idxmax()]
        low = y24.loc[y24["data"].idxmin()]
        model_peak, where = peak["median"], peak["period"]
        if series is not None:
            lt = series[series["series"] == "lead_time"].groupby("tick")["value"].median()
            in_2023 = lt[lt.index <= int(y23["last"].max())]
            model_peak, t = float(in_2023.max()), int(in_2023.idxmax())
            where = f"model's in tick {t}"
        for label, value, r in (("2023 peak", model_peak, peak), ("2024 fall", low["median"], low)):
            ratio = value / r["data"]
            text = f"{r['period']}, {r['data']:.0f} weeks" + (
                f"; {where}" if label == "2023 peak" else ""
            )
            rows.append((f"lead time {label} ({text})", ratio,
                         "ratio within 1/1.5..1.5", 1 / 1.5 <= ratio <= 1.5))  # fmt: skip
    return pd.DataFrame(rows, columns=["target", "value", "goal", "met"])


# ----------------------------------------------------------------- the runs


@dataclass(frozen=True)
class BacktestRunner:
    """One seed of the history scenario: its series (``model_series``) per tick."""

    scenario: Mapping[str, Any]

    def __call__(self, params: Mapping[str, Any], seed: int) -> RunOutputs:
        scenario = validate_scenario(self.scenario, "scenario")
        model = MarketModel(scenario, seed=seed, solver_options=SolverOptions(threads=1))
        run_model(model)
        series = model_series(model.tables(), scenario)
        return RunOutputs({"ticks": float(model.tick)}, series)


def backtest(
    scenario: str | Path = DEFAULT_SCENARIO,
    seeds: int = 8,
    out: str | Path | None = None,
    workers: int = 0,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    report: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Run the backtest; return ``{"metrics", "points", "targets", "out"}`` and write
    them to ``out`` (default ``runs/backtest/<scenario>-<N>seeds``). ``force`` clears
    ``out`` first (a folder of aimarket results only); ``resume`` keeps its finished runs."""
    world = load_scenario(scenario)
    out = Path(out) if out else Path("runs") / "backtest" / f"{world.meta.name}-{seeds}seeds"
    if not resume:
        empty_for_run(out, force)
    points = history_points(world)
    tasks = [Task(f"seed{s:04d}", 0, s, s, {}) for s in range(seeds)]
    runner = BacktestRunner(world.model_dump(mode="python"))
    identity = {"study": "backtest", "scenario_hash": scenario_hash(world), "seeds": seeds}
    runs = execute(tasks, runner, out, workers=workers, scheduler=scheduler, resume=resume,
                   progress=progress, identity=identity,
                   manifest={"scenario": world.meta.name, "split": SPLIT})  # fmt: skip
    failed = runs[runs["status"] != "done"]
    if len(failed):
        raise StudyError(f"{len(failed)} of {len(runs)} backtest runs failed; first error:\n"
                         f"{failed['error'].iloc[0]}")  # fmt: skip
    series = collect_series(out)
    series["seed"] = series["run"].map(dict(zip(runs["run"], runs["seed"])))
    pts, metrics = score(points, model_points(points, series))
    goals = targets(pts, series)
    write_frame(metrics, out / "metrics.parquet")
    write_frame(metrics, out / "metrics.csv")
    write_frame(pts, out / "points.parquet")
    write_frame(pts, out / "points.csv")
    write_frame(goals, out / "targets.csv")
    write_frame(series.drop(columns="run"), out / "model_series.parquet")
    if report:
        from experiments.outputs.plots import plot_backtest
        from experiments.outputs.report import study_report

        plot_backtest(pts, series, out, {s.name: (s.title, s.unit) for s in SERIES},
                      world.meta.start_year)  # fmt: skip
        study_report(out)
    return {"metrics": metrics, "points": pts, "targets": goals, "out": out}


def format_metrics(metrics: pd.DataFrame) -> str:
    """The metrics as a text table: one row per series, in- and out-of-sample side by side."""
    wide = metrics.pivot_table(index="series", columns="sample",
                               values=["error", "corr", "sign_share"], aggfunc="first")  # fmt: skip
    rows = []
    kinds = dict(zip(metrics["series"], metrics["error_kind"]))
    for s in SERIES:
        if s.name not in wide.index:
            continue
        r = wide.loc[s.name]

        def get(col: str, sample: str, r: pd.Series = r) -> float:
            return r.get((col, sample), math.nan)

        rows.append({"series": s.name, "error": kinds[s.name],
                     "in err": get("error", "in"), "out err": get("error", "out"),
                     "in corr": get("corr", "in"), "out corr": get("corr", "out"),
                     "in sign": get("sign_share", "in"),
                     "out sign": get("sign_share", "out")})  # fmt: skip
    return text_table(pd.DataFrame(rows), left=("series", "error"), digits=3)


# ----------------------------------------------------------------- the CI guard

GUARD_TOLERANCE = 0.05
"""Slack of the CI guard: a series fails when its out-of-sample error exceeds the
recorded one by more than this share of it, plus ``GUARD_FLOOR``."""
GUARD_FLOOR = 0.01
"""Absolute slack of the guard (error units), so a recorded 0 does not fail on noise."""


def record_guard(metrics: pd.DataFrame, seeds: int, path: Path = GUARD) -> Path:
    """Write the out-of-sample errors of ``metrics`` as the guard's record."""
    out = metrics[metrics["sample"] == "out"]
    data = {
        "about": "Out-of-sample errors of `aimarket backtest --seeds N` that the CI guard "
        "(tests/experiments/test_backtest.py) holds the model to: a series fails if its "
        f"error exceeds the recorded one x (1 + {GUARD_TOLERANCE}) + {GUARD_FLOOR}. "
        "Regenerate with `aimarket backtest --seeds 4 --record` after a deliberate change.",
        "scenario": DEFAULT_SCENARIO,
        "seeds": seeds,
        "tolerance": GUARD_TOLERANCE,
        "floor": GUARD_FLOOR,
        "errors": {
            r["series"]: round(float(r["error"]), 6)
            for _, r in out.iterrows()
            if math.isfinite(r["error"])
        },
    }
    return write_json(path, data)


def guard_breaches(metrics: pd.DataFrame, path: Path = GUARD) -> list[str]:
    """The series whose out-of-sample error rose above the record, each as a sentence."""
    record = read_json(path)
    errors = record["errors"]
    tol, floor = record.get("tolerance", GUARD_TOLERANCE), record.get("floor", GUARD_FLOOR)
    now = {r["series"]: r["error"] for _, r in metrics[metrics["sample"] == "out"].iterrows()}
    out = []
    for name, was in errors.items():
        value = now.get(name, math.nan)
        limit = was * (1 + tol) + floor
        if not value <= limit:
            out.append(f"{name}: out-of-sample error {value:.4f} > {limit:.4f} "
                       f"(recorded {was:.4f})")  # fmt: skip
    return out


__all__ = ["BacktestRunner", "DATA", "GUARD", "SERIES", "Series", "backtest", "correlation",
           "error", "format_metrics", "guard_breaches", "history_points", "model_points",
           "model_series", "period_quarters", "record_guard", "score", "sign_share",
           "targets"]  # fmt: skip
