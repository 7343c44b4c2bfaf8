"""Self-contained HTML reports of a run, a sweep or a what-if folder (plots embedded).

``build_report(folder)`` looks at what the folder holds:

- a run (``ticks.parquet``): the summary table (median [p10, p90] over seeds), then
  fan charts of prices, demand and unmet demand, lock-in and concentration,
  capacity per agent and good, dependency on regions, the supply network at
  chosen ticks, the scenario's parameters and shocks, a glossary of every KPI and
  table column, and the run's manifest;
- a what-if study (``whatif.parquet``): forest plots of each policy's KPI
  differences against the baseline over the run, the shock window and after it;
  fan charts of the paired differences over time; the KPIs per region and lab; the
  rents a policy creates; the table; the scenarios' shocks and what each policy
  changes; warnings; the glossary;
- a sweep (``parts/``): KPI distributions, input-versus-output scatter plots and
  the sensitivity of each output (rank correlations and standardised regression
  coefficients), and the Sobol or Morris indices when ``sensitivity.parquet`` is
  there.

Every image is a PNG embedded as a data URI, so ``report.html`` can be mailed.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from experiments.outputs.files import atomic_write, read_frame, read_json
from experiments.outputs.format import number
from experiments.outputs.glossary import glossary_rows
from experiments.outputs.plots import (
    plot_distributions,
    plot_fans,
    plot_forest,
    plot_run,
    plot_scatter,
    plot_sensitivity,
)
from experiments.outputs.tables import headline, read_run, summary

RUN_SECTIONS = {
    "Prices": ["prices.png"],
    "Quantities and unmet demand": ["demand.png"],
    "Lead times": ["leadtimes.png"],
    "Contracts and concentration": ["lockin.png"],
    "Capacity per agent and good": ["capacity.png"],
    "Dependency on regions": ["exposure.png"],
    "KPIs the field uses": ["field.png", "traffic.png"],
    "Who bears the risk": ["risk.png"],
    "Supply network": ["network_t*.png"],
}

STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-top:.5em}img{max-width:100%}
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:.85em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:2px 6px}
.warn{background:#fff3cd;border:1px solid #e0c36c;padding:.5em 1em}"""


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _table(df: pd.DataFrame) -> str:
    """``df`` as an HTML table, numbers through the one formatter."""
    shown = df.copy()
    for col in shown.columns:
        if pd.api.types.is_numeric_dtype(shown[col]) and not pd.api.types.is_bool_dtype(shown[col]):
            shown[col] = [number(v) for v in shown[col]]
    return shown.to_html(index=False, escape=True, border=0)


def _page(title: str, sections: list[tuple[str, str]]) -> str:
    body = "\n".join(
        f'<section id="{html.escape(name.lower().replace(" ", "-"))}"><h2>{html.escape(name)}'
        f"</h2>\n{content}</section>"
        for name, content in sections
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>\n{body}</body></html>"
    )


def _write(folder: Path, title: str, sections: list[tuple[str, str]]) -> Path:
    text = _page(title, sections)
    return atomic_write(folder / "report.html", lambda p: p.write_text(text, encoding="utf-8"))


# ----------------------------------------------------------------------- glossary


def glossary_html(tables: dict[str, Iterable[str]]) -> str:
    """Every KPI, the units by good and every column of ``tables`` (name -> columns)."""
    rows = pd.DataFrame(glossary_rows(tables), columns=["where", "name", "meaning"])
    return _table(rows)


# ----------------------------------------------------------------------- scenarios


def shocks_table(data: dict) -> pd.DataFrame:
    """A scenario's shocks (plain data) as a table with their ticks and dates."""
    meta = data.get("meta", {})
    year, per = meta.get("start_year", 2025), meta.get("ticks_per_year", 4)

    def date(t: int) -> str:
        return f"{year + t // per}Q{t % per + 1}"

    rows = []
    for s in data.get("shocks", []):
        where = s.get("target") or (
            f"{s.get('from_region') or 'any'} -> {s.get('to_region') or 'any'}"
            if s.get("from_region") or s.get("to_region") else "all"
        )  # fmt: skip
        rows.append({"kind": s["kind"], "ticks": f"{s['start']}-{s['end'] - 1}",
                     "dates": f"{date(s['start'])}..{date(s['end'] - 1)}", "where": where,
                     "goods": ", ".join(s.get("goods", ())) or "all",
                     "factor": s.get("factor")})  # fmt: skip
    return pd.DataFrame(rows)


def _flat(data, prefix: str = "") -> dict[str, object]:
    """Plain data as dotted paths (lists of named entries by name, as in sweeps)."""
    out: dict[str, object] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
        for i, x in enumerate(data):
            key = x.get("name", i)
            out.update(_flat(x, f"{prefix}[{key}]"))
    else:
        out[prefix] = data
    return out


def scenario_html(data: dict) -> str:
    """A scenario's parameters (plain data): meta, shocks, then each section as a table."""
    parts = [_table(pd.DataFrame([data.get("meta", {})]))]
    shocks = shocks_table(data)
    parts.append("<h3>Shocks and policies</h3>"
                 + (_table(shocks) if len(shocks) else "<p>none</p>"))  # fmt: skip
    for key, value in data.items():
        if key in ("meta", "shocks"):
            continue
        if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            df = pd.json_normalize(value)
            df = df.map(lambda v: json.dumps(v) if isinstance(v, (list, dict)) else v)
            body = _table(df)
        elif isinstance(value, dict):
            flat = _flat(value)
            body = _table(
                pd.DataFrame(
                    {
                        "parameter": list(flat),
                        "value": [
                            json.dumps(v) if isinstance(v, (list, dict)) else v
                            for v in flat.values()
                        ],
                    }
                )
            )
        elif isinstance(value, list):
            body = f"<p>{len(value)} entries</p>" if value else "<p>none</p>"
        else:
            body = f"<p>{html.escape(str(value))}</p>"
        parts.append(f"<details><summary>{html.escape(key)}</summary>{body}</details>")
    return "\n".join(parts)


def changes_table(base: dict, policy: dict) -> pd.DataFrame:
    """Parameters where ``policy`` differs from ``base`` (dotted paths), shocks apart."""
    a = _flat({k: v for k, v in base.items() if k not in ("meta", "shocks")})
    b = _flat({k: v for k, v in policy.items() if k not in ("meta", "shocks")})
    rows = [{"parameter": k, "base": json.dumps(a.get(k)), "policy": json.dumps(b.get(k))}
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]  # fmt: skip
    return pd.DataFrame(rows, columns=["parameter", "base", "policy"])


# ----------------------------------------------------------------------- a run


def run_report(folder: Path) -> Path:
    """report.html (and the PNGs) for a run folder written by ``aimarket run``."""
    folder = Path(folder)
    tables, manifest = read_run(folder)
    name = manifest.get("scenario", folder.name)
    seeds = manifest.get("seeds", [manifest.get("seed", 0)])
    series = headline(tables)
    drawn = plot_run(tables, folder, title=name, series=series)
    sections = [("Summary", f"<pre>{html.escape(summary(tables, series=series))}</pre>")]
    for section, patterns in RUN_SECTIONS.items():
        # Only the plots just drawn: a reused folder may hold older ones.
        images = [p for pat in patterns for p in drawn if p.match(pat)]
        if not images:
            continue
        if section == "Supply network" and len(seeds) > 1:
            images_html = f"<p>seed {seeds[0]}</p>" + "\n".join(_img(p) for p in images)
        else:
            images_html = "\n".join(_img(p) for p in images)
        sections.append((section, images_html))
    shocks = sorted({s for s in tables["ticks"]["shocks"] if s})
    sections.append(("Shocks and policies", "<p>" + (html.escape(", ".join(shocks)) or "none")
                     + " (shaded on every time plot)</p>"))  # fmt: skip
    if (folder / "scenario.json").exists():
        sections.append(("Scenario", scenario_html(read_json(folder / "scenario.json"))))
    sections.append(("Glossary", glossary_html({t: list(c) for t, c in tables.items()})))
    sections.append(("Manifest", f"<pre>{html.escape(json.dumps(manifest, indent=2))}</pre>"))
    which = f"seed {seeds[0]}" if len(seeds) == 1 else f"{len(seeds)} seeds"
    return _write(folder, f"aimarket run: {name}, {which}", sections)


# ----------------------------------------------------------------------- studies


def _whatif_sections(folder: Path) -> list[tuple[str, str]]:
    from experiments.studies.whatif import BASE, format_whatif

    diffs = read_frame(folder / "whatif.parquet")
    if "window" not in diffs.columns:  # a folder from before windows
        diffs = diffs.assign(window="run", ticks="all")
    manifest = read_json(folder / "manifest.json") if (folder / "manifest.json").exists() else {}
    sections: list[tuple[str, str]] = []
    notes = manifest.get("warnings", [])
    if notes:
        sections.append(("Warnings", "".join(f'<p class="warn">{html.escape(w)}</p>'
                                             for w in notes)))  # fmt: skip
    headline_kpis = ~diffs["kpi"].str.contains(r"\[", regex=True)
    for win, title in (("run", "over the run"), ("shock", "over the shock window"),
                       ("after", "after the shock window")):  # fmt: skip
        rows = diffs[(diffs["window"] == win) & headline_kpis]
        if len(rows):
            png = plot_forest(
                rows,
                folder,
                suffix="" if win == "run" else f"_{win}",
                title=f"What-if {title}: policy minus baseline on paired seeds",
            )
            sections.append((f"Policy differences {title}", _img(png)))
    if (folder / "series_diff.parquet").exists():
        sd = read_frame(folder / "series_diff.parquet")
        windows = manifest.get("windows", {})
        imgs = []
        for policy, block in sd.groupby("policy", sort=False):
            keep = _diff_series(block)
            if not len(keep):
                continue
            span = windows.get(policy, {}).get("shock")
            ticks = _ticks_table(block, span)
            path = folder / f"diff_{policy}.png"
            imgs.append(_img(plot_fans(keep, path, f"{policy} minus {BASE}", ticks, zero=True)))
        if imgs:
            sections.append(("Differences over time (policy - base, per seed)", "\n".join(imgs)))
    detail = diffs[~headline_kpis]
    if len(detail):
        cols = ["policy", "kpi", "window", "ticks", "unit", "base_mean", "policy_mean",
                "diff_mean", "ci_low", "ci_high", "significant"]  # fmt: skip
        sections.append(("Per region and per lab", _table(detail[cols])))
    sections.append(("Table", f"<pre>{html.escape(format_whatif(diffs))}</pre>"))
    scen = folder / "scenarios"
    if scen.is_dir() and (scen / f"{BASE}.json").exists():
        base = read_json(scen / f"{BASE}.json")
        parts = ["<h3>Baseline</h3>", scenario_html(base)]
        for path in sorted(scen.glob("*.json")):
            if path.stem == BASE:
                continue
            pol = read_json(path)
            shocks = shocks_table(pol)
            changes = changes_table(base, pol)
            parts.append(f"<h3>{html.escape(path.stem)}</h3><p>shocks and policies:</p>"
                         + (_table(shocks) if len(shocks) else "<p>none</p>")
                         + "<p>parameters that differ from the baseline:</p>"
                         + (_table(changes) if len(changes) else "<p>none</p>"))  # fmt: skip
        sections.append(("Scenarios", "\n".join(parts)))
    return sections


def _diff_series(block: pd.DataFrame) -> pd.DataFrame:
    """The series a difference fan chart shows: prices, unmet demand and share, exposure
    to Taiwan, compute by region, and rents when the policy creates any."""
    names = list(dict.fromkeys(block["series"]))
    heads = ("price ", "unmet", "labs' exposure", "compute received by region")
    keep = [n for n in names if n.startswith(heads)]
    for rent in ("tariff revenue ($)", "quota rent ($)"):
        if (block.loc[block["series"] == rent, "value"].abs() > 0).any():
            keep.append(rent)
    return block[block["series"].isin(keep)]


def _ticks_table(block: pd.DataFrame, span) -> dict:
    ticks = block.drop_duplicates("tick").sort_values("tick")
    shocks = ["shock" if span and span[0] <= t < span[1] else "" for t in ticks["tick"]]
    return {"ticks": {"tick": ticks["tick"].tolist(), "date": ticks["date"].tolist(),
                      "shocks": shocks}}  # fmt: skip


def _sweep_sections(folder: Path) -> list[tuple[str, str]]:
    from experiments.engine import collect
    from experiments.studies.sweep import input_output_sensitivity, summarise

    runs = collect(folder)
    if not len(runs):
        return []
    sections = [("KPI distributions", _img(plot_distributions(runs, folder)))]
    scatter = plot_scatter(runs, folder)
    if scatter is not None:
        sens = input_output_sensitivity(runs)
        sections.append(("Inputs versus outputs", _img(scatter)))
        sections.append((
            "Sensitivity of each output",
            "<p>Spearman rank correlation of each input with each output (monotone "
            "effects), and standardised regression coefficients (SRC: the change of the "
            "output, in its standard deviations, per standard deviation of the input, "
            "from a linear fit; R<sup>2</sup> says how much of the output the fit "
            "explains).</p>" + _table(sens),
        ))  # fmt: skip
    sections.append(("Runs", f"<pre>{html.escape(summarise(runs))}</pre>"))
    return sections


def _backtest_sections(folder: Path) -> list[tuple[str, str]]:
    """The backtest's metrics, the issue's targets and one plot per series."""
    from experiments.studies.backtest import SERIES, format_metrics

    metrics = read_frame(folder / "metrics.parquet")
    sections = [(
        "Backtest against history",
        "<p>Each historical point (data/history/, see data/README.md) against the model's "
        "median over seeds for the same period. In-sample: 2023Q1-2024Q4; out-of-sample: "
        "2025Q1 on. Error: MAPE, mean |log ratio| (lead times) or mean absolute error in "
        "points (shares); corr: Pearson correlation; sign: share of period-to-period "
        "changes of the right sign.</p>" + f"<pre>{html.escape(format_metrics(metrics))}</pre>"
        + _table(metrics),
    )]  # fmt: skip
    if (folder / "targets.csv").exists():
        sections.append(("Targets (issue 9)", _table(pd.read_csv(folder / "targets.csv"))))
    imgs = [folder / f"backtest_{s.name}.png" for s in SERIES]
    sections.append(("Series", "\n".join(_img(p) for p in imgs if p.exists())))
    return sections


def study_report(folder: Path) -> Path:
    """report.html for a sweep, sensitivity, what-if or backtest folder."""
    folder = Path(folder)
    sections: list[tuple[str, str]] = []
    backtest = (folder / "metrics.parquet").exists()
    if backtest:
        sections += _backtest_sections(folder)
    if (folder / "whatif.parquet").exists():
        sections += _whatif_sections(folder)
    if (folder / "sensitivity.parquet").exists():
        from experiments.studies.sensitivity import format_sensitivity

        indices = read_frame(folder / "sensitivity.parquet")
        pngs = plot_sensitivity(indices, folder)
        sections.append(("Sensitivity indices", "\n".join(_img(Path(p)) for p in pngs)))
        sections.append(("Indices", f"<pre>{html.escape(format_sensitivity(indices))}</pre>"))
    if (folder / "parts").is_dir() and not (folder / "whatif.parquet").exists() and not backtest:
        sections += _sweep_sections(folder)
    tables: dict[str, list[str]] = {}
    for name in ("whatif", "series", "series_diff", "metrics", "points"):
        if (folder / f"{name}.parquet").exists():
            tables[name] = list(read_frame(folder / f"{name}.parquet").columns)
    sections.append(("Glossary", glossary_html(tables)))
    if (folder / "manifest.json").exists():
        manifest = json.dumps(read_json(folder / "manifest.json"), indent=2, sort_keys=True)
        sections.append(("Manifest", f"<pre>{html.escape(manifest)}</pre>"))
    return _write(folder, f"aimarket study: {folder.name}", sections)


def build_report(folder: str | Path) -> Path:
    """Build ``report.html`` in ``folder`` from the results saved there."""
    folder = Path(folder)
    if (folder / "ticks.parquet").exists():
        return run_report(folder)
    if any((folder / f).exists() for f in ("parts", "whatif.parquet", "sensitivity.parquet")):
        return study_report(folder)
    raise FileNotFoundError(
        f"{folder}: no results found (expected a run's ticks.parquet, or a sweep's parts/, "
        "or whatif.parquet / sensitivity.parquet); give the --out folder of a run or study"
    )
