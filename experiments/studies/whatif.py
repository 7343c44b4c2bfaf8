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
``resume=True``, and results do not depend on the number of workers. The
summary is written as ``out/whatif.parquet`` and ``out/whatif.csv``.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from scipy import stats

from experiments.engine import Task, execute
from experiments.kpis import KPIS
from experiments.outputs.files import write_frame
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
"""The KPIs a what-if study keeps by default (units in ``experiments.kpis.KPIS``)."""

COLUMNS = ("policy", "kpi", "unit", "n", "base_mean", "policy_mean", "diff_mean", "diff_sd",
           "ci_low", "ci_high", "significant")  # fmt: skip
"""The columns of a what-if summary, in order."""

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


def summarise(runs: pd.DataFrame, policies: list[str], outputs: tuple[str, ...]) -> pd.DataFrame:
    """Paired per-seed differences ``policy - base`` of each KPI, from the runs of a study.

    ``runs`` is what ``engine.execute`` returns (columns ``param:scenario``,
    ``replicate``, ``status``, ``out:<kpi>``). A seed counts for a (policy, KPI)
    only if both the baseline and the policy run finished and the KPI is not NaN
    in both (pairwise exclusion); ``n`` is the number of seeds that count. The
    95% interval is Student's t with ``n - 1`` degrees of freedom (NaN for
    ``n < 2``); ``significant`` is True when the interval excludes 0.
    """
    done = runs[runs["status"] == "done"] if len(runs) else runs
    t_crit = {}
    rows = []
    for label in policies:
        for kpi in outputs:
            col = f"out:{kpi}"

            def values(lab: str, col: str = col) -> pd.Series:
                if col not in done.columns or not len(done):
                    return pd.Series(dtype=float)
                sel = done[done["param:scenario"] == lab]
                return sel.set_index("replicate")[col].astype(float)

            pair = pd.concat({"base": values(BASE), "policy": values(label)}, axis=1).dropna()
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
                "unit": KPIS.get(kpi, ""),
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


def whatif(
    base: str | os.PathLike[str],
    policies: list[str | os.PathLike[str]],
    seeds: int = 8,
    out: str | os.PathLike[str] | None = None,
    workers: int = 0,
    scheduler: str | None = None,
    ticks: int | None = None,
    outputs: tuple[str, ...] = MAIN_KPIS,
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
        KPI names (``experiments.kpis.KPIS``; units there).
    root_seed:
        Root of the per-replication seeds (``experiments.samplers.replication_seeds``).

    Returns
    -------
    pandas.DataFrame
        Columns ``COLUMNS``: base_mean and policy_mean over the paired seeds,
        diff_mean and diff_sd of ``policy - base`` (KPI units), n, the 95% t
        interval ci_low..ci_high and ``significant``. ``df.attrs["out"]`` is the
        output folder.

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
        if name not in KPIS:
            raise ScenarioError(
                "whatif", [f"outputs[{i}]: unknown KPI {name!r}; known KPIs: {', '.join(KPIS)}"]
            )
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
    tasks = [
        Task(f"{i:03d}-{lab}-r{r:03d}", i, r, seed, {"scenario": lab})
        for i, lab in enumerate(order)
        for r, seed in enumerate(run_seeds)
    ]
    runner = MarketRunner({lab: loaded[lab].model_dump(mode="python") for lab in order},
                          tuple(outputs), ticks)  # fmt: skip
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="aimarket-whatif-"))
    identity = {
        "study": "whatif",
        "scenarios": {lab: scenario_hash(loaded[lab]) for lab in order},
        "seeds": run_seeds,
        "root_seed": root_seed,
        "ticks": ticks,
        "outputs": list(outputs),
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
    }
    runs = execute(tasks, runner, folder, workers, scheduler, resume, progress,
                   manifest=manifest, identity=identity)  # fmt: skip
    summary = summarise(runs, labels, tuple(outputs))
    write_frame(summary, folder / "whatif.parquet")
    write_frame(summary, folder / "whatif.csv")
    summary.attrs["out"] = os.fspath(folder)
    return summary


def format_whatif(df: pd.DataFrame) -> str:
    """A plain-text table of a what-if summary, one block per policy (for the terminal).

    ``*`` marks a difference whose 95% interval excludes 0; ``%`` is the mean
    difference relative to the baseline mean.
    """
    if df.empty:
        return "(no results)"
    lines: list[str] = []
    for policy, block in df.groupby("policy", sort=False):
        base = block["base_mean"].where(block["base_mean"].abs() > 0)
        pct = 100 * block["diff_mean"] / base.abs()
        table = pd.DataFrame({
            "kpi": block["kpi"],
            "base": block["base_mean"],
            "policy": block["policy_mean"],
            "diff": block["diff_mean"],
            "%": [("-" if math.isnan(p) else f"{p:+.1f}") for p in pct],
            "95% CI": [f"[{number(lo)}, {number(hi)}]"
                       for lo, hi in zip(block["ci_low"], block["ci_high"])],
            "n": block["n"].astype(str),
            "": ["*" if s else "" for s in block["significant"]],
        })  # fmt: skip
        lines.append(f"{policy} vs {BASE}  (policy - base, paired by seed)")
        lines.append(text_table(table.reset_index(drop=True), left=["kpi"]))
        lines.append("")
    lines.append("* 95% t interval excludes 0; units per KPI in experiments/kpis.py")
    return "\n".join(lines)


__all__ = ["BASE", "COLUMNS", "MAIN_KPIS", "format_whatif", "parse_policy", "summarise",
           "whatif"]  # fmt: skip
