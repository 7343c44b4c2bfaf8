"""What-if studies: a baseline and policy scenarios on common random numbers, paired KPI diffs.

Each policy file is a full scenario (like ``scenarios/taiwan_outage.toml``); a
policy may also be the baseline with overrides by dotted path, without a file
(``overrides={"slow_openai": {"labs[OpenAI].training_growth": 0.5}}``, the CLI's
``--policy slow_openai:labs[OpenAI].training_growth=0.5``). The
baseline and every policy run on the SAME seeds, so the noise a seed draws
(demand shocks, agent order) is shared and cancels in the per-seed difference
``policy - base``; the summary is a paired comparison::

    df = whatif("scenarios/baseline.toml", ["scenarios/taiwan_outage.toml"], seeds=8)
    print(format_whatif(df))

All runs go through the study engine (``experiments.engine.execute``): each run is
written as it finishes under ``out/parts/``, a killed study resumes with
``resume=True``, and results do not depend on the number of workers.

For a policy reader, each KPI is compared over three windows: the whole run, the
policy's shock window (from the first tick a shock the baseline lacks starts to the
last it ends) and the ticks after it; besides the headline KPIs, per-lab and
per-region compute received and unmet share, and the tariff revenue and quota rents
a policy creates (computed from flows and node prices, see ``experiments.kpis``).
A shock outside the ticks run is warned about (``ShockWindowWarning``).

Written into ``out``: the summary ``whatif.parquet``/``.csv`` (one row per policy,
KPI and window); every run's per-tick series ``series.parquet`` (scenario,
replicate, seed, tick, date, series, value) and the paired differences
``series_diff.parquet`` (policy - base per seed); ``scenarios/<label>.json``; and
``report.html`` with fan charts of the differences over time.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import tomllib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from scipy import stats

from experiments.engine import Task, collect_series, execute
from experiments.kpis import is_kpi, unit
from experiments.outputs.files import write_frame, write_json
from experiments.outputs.format import number, text_table
from experiments.samplers import replication_seeds
from experiments.scenarios import ScenarioError, load_scenario, scenario_hash, with_overrides
from experiments.studies.run import MarketRunner

BASE = "base"
"""The label of the baseline scenario in runs and in the runner."""

MAIN_KPIS: tuple[str, ...] = (
    "price_accelerator",
    "price_compute",
    "unmet_share",
    "contract_coverage",
    "hhi_cowos",
    "hhi_accelerator",
    "exposure_tw",
    "welfare",
)
"""The headline KPIs of a what-if study (units in ``experiments.kpis.KPIS``)."""

DETAIL_KPIS: tuple[str, ...] = (
    "tariff_revenue",
    "quota_rent",
    "energy",
    "emissions",
    "carbon_paid",
    "clean_paid",
    "write_downs",
    "price_hbm",
    "price_dram",
    "hbm_wafer_share",
    "region_compute_received[*]",
    "region_unmet_share[*]",
    "compute_received[*]",
    "realised_loss",
    "spv_defaults",
    "risk_loss[*]",
    "risk_loss_by_source[*]",
)
"""Rents, energy, emissions, carbon price and clean energy paid, stock written off, the
memory tier's prices and wafer split (ODD 7.12), and KPIs per region and per lab, which a
what-if study also keeps by default."""

WINDOWS = ("run", "shock", "after")
"""The windows each KPI is compared over: the whole run, the policy's shock window,
and the ticks after it."""

COLUMNS = ("policy", "kpi", "window", "ticks", "unit", "n", "base_mean", "policy_mean",
           "diff_mean", "diff_sd", "ci_low", "ci_high", "significant")  # fmt: skip
"""The columns of a what-if summary, in order."""


class ShockWindowWarning(UserWarning):
    """A policy's shock falls (partly) outside the ticks run."""


CONFIDENCE = 0.95


POLICY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
"""What a policy given by overrides may be called (it names runs and files)."""


def parse_policy(text: str) -> tuple[str, str, Any]:
    """``NAME:PATH=VALUE`` as ``(name, path, value)``; VALUE is read as a TOML value
    (``0.5``, ``true``, ``"CN"``, ``[1, 2]``), else taken as a plain string.

    Raises ``ValueError`` saying the expected form.
    """
    name, sep, rest = text.partition(":")
    path, eq, raw = rest.partition("=")
    name, path, raw = name.strip(), path.strip(), raw.strip()
    if not (sep and eq and name and path and raw):
        raise ValueError(f"{text!r}: expected NAME:PATH=VALUE, e.g. "
                         "slow_openai:labs[OpenAI].training_growth=0.5")  # fmt: skip
    if not POLICY_NAME.match(name) or name == BASE:
        raise ValueError(f"{text!r}: the policy name {name!r} must be letters, digits, '_', "
                         f"'-' or '.', and not {BASE!r}")  # fmt: skip
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return name, path, value


def _labels(policies: list[Path]) -> list[str]:
    labels: list[str] = []
    for p in policies:
        label = p.stem
        if label == BASE or label in labels:
            raise ScenarioError(
                os.fspath(p),
                [f"file name: the label {label!r} (the file's stem) is already used "
                 f"({'by the baseline' if label == BASE else 'by another policy'}); "
                 "rename the file"],
            )  # fmt: skip
        labels.append(label)
    return labels


def _kpi_columns(done: pd.DataFrame, outputs: tuple[str, ...]) -> list[str]:
    """The KPIs (run window) in ``done``'s columns that ``outputs`` names, in order."""
    cols = [c[4:] for c in done.columns if c.startswith("out:") and "@" not in c]
    out: list[str] = []
    for name in outputs:
        if name.endswith("[*]"):
            out += [c for c in cols if c.startswith(name[:-2]) and c not in out]
        elif name not in out:
            out.append(name)
    return out


def summarise(
    runs: pd.DataFrame,
    policies: list[str],
    outputs: tuple[str, ...],
    windows: Mapping[str, Mapping[str, tuple[int, int]]] | None = None,
) -> pd.DataFrame:
    """Paired per-seed differences ``policy - base`` of each KPI, from the runs of a study.

    ``runs`` is what ``engine.execute`` returns (columns ``param:scenario``,
    ``replicate``, ``status``, ``out:<kpi>`` and ``out:<kpi>@<window>``). ``windows``
    maps a policy to its windows besides the run (``{"shock": (8, 13), "after": (13,
    20)}``, ticks ``start <= t < end``), read from ``out:<kpi>@<window>:<policy>``.
    A seed counts for a (policy, KPI, window) only if both the baseline and the
    policy run finished and the KPI is not NaN in both (pairwise exclusion); ``n`` is
    the number of seeds that count. The 95% interval is Student's t with ``n - 1``
    degrees of freedom (NaN for ``n < 2``); ``significant`` is True when the
    interval excludes 0.
    """
    done = runs[runs["status"] == "done"] if len(runs) else runs
    windows = windows or {}
    kpis = _kpi_columns(done, outputs) if len(done) else list(outputs)
    t_crit = {}
    rows = []
    for label in policies:
        spans = {"run": None, **{w: windows.get(label, {}).get(w) for w in WINDOWS[1:]}}
        for kpi in kpis:
            for win, span in spans.items():
                if win != "run" and span is None:
                    continue
                col = f"out:{kpi}" if win == "run" else f"out:{kpi}@{win}:{label}"

                def values(lab: str, col: str = col) -> pd.Series:
                    if col not in done.columns or not len(done):
                        return pd.Series(dtype=float)
                    sel = done[done["param:scenario"] == lab]
                    return sel.set_index("replicate")[col].astype(float)

                pair = pd.concat({"base": values(BASE), "policy": values(label)},
                                 axis=1).dropna()  # fmt: skip
                diff = (pair["policy"] - pair["base"]).to_numpy()
                n = len(diff)
                mean = float(diff.mean()) if n else math.nan
                sd = float(diff.std(ddof=1)) if n > 1 else math.nan
                if n > 1:
                    if n not in t_crit:
                        t_crit[n] = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1))
                    half = t_crit[n] * sd / math.sqrt(n)
                    low, high = mean - half, mean + half
                else:
                    low = high = math.nan
                rows.append({
                    "policy": label,
                    "kpi": kpi,
                    "window": win,
                    "ticks": "all" if span is None else f"{span[0]}-{span[1] - 1}",
                    "unit": unit(kpi),
                    "n": n,
                    "base_mean": float(pair["base"].mean()) if n else math.nan,
                    "policy_mean": float(pair["policy"].mean()) if n else math.nan,
                    "diff_mean": mean,
                    "diff_sd": sd,
                    "ci_low": low,
                    "ci_high": high,
                    "significant": bool(low > 0 or high < 0),  # False when NaN
                })  # fmt: skip
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype({"n": int, "significant": bool})


def shock_windows(base, policy, ticks: int, label: str) -> dict[str, tuple[int, int]]:
    """A policy's shock and after windows (ticks ``start <= t < end``) within ``ticks``
    run: from the first start to the last end of the shocks the baseline lacks. Warns
    (``ShockWindowWarning``) when they fall outside the ticks run."""
    known = [s.model_dump() for s in base.shocks]
    new = [s for s in policy.shocks if s.model_dump() not in known]
    if not new:
        return {}
    start, end = min(s.start for s in new), max(s.end for s in new)
    if start >= ticks:
        warnings.warn(
            f"policy {label!r}: its shocks start at tick {start}, after the {ticks} ticks "
            f"run, so they have no effect in these results; run at least {end} ticks "
            "(--ticks)", ShockWindowWarning, stacklevel=3)  # fmt: skip
        return {}
    if end > ticks:
        warnings.warn(
            f"policy {label!r}: its shocks last until tick {end - 1}, past the {ticks} "
            f"ticks run; the shock window is cut to ticks {start}-{ticks - 1} and there "
            f"is no window after it; run at least {end + 1} ticks (--ticks)",
            ShockWindowWarning, stacklevel=3)  # fmt: skip
        return {"shock": (start, ticks)}
    out = {"shock": (start, end)}
    if end < ticks:
        out["after"] = (end, ticks)
    return out


def series_differences(series: pd.DataFrame, policies: list[str]) -> pd.DataFrame:
    """Paired differences ``policy - base`` of every per-tick series, per seed: columns
    policy, replicate, seed, tick, date, series, value (NaN where either is missing)."""
    if series.empty:
        return series
    key = ["replicate", "seed", "tick", "date", "series"]
    base = series[series["scenario"] == BASE].set_index(key)["value"]
    out = []
    for label in policies:
        pol = series[series["scenario"] == label].set_index(key)["value"]
        diff = (pol - base.reindex(pol.index)).rename("value").reset_index()
        diff.insert(0, "policy", label)
        out.append(diff)
    return pd.concat(out, ignore_index=True)


def whatif(
    base: str | os.PathLike[str],
    policies: list[str | os.PathLike[str]],
    seeds: int = 8,
    out: str | os.PathLike[str] | None = None,
    workers: int = 0,
    scheduler: str | None = None,
    ticks: int | None = None,
    outputs: tuple[str, ...] = MAIN_KPIS + DETAIL_KPIS,
    root_seed: int = 0,
    progress: bool = True,
    resume: bool = False,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Run the baseline and each policy scenario on common seeds; one row per (policy, KPI).

    Parameters
    ----------
    base, policies:
        Scenario TOML files. A policy is labelled by its file's stem.
    overrides:
        More policies without a file: ``{name: {dotted path: value}}``, each the
        baseline with those values replaced (paths as in sweeps).
    seeds:
        Replications; scenario ``s`` and the baseline share seed ``i`` in run ``i``.
    out:
        Folder for the runs (``parts/``, ``runs.jsonl``, ``manifest.json``) and the
        summary (``whatif.parquet``, ``whatif.csv``); default a new temporary folder.
    workers, scheduler, resume, progress:
        As ``experiments.engine.execute`` (0 workers and no scheduler: in process).
    ticks:
        Ticks per run (quarters); default each scenario's horizon.
    outputs:
        KPI names (``experiments.kpis.KPIS``, or a family such as
        ``compute_received[*]``; units there).
    root_seed:
        Root of the per-replication seeds (``experiments.samplers.replication_seeds``).

    Returns
    -------
    pandas.DataFrame
        Columns ``COLUMNS``, one row per policy, KPI and window ("run", and
        "shock" and "after" for a policy with shocks the baseline lacks):
        base_mean and policy_mean over the paired seeds, diff_mean and diff_sd of
        ``policy - base`` (KPI units), n, the 95% t interval ci_low..ci_high and
        ``significant``. ``df.attrs["out"]`` is the output folder,
        ``df.attrs["warnings"]`` the warnings given.

    Raises
    ------
    ScenarioError
        A scenario file is missing or invalid, two policies share a label, an
        override path does not exist or gives an invalid scenario, an output is
        not a KPI, or ``ticks`` exceeds a scenario's horizon.
    """
    overrides = dict(overrides or {})
    if not policies and not overrides:
        raise ScenarioError("whatif", ["policies: give at least one policy scenario file "
                                       "or --policy NAME:PATH=VALUE"])  # fmt: skip
    base_path = Path(base)
    policy_paths = [Path(p) for p in policies]
    labels = _labels(policy_paths)
    for name in overrides:
        taken = name in labels or name == BASE
        if taken or not POLICY_NAME.match(name):
            why = "is already used" if taken else "is not allowed"
            raise ScenarioError(f"--policy {name}", [
                f"name: {name!r} {why}; use letters, digits, '_', '-' or '.', and a name "
                "that no policy file has"])  # fmt: skip
    for i, name in enumerate(outputs):
        if not is_kpi(name):
            raise ScenarioError(
                "whatif", [f"outputs[{i}]: unknown KPI {name!r}; known KPIs: "
                           f"{', '.join(MAIN_KPIS + DETAIL_KPIS)} (see experiments/kpis.py)"]
            )  # fmt: skip
    loaded = {BASE: load_scenario(base_path)}
    loaded.update({lab: load_scenario(p) for lab, p in zip(labels, policy_paths)})
    files = {BASE: base_path, **dict(zip(labels, policy_paths))}
    for name, changes in overrides.items():
        try:
            loaded[name] = with_overrides(loaded[BASE], changes)
        except ScenarioError as exc:
            raise ScenarioError(f"--policy {name} (on {base_path})", exc.problems) from None
        files[name] = base_path
        labels.append(name)
    if ticks is not None:
        for lab, sc in loaded.items():
            if not 1 <= ticks <= sc.meta.horizon:
                raise ScenarioError(
                    os.fspath(files[lab]),
                    [f"meta.horizon: ticks must be between 1 and the horizon "
                     f"({sc.meta.horizon}); got {ticks}"],
                )  # fmt: skip

    run_seeds = replication_seeds(root_seed, seeds)
    order = [BASE, *labels]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ShockWindowWarning)
        windows = {lab: shock_windows(loaded[BASE], loaded[lab],
                                      ticks or loaded[lab].meta.horizon, lab)
                   for lab in labels}  # fmt: skip
    notes = [str(w.message) for w in caught]
    for text in notes:
        warnings.warn(text, ShockWindowWarning, stacklevel=2)
    spans = tuple((f"{w}:{lab}", a, b) for lab in labels for w, (a, b) in windows[lab].items())
    tasks = [
        Task(f"{i:03d}-{lab}-r{r:03d}", i, r, seed, {"scenario": lab})
        for i, lab in enumerate(order)
        for r, seed in enumerate(run_seeds)
    ]
    runner = MarketRunner({lab: loaded[lab].model_dump(mode="python") for lab in order},
                          tuple(outputs), ticks, windows=spans, series=True)  # fmt: skip
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="aimarket-whatif-"))
    identity = {
        "study": "whatif",
        "scenarios": {lab: scenario_hash(loaded[lab]) for lab in order},
        "seeds": run_seeds,
        "root_seed": root_seed,
        "ticks": ticks,
        "outputs": list(outputs),
        "windows": {lab: {w: list(v) for w, v in windows[lab].items()} for lab in labels},
    }
    manifest = {
        **identity,
        "scenarios": {
            lab: {
                "file": os.fspath(files[lab]),
                "hash": scenario_hash(loaded[lab]),
                "overrides": {k: v for k, v in overrides.get(lab, {}).items()},
            }
            for lab in order
        },  # fmt: skip
        "base_hash": scenario_hash(loaded[BASE]),
        "warnings": notes,
    }
    runs = execute(tasks, runner, folder, workers, scheduler, resume, progress,
                   manifest=manifest, identity=identity)  # fmt: skip
    summary = summarise(runs, labels, tuple(outputs), windows)
    write_frame(summary, folder / "whatif.parquet")
    write_frame(summary, folder / "whatif.csv")
    series = _study_series(folder, runs)
    write_frame(series, folder / "series.parquet")
    write_frame(series_differences(series, labels), folder / "series_diff.parquet")
    (folder / "scenarios").mkdir(exist_ok=True)
    for lab in order:
        write_json(folder / "scenarios" / f"{lab}.json", loaded[lab].model_dump(mode="json"))
    from experiments.outputs.report import build_report

    build_report(folder)
    summary.attrs["out"] = os.fspath(folder)
    summary.attrs["warnings"] = notes
    return summary


def _study_series(folder: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """Every finished run's per-tick series with its scenario, replicate and seed."""
    series = collect_series(folder)
    cols = ["scenario", "replicate", "seed", "tick", "date", "series", "value"]
    if series.empty or not len(runs):
        return pd.DataFrame(columns=cols)
    meta = runs[["run", "param:scenario", "replicate", "seed"]].rename(
        columns={"param:scenario": "scenario"})  # fmt: skip
    return series.merge(meta, on="run")[cols]


def format_whatif(df: pd.DataFrame) -> str:
    """A plain-text table of a what-if summary, one block per policy (for the terminal):
    a row per KPI, a column per window with the mean difference, its 95% interval and
    ``*`` when the interval excludes 0; the baseline's mean over the run for scale."""
    if df.empty:
        return "(no results)"
    if "window" not in df.columns:
        df = df.assign(window="run", ticks="all")
    lines: list[str] = []
    for policy, block in df.groupby("policy", sort=False):
        kpis = list(dict.fromkeys(block["kpi"]))
        table = pd.DataFrame({"kpi": kpis})
        run = block[block["window"] == "run"].set_index("kpi")
        table["base (run)"] = [run["base_mean"].get(k, math.nan) for k in kpis]
        for win in WINDOWS:
            part = block[block["window"] == win].set_index("kpi")
            if part.empty:
                continue
            head = f"{win} (ticks {part['ticks'].iloc[0]})" if win != "run" else "run"
            cells = []
            for k in kpis:
                if k not in part.index:
                    cells.append("-")
                    continue
                r = part.loc[k]
                star = " *" if r["significant"] else ""
                cells.append(f"{number(r['diff_mean'])} [{number(r['ci_low'])}, "
                             f"{number(r['ci_high'])}]{star}")  # fmt: skip
            table[f"diff {head}"] = cells
        lines.append(f"{policy} vs {BASE}  (policy - base, paired by seed; "
                     f"n = {int(block['n'].max())} seeds)")  # fmt: skip
        lines.append(text_table(table, left=["kpi"]))
        lines.append("")
    lines.append("diff [95% t interval]; * the interval excludes 0; units per KPI in "
                 "whatif.csv and experiments/kpis.py")  # fmt: skip
    return "\n".join(lines)


__all__ = ["BASE", "COLUMNS", "DETAIL_KPIS", "MAIN_KPIS", "WINDOWS", "ShockWindowWarning",
           "format_whatif", "parse_policy", "series_differences", "shock_windows", "summarise",
           "whatif"]  # fmt: skip
