"""What-if studies (paired by seed) and sensitivity analysis (SALib) through the sweep engine."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from experiments.outputs.plots import plot_sensitivity
from experiments.scenarios import ScenarioError
from experiments.studies.sensitivity import format_sensitivity, sensitivity
from experiments.studies.whatif import (
    MAIN_KPIS,
    ShockWindowWarning,
    format_whatif,
    summarise,
    whatif,
)

SCENARIOS = Path(__file__).parents[2] / "experiments" / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"

# Ishigami (a=7, b=0.1) on [-pi, pi]^3: analytic Sobol indices (Ishigami & Homma 1990).
S1_ISHIGAMI = (0.3139, 0.4424, 0.0)
ST_ISHIGAMI = (0.5576, 0.4424, 0.2437)


def ishigami(params, seed):
    """The Ishigami function as a sweep runner (deterministic: ``seed`` is unused)."""
    x1, x2, x3 = params["x1"], params["x2"], params["x3"]
    return {"y": math.sin(x1) + 7.0 * math.sin(x2) ** 2 + 0.1 * x3**4 * math.sin(x1)}


def ishigami_sweep(folder: Path, sampler: str, samples: int) -> Path:
    """A sweep file with no base scenario (a custom runner): x1..x3 in [-pi, pi], output y."""
    params = "".join(f'[[parameters]]\npath = "x{i}"\nrange = [{-math.pi!r}, {math.pi!r}]\n'
                     for i in (1, 2, 3))  # fmt: skip
    path = folder / f"ishigami_{sampler}.toml"
    path.write_text(
        f'name = "ishigami"\nsampler = "{sampler}"\nsamples = {samples}\nlevels = 4\n'
        f'seeds = 1\noutputs = ["y"]\n{params}'
    )
    return path


def test_sobol_indices_of_ishigami_match_the_analytic_values(tmp_path):
    sweep = ishigami_sweep(tmp_path, "sobol", 1024)
    df = sensitivity(sweep, tmp_path / "sobol", runner=ishigami, progress=False)
    assert list(df["parameter"]) == ["x1", "x2", "x3"]
    assert (df["output"] == "y").all() and (df["method"] == "sobol").all()
    np.testing.assert_allclose(df["S1"], S1_ISHIGAMI, atol=0.05)
    np.testing.assert_allclose(df["ST"], ST_ISHIGAMI, atol=0.05)
    assert (df["S1_conf"] > 0).all() and (df["ST_conf"] > 0).all()
    written = pd.read_parquet(tmp_path / "sobol" / "sensitivity.parquet")
    pd.testing.assert_frame_equal(written, df, check_like=False)
    assert "x1" in format_sensitivity(df) and "ST" in format_sensitivity(df)
    (png,) = plot_sensitivity(df, tmp_path / "sobol")
    assert png.name == "sensitivity-y.png" and png.stat().st_size > 5_000


def test_morris_on_ishigami_finds_the_additive_and_the_interaction_effects(tmp_path):
    sweep = ishigami_sweep(tmp_path, "morris", 20)
    df = sensitivity(sweep, tmp_path / "morris", runner=ishigami, progress=False)
    assert (df["method"] == "morris").all() and len(df) == 3
    df = df.set_index("parameter")
    mu_star, sigma = df["mu_star"], df["sigma"]
    # x2 enters as 7 sin^2(x2): with 4 levels each step jumps 2/3 of the range between
    # sin^2 = 0 and 3/4, so every elementary effect is +-7 * 0.75 / (2/3) = 7.875.
    assert mu_star["x2"] == pytest.approx(7.875, rel=1e-9)
    # x3 acts only through its interaction with x1: the smallest mu*, and a spread of
    # effects (sigma) larger than their mean size.
    assert mu_star["x3"] < mu_star["x1"] and mu_star["x3"] < mu_star["x2"]
    assert sigma["x3"] > mu_star["x3"] > 1.0
    assert abs(df.loc["x3", "mu"]) < 0.5 * mu_star["x3"]


def test_sensitivity_refuses_a_grid_sampler_naming_the_field(tmp_path):
    plan = tmp_path / "grid.toml"
    plan.write_text(
        'name = "g"\nsampler = "grid"\noutputs = ["unmet_share"]\n'
        '[[parameters]]\npath = "x"\nvalues = [1, 2]\n'
    )
    with pytest.raises(ScenarioError, match="sampler") as err:
        sensitivity(plan, tmp_path / "out", runner=ishigami, progress=False)
    assert str(plan) in str(err.value) and "'grid'" in str(err.value)
    assert not (tmp_path / "out").exists()  # refused before running anything


def test_a_policy_identical_to_the_baseline_gives_zero_in_every_series_and_window(tmp_path):
    # The policy is the baseline plus a shock that changes nothing (capacity x 1 in
    # ticks 1-2), so it has a shock window and a window after it.
    same = tmp_path / "same_as_base.toml"
    same.write_text(BASELINE.read_text() + '\n[[shocks]]\nkind = "outage"\nstart = 1\n'
                    'end = 3\ntarget = "TW"\nfactor = 1.0\n')  # fmt: skip
    df = whatif(BASELINE, [same], seeds=3, ticks=4, out=tmp_path / "w", progress=False)
    assert set(MAIN_KPIS) <= set(df["kpi"]) and (df["policy"] == "same_as_base").all()
    assert set(df["window"]) == {"run", "shock", "after"}
    assert set(df.loc[df["window"] == "shock", "ticks"]) == {"1-2"}
    assert set(df.loc[df["window"] == "after", "ticks"]) == {"3-3"}
    assert any(k.startswith("compute_received[") for k in df["kpi"])
    assert any(k.startswith("region_compute_received[") for k in df["kpi"])
    assert (df["n"] == 3).all()
    for col in ("diff_mean", "diff_sd", "ci_low", "ci_high"):
        assert (df[col].dropna() == 0.0).all(), col
    assert not df["significant"].any()
    written = pd.read_csv(tmp_path / "w" / "whatif.csv")
    assert len(written) == len(df)
    assert len(list((tmp_path / "w" / "parts").glob("*.parquet"))) == 2 * 3
    assert "same_as_base vs base" in format_whatif(df)
    # every per-tick series of both scenarios on every seed is saved, and the paired
    # differences are zero everywhere
    series = pd.read_parquet(tmp_path / "w" / "series.parquet")
    assert set(series["scenario"]) == {"base", "same_as_base"}
    assert series.groupby("scenario")["replicate"].nunique().to_dict() == {
        "base": 3, "same_as_base": 3}  # fmt: skip
    assert sorted(series["tick"].unique()) == [0, 1, 2, 3]
    diffs = pd.read_parquet(tmp_path / "w" / "series_diff.parquet")
    assert len(diffs) == (series["scenario"] == "same_as_base").sum()
    assert (diffs["value"].dropna() == 0.0).all()
    assert diffs["value"].notna().sum() > 0.9 * len(diffs)
    assert (tmp_path / "w" / "report.html").exists()


def test_the_taiwan_outage_hits_harder_in_its_window_than_over_the_run(tmp_path):
    df = whatif(BASELINE, [SCENARIOS / "taiwan_outage.toml"], seeds=2, ticks=14,
                out=tmp_path / "tw", progress=False, outputs=("price_accelerator",))  # fmt: skip
    rows = df.set_index("window")
    assert set(rows.index) == {"run", "shock", "after"}
    assert rows.loc["shock", "ticks"] == "8-12" and rows.loc["after", "ticks"] == "13-13"
    run, shock = rows.loc["run"], rows.loc["shock"]
    # the window KPI is the mean over ticks 8-12 only: it differs from the run's
    assert shock["policy_mean"] != pytest.approx(run["policy_mean"], rel=0.05)
    assert shock["diff_mean"] > run["diff_mean"] > 0
    assert shock["diff_mean"] == pytest.approx(shock["policy_mean"] - shock["base_mean"])
    # the run's mean is the tick-weighted mean of the windows' (and ticks 0-7, no change)
    pre = 8 * 0.0
    assert run["diff_mean"] == pytest.approx(
        (pre + 5 * shock["diff_mean"] + 1 * rows.loc["after", "diff_mean"]) / 14, rel=1e-6
    )
    report = (tmp_path / "tw" / "report.html").read_text()
    for section in ("Policy differences over the run", "Policy differences over the shock window",
                    "Differences over time", "Scenarios", "Glossary"):  # fmt: skip
        assert f"<h2>{section}" in report, section
    assert "outage" in report and "8-12" in report


def test_a_shock_after_the_ticks_run_is_warned_about(tmp_path):
    with pytest.warns(ShockWindowWarning, match="after the 4 ticks run"):
        df = whatif(BASELINE, [SCENARIOS / "taiwan_outage.toml"], seeds=1, ticks=4,
                    out=tmp_path / "w", progress=False, outputs=("unmet_share",))  # fmt: skip
    assert list(df["window"]) == ["run"]
    assert "after the 4 ticks run" in (tmp_path / "w" / "report.html").read_text()


def test_whatif_pairs_by_seed_and_drops_failed_runs_pairwise():
    # base: 10, 11, (failed), 13; policy: 12, 14, 20, 15 -> pairs on seeds 0, 1, 3.
    runs = pd.DataFrame({
        "param:scenario": ["base"] * 4 + ["p"] * 4,
        "replicate": [0, 1, 2, 3] * 2,
        "status": ["done", "done", "failed", "done"] + ["done"] * 4,
        "out:price_accelerator": [10.0, 11.0, math.nan, 13.0, 12.0, 14.0, 20.0, 15.0],
    })  # fmt: skip
    (row,) = summarise(runs, ["p"], ("price_accelerator",)).itertuples(index=False)
    diffs = np.array([2.0, 3.0, 2.0])
    half = stats.t.ppf(0.975, 2) * diffs.std(ddof=1) / math.sqrt(3)
    assert row.n == 3 and row.base_mean == pytest.approx(34 / 3)
    assert row.diff_mean == pytest.approx(diffs.mean())
    assert (row.ci_low, row.ci_high) == pytest.approx((diffs.mean() - half, diffs.mean() + half))
    assert row.significant
    one = summarise(runs[runs["replicate"] == 0], ["p"], ("price_accelerator",)).iloc[0]
    assert one["n"] == 1 and math.isnan(one["ci_low"]) and not one["significant"]
