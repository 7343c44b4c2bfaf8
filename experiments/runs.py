"""One run: a scenario and a seed in, tidy tables (Parquet) and a manifest out.

``run_scenario`` runs the model with a progress bar and returns its tables;
``write_run`` writes each table as ``<name>.parquet`` (written under a temporary
name, then renamed, so a killed run never leaves a half-written table) and
``manifest.json`` (scenario hash, seed, package versions, solver options, wall
time, ticks). ``read_run`` reads them back. ``summary`` gives the headline table
printed by ``aimarket run``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections import defaultdict
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from experiments.scenarios import scenario_hash
from market import MarketModel, Scenario
from optimizers import SolverOptions

PACKAGES = ("aimarket", "mesa", "pyomo", "highspy", "numpy", "networkx", "pydantic", "pyarrow")


@dataclass
class RunResult:
    """Tables (name -> column -> values) and the manifest of one run."""

    tables: dict[str, dict[str, list]]
    manifest: dict
    model: MarketModel


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def run_scenario(
    scenario: Scenario,
    seed: int = 0,
    ticks: int | None = None,
    options: SolverOptions | None = None,
    progress: bool = True,
) -> RunResult:
    """Run ``scenario`` for ``ticks`` (default: its horizon) and return its tables."""
    options = options or SolverOptions()
    model = MarketModel(scenario, seed=seed, solver_options=options)
    n = scenario.meta.horizon if ticks is None else ticks
    start = time.perf_counter()
    with tqdm(
        total=n, desc=scenario.meta.name, unit="tick", disable=None if progress else True
    ) as bar:
        model.run(n, progress=lambda t: (bar.update(1), bar.set_postfix(date=model.date(t - 1))))
    wall = time.perf_counter() - start
    manifest = {
        "scenario": scenario.meta.name,
        "scenario_hash": scenario_hash(scenario),
        "seed": seed,
        "ticks": n,
        "start": model.date(0),
        "end": model.date(n - 1),
        "wall_seconds": round(wall, 3),
        "seconds_in_clearing": round(model.timing["clearing"], 3),
        "seconds_in_agents": round(model.timing["agents"], 3),
        "clearing_rebuilds": model.clearer.rebuilds,
        "solver_options": options.as_dict(),
        "versions": versions(),
    }
    return RunResult(model.tables(), manifest, model)


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_run(result: RunResult, out: Path) -> list[Path]:
    """Write the tables as Parquet and the manifest as JSON into ``out``; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, columns in result.tables.items():
        table = pa.table(columns)
        path = out / f"{name}.parquet"
        _atomic_write(path, lambda p, t=table: pq.write_table(t, p))
        paths.append(path)
    manifest = out / "manifest.json"
    text = json.dumps(result.manifest, indent=2, sort_keys=True)
    _atomic_write(manifest, lambda p: p.write_text(text))
    paths.append(manifest)
    return paths


def read_run(out: Path) -> tuple[dict[str, dict[str, list]], dict]:
    """The tables and manifest a run wrote into ``out``."""
    tables = {p.stem: pq.read_table(p).to_pydict() for p in sorted(out.glob("*.parquet"))}
    manifest = json.loads((out / "manifest.json").read_text())
    return tables, manifest


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    ax = abs(x)
    if ax >= 1e9:
        return f"{x / 1e9:.1f}B"
    if ax >= 1e6:
        return f"{x / 1e6:.1f}M"
    if ax >= 1e4:
        return f"{x / 1e3:.0f}k"
    if ax >= 10:
        return f"{x:.0f}"
    return f"{x:.2f}"


def summary(tables: dict[str, dict[str, list]], dates: int = 5) -> str:
    """A plain-text table of prices, unmet demand, lock-in and dependency at a few dates."""
    t = tables
    ticks = sorted(set(t["ticks"]["tick"]))
    picks = sorted({ticks[round(i * (len(ticks) - 1) / max(1, dates - 1))] for i in range(dates)})
    date = dict(zip(t["ticks"]["tick"], t["ticks"]["date"]))
    rows: dict[str, dict[int, float]] = defaultdict(dict)
    for tick, good, price in zip(t["prices"]["tick"], t["prices"]["good"], t["prices"]["price"]):
        rows[f"price {good} ($/unit)"][tick] = price
    unmet: dict[int, float] = defaultdict(float)
    demand: dict[int, float] = defaultdict(float)
    a = t["agents"]
    for tick, typ, u, d in zip(a["tick"], a["type"], a["unmet"], a["demand"]):
        if typ == "Lab":
            unmet[tick] += u
            demand[tick] += d
    for tick in ticks:
        rows["lab demand (H100e-q)"][tick] = demand[tick]
        rows["unmet demand (H100e-q)"][tick] = unmet[tick]
        rows["unmet share"][tick] = unmet[tick] / demand[tick] if demand[tick] else math.nan
    cov: dict[int, list[float]] = defaultdict(list)
    for tick, good, c in zip(
        t["coverage"]["tick"], t["coverage"]["good"], t["coverage"]["coverage"]
    ):
        if good == "compute":
            cov[tick].append(c)
    for tick in ticks:
        rows["labs' contract coverage (mean)"][tick] = (
            sum(cov[tick]) / len(cov[tick]) if cov[tick] else math.nan
        )
    con = t["concentration"]
    for tick, buyer, good, h in zip(con["tick"], con["buyer"], con["good"], con["supplier_hhi"]):
        if buyer == "*" and good in ("hbm", "cowos", "accelerator"):
            rows[f"market HHI {good}"][tick] = h
    ex = t["exposure"]
    tw: dict[int, list[float]] = defaultdict(list)
    for tick, by, origin, share in zip(ex["tick"], ex["by"], ex["origin"], ex["share"]):
        if by == "region" and origin == "TW":
            tw[tick].append(share)
    for tick in ticks:
        rows["labs' exposure to TW (mean)"][tick] = (
            sum(tw[tick]) / len(tw[tick]) if tw[tick] else 0.0
        )
    for tick, p in zip(t["ticks"]["tick"], t["ticks"]["persistence"]):
        rows["relationship persistence"][tick] = p
    capex: dict[int, float] = defaultdict(float)
    prepaid: dict[int, float] = defaultdict(float)
    for tick, c, p in zip(a["tick"], a["capex"], a["prepaid"]):
        capex[tick] += c
        prepaid[tick] += p
    for tick in ticks:
        rows["suppliers' capex to date ($)"][tick] = capex[tick]
        rows["  of which prepaid by buyers"][tick] = (
            prepaid[tick] / capex[tick] if capex[tick] > 0 else math.nan
        )
    width = max(len(k) for k in rows) + 2
    lines = [" " * width + "".join(f"{date[p]:>10}" for p in picks)]
    for label, series in rows.items():
        lines.append(f"{label:<{width}}" + "".join(f"{_fmt(series.get(p)):>10}" for p in picks))
    return "\n".join(lines)
