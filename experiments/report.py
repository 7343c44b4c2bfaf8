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
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from experiments.plots import plot_run  # noqa: E402
from experiments.runs import read_run, summary  # noqa: E402

RUN_SECTIONS = {
    "Prices": ["prices.png"],
    "Quantities and unmet demand": ["demand.png"],
    "Contracts and concentration": ["lockin.png"],
    "Capacity, utilisation and exposure": ["capacity.png"],
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
    plot_run(tables, folder, title=name)
    sections = [("Summary", f"<pre>{html.escape(summary(tables))}</pre>")]
    for section, patterns in RUN_SECTIONS.items():
        images = [p for pat in patterns for p in sorted(folder.glob(pat))]
        sections.append((section, "\n".join(_img(p) for p in images)))
    shocks = sorted({s for s in tables["ticks"]["shocks"] if s})
    sections.append(("Shocks and policies", "<p>" + (html.escape(", ".join(shocks)) or "none")
                     + " (shaded on every time plot)</p>"))  # fmt: skip
    sections.append(("Manifest", f"<pre>{html.escape(json.dumps(manifest, indent=2))}</pre>"))
    return _write(folder, f"aimarket run: {name}, seed {manifest.get('seed')}", sections)


def _write(folder: Path, title: str, sections: list[tuple[str, str]]) -> Path:
    path = folder / "report.html"
    path.write_text(_page(title, sections), encoding="utf-8")
    return path


def plot_distributions(runs: pd.DataFrame, out: Path) -> Path:
    """Histograms of every KPI over a sweep's finished runs."""
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
    fig.tight_layout()
    path = out / "kpi_distributions.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_forest(diffs: pd.DataFrame, out: Path) -> Path:
    """Forest plot: each policy's KPI difference vs baseline (% of the base mean), 95% CI."""
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
    fig.tight_layout()
    path = out / "whatif_forest.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def study_report(folder: Path) -> Path:
    """report.html for a sweep, sensitivity or what-if folder."""
    sections: list[tuple[str, str]] = []
    if (folder / "whatif.parquet").exists():
        from experiments.whatif import format_whatif

        diffs = pd.read_parquet(folder / "whatif.parquet")
        sections.append(("Policy differences", _img(plot_forest(diffs, folder))))
        sections.append(("Table", f"<pre>{html.escape(format_whatif(diffs))}</pre>"))
    if (folder / "sensitivity.parquet").exists():
        from experiments.sensitivity import format_sensitivity, plot_sensitivity

        indices = pd.read_parquet(folder / "sensitivity.parquet")
        pngs = plot_sensitivity(indices, folder)
        sections.append(("Sensitivity indices", "\n".join(_img(Path(p)) for p in pngs)))
        sections.append(("Indices", f"<pre>{html.escape(format_sensitivity(indices))}</pre>"))
    if (folder / "parts").is_dir():
        from experiments.sweep import collect, summarise

        runs = collect(folder)
        if len(runs):
            sections.append(("KPI distributions", _img(plot_distributions(runs, folder))))
            sections.append(("Runs", f"<pre>{html.escape(summarise(runs))}</pre>"))
    manifest = folder / "manifest.json"
    if manifest.exists():
        sections.append(("Manifest", f"<pre>{html.escape(manifest.read_text())}</pre>"))
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
