"""A run's tables on disk and its summary: Parquet per table plus ``manifest.json``.

``write_run`` writes each table as ``<name>.parquet`` and the manifest as JSON
(every file atomically, see ``experiments.outputs.files``); ``read_run`` reads
them back, naming any unreadable file; ``summary`` gives the headline table that
``aimarket run`` prints and the run report shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from experiments.errors import OutputError
from experiments.outputs.files import atomic_write, read_json, read_table, write_json
from experiments.outputs.format import number, text_table

UNITS = {
    "wafer": "$/wafer",
    "hbm": "$/GB",
    "cowos": "$/CoWoS wafer",
    "accelerator": "$/H100e",
    "power": "$/MW",
    "compute": "$/H100e-quarter",
}
"""The unit of each good's price."""


def write_run(result, out: Path) -> list[Path]:
    """Write ``result.tables`` as Parquet and ``result.manifest`` as JSON into ``out``
    (a ``experiments.studies.run.RunResult``); return the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, columns in result.tables.items():
        table = pa.table(columns)
        paths.append(atomic_write(out / f"{name}.parquet", lambda p, t=table: pq.write_table(t, p)))
    paths.append(write_json(out / "manifest.json", result.manifest))
    return paths


def read_run(out: Path) -> tuple[dict[str, dict[str, list]], dict]:
    """The tables and manifest a run wrote into ``out``.

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
    return tables, manifest


def frames(tables: dict[str, dict[str, list]]) -> dict[str, pd.DataFrame]:
    """A run's tables as DataFrames."""
    return {name: pd.DataFrame(cols) for name, cols in tables.items()}


def summary(tables: dict[str, dict[str, list]], dates: int = 5) -> str:
    """A plain-text table of prices, unmet demand, lock-in and dependency at a few dates."""
    t = frames(tables)
    ticks_df = t["ticks"]
    all_ticks = sorted(ticks_df["tick"].unique())
    picks = sorted({all_ticks[round(i * (len(all_ticks) - 1) / max(1, dates - 1))]
                    for i in range(dates)})  # fmt: skip
    date = dict(zip(ticks_df["tick"], ticks_df["date"]))
    index = pd.Index(all_ticks, name="tick")
    rows: dict[str, pd.Series] = {}

    prices = t["prices"].pivot_table(index="tick", columns="good", values="price", aggfunc="last")
    for good in prices.columns:
        rows[f"price {good} ({UNITS.get(good, '$/unit')})"] = prices[good]
    agents = t["agents"]
    labs = agents[agents["type"] == "Lab"].groupby("tick")[["demand", "unmet"]].sum()
    labs = labs.reindex(index, fill_value=0.0)
    rows["lab demand (H100e-q)"] = labs["demand"]
    rows["unmet demand (H100e-q)"] = labs["unmet"]
    rows["unmet share"] = labs["unmet"] / labs["demand"].replace(0.0, np.nan)
    cov = t["coverage"]
    rows["labs' contract coverage (mean)"] = (
        cov[cov["good"] == "compute"].groupby("tick")["coverage"].mean().reindex(index)
    )
    con = t["concentration"]
    con = con[(con["buyer"] == "*") & con["good"].isin(["hbm", "cowos", "accelerator"])]
    hhi = con.pivot_table(index="tick", columns="good", values="supplier_hhi", aggfunc="last")
    for good in hhi.columns:
        rows[f"market HHI {good}"] = hhi[good]
    ex = t["exposure"]
    tw = ex[(ex["by"] == "region") & (ex["origin"] == "TW")].groupby("tick")["share"].mean()
    rows["labs' exposure to TW (mean)"] = tw.reindex(index, fill_value=0.0)
    rows["relationship persistence"] = ticks_df.set_index("tick")["persistence"]
    money = agents.groupby("tick")[["capex", "prepaid"]].sum().reindex(index)
    rows["suppliers' capex to date ($)"] = money["capex"]
    rows["  of which prepaid by buyers"] = money["prepaid"] / money["capex"].where(
        money["capex"] > 0
    )
    table = pd.DataFrame({label: s.reindex(index) for label, s in rows.items()}).T[picks]
    table.columns = [date[p] for p in picks]
    table.index.name = ""
    shown = table.map(lambda v: number(v, 3)).reset_index()
    return text_table(shown, left=[""])


__all__ = ["UNITS", "frames", "read_run", "summary", "write_run"]
