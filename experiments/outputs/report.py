"""Self-contained HTML reports of a run, a sweep or a what-if folder (plots embedded).

``build_report(folder)`` looks at what the folder holds:

- a run (``ticks.parquet``): the summary table, then sections on prices,
  demand and unmet demand, contracts and concentration, capacity, utilisation
  and exposure, the supply network at chosen ticks, and the run's manifest;
- a sweep (``parts/``): KPI distributions over the runs, and the sensitivity
  indices when ``sensitivity.parquet`` is there;
- a what-if study (``whatif.parquet``): forest plots of each policy's KPI
  differences against the baseline with their 95% intervals, and the table.

Every image is a PNG embedded as a data URI, so ``report.html`` can be mailed.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from experiments.outputs.files import atomic_write, read_frame, read_json
from experiments.outputs.plots import plot_distributions, plot_forest, plot_run, plot_sensitivity
from experiments.outputs.tables import read_run, summary

RUN_SECTIONS = {
    "Prices": ["prices.png"],
    "Quantities and unmet demand": ["demand.png"],
    "Contracts and concentration": ["lockin.png"],
    "Capacity per agent and good": ["capacity.png"],
    "Dependency on regions": ["exposure.png"],
    "Supply network": ["network_t*.png"],
}

STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-top:.5em}img{max-width:100%}
pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:.85em}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:2px 6px}"""


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


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


def run_report(folder: Path) -> Path:
    """report.html (and the PNGs) for a run folder written by ``aimarket run``."""
    tables, manifest = read_run(folder)
    name = manifest.get("scenario", folder.name)
    drawn = plot_run(tables, folder, title=name)
    sections = [("Summary", f"<pre>{html.escape(summary(tables))}</pre>")]
    for section, patterns in RUN_SECTIONS.items():
        # Only the plots just drawn: a reused folder may hold older ones.
        images = [p for pat in patterns for p in drawn if p.match(pat)]
        sections.append((section, "\n".join(_img(p) for p in images)))
    shocks = sorted({s for s in tables["ticks"]["shocks"] if s})
    sections.append(("Shocks and policies", "<p>" + (html.escape(", ".join(shocks)) or "none")
                     + " (shaded on every time plot)</p>"))  # fmt: skip
    sections.append(("Manifest", f"<pre>{html.escape(json.dumps(manifest, indent=2))}</pre>"))
    return _write(folder, f"aimarket run: {name}, seed {manifest.get('seed')}", sections)


def _write(folder: Path, title: str, sections: list[tuple[str, str]]) -> Path:
    text = _page(title, sections)
    return atomic_write(folder / "report.html", lambda p: p.write_text(text, encoding="utf-8"))


def study_report(folder: Path) -> Path:
    """report.html for a sweep, sensitivity or what-if folder."""
    sections: list[tuple[str, str]] = []
    if (folder / "whatif.parquet").exists():
        from experiments.studies.whatif import format_whatif

        diffs = read_frame(folder / "whatif.parquet")
        sections.append(("Policy differences", _img(plot_forest(diffs, folder))))
        sections.append(("Table", f"<pre>{html.escape(format_whatif(diffs))}</pre>"))
    if (folder / "sensitivity.parquet").exists():
        from experiments.studies.sensitivity import format_sensitivity

        indices = read_frame(folder / "sensitivity.parquet")
        pngs = plot_sensitivity(indices, folder)
        sections.append(("Sensitivity indices", "\n".join(_img(Path(p)) for p in pngs)))
        sections.append(("Indices", f"<pre>{html.escape(format_sensitivity(indices))}</pre>"))
    if (folder / "parts").is_dir():
        from experiments.engine import collect
        from experiments.studies.sweep import summarise

        runs = collect(folder)
        if len(runs):
            sections.append(("KPI distributions", _img(plot_distributions(runs, folder))))
            sections.append(("Runs", f"<pre>{html.escape(summarise(runs))}</pre>"))
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
