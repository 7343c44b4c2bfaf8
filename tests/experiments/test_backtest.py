"""The backtest against 2023-26 history (issue 9 parts 2, 4 and 6), and its CI guard."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from experiments.cli import main
from experiments.outputs.files import read_json
from experiments.scenarios import load_scenario
from experiments.studies.backtest import (
    GUARD,
    backtest,
    correlation,
    error,
    guard_breaches,
    history_points,
    model_series,
    period_quarters,
    record_guard,
    sign_share,
    targets,
)
from market.model import MarketModel


@pytest.fixture(scope="module")
def history():
    return load_scenario("history_2023")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, history):
    """The backtest as the guard records it (its seeds), run once for this module."""
    seeds = read_json(GUARD)["seeds"]
    out = tmp_path_factory.mktemp("backtest")
    return backtest("history_2023", seeds=seeds, out=out, progress=False, report=True)


def test_periods_map_to_the_quarters_they_cover():
    assert period_quarters("2024") == ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]
    assert period_quarters("2026H1") == ["2026Q1", "2026Q2"]
    assert period_quarters("2025Q3") == ["2025Q3"]
    assert period_quarters("2024-10") == ["2024Q4"]
    assert period_quarters("2025-03") == ["2025Q1"]
    with pytest.raises(ValueError, match="not YYYY"):
        period_quarters("FY24")


def test_errors_correlation_and_signs_match_hand_computed_values():
    model, data = np.array([110.0, 90.0, 200.0]), np.array([100.0, 100.0, 100.0])
    assert error("mape", model, data) == pytest.approx((0.1 + 0.1 + 1.0) / 3)
    assert error("log", model, data) == pytest.approx(
        (math.log(1.1) + abs(math.log(0.9)) + math.log(2)) / 3
    )
    assert error("points", model, data) == pytest.approx((10 + 10 + 100) / 3)
    assert correlation(np.array([1.0, 2, 3]), np.array([2.0, 4, 6])) == pytest.approx(1)
    assert math.isnan(correlation(np.array([1.0, 2]), np.array([1.0, 2])))
    frame = pd.DataFrame({"key": ["a"] * 4 + ["b"] * 2, "first": [0, 1, 2, 3, 0, 1],
                          "median": [1, 2, 1, 5, 3, 2], "data": [1, 3, 4, 5, 1, 0]})  # fmt: skip
    # a: up (right), down vs up (wrong), up (right); b: down (right) -> 3 of 4
    assert sign_share(frame) == (0.75, 4)


def test_history_points_split_at_2025_and_stay_inside_the_horizon(history):
    points = history_points(history)
    assert set(points["series"]) >= {"chip_units", "chip_h100e", "h100_rental", "lead_time"}
    assert (points["last"] < history.meta.horizon).all() and (points["first"] >= 0).all()
    assert (points.loc[points["sample"] == "in", "last"] < 8).all()
    assert (points.loc[points["sample"] == "out", "first"] >= 8).all()
    # Epoch's 2025 Nvidia units (data/README.md: 4.49M) land on ticks 8-11.
    nv = points[(points["series"] == "chip_units") & (points["key"] == "Nvidia")]
    row = nv[nv["period"] == "2025"].iloc[0]
    assert (row["first"], row["last"]) == (8, 11)
    assert row["data"] == pytest.approx(4.49e6, rel=0.01)
    # Nvidia's revenue is compared net of networking.
    rev = points[(points["series"] == "nvidia_revenue") & (points["period"] == "2023Q1")]
    assert rev["data"].iloc[0] == pytest.approx(4.28 * 0.85)


def test_model_series_agree_with_the_flows_they_come_from(history):
    model = MarketModel(history, seed=1)
    model.run(6)
    tables = model.tables()
    s = model_series(tables, history)
    flows = pd.DataFrame(tables["flows"])
    acc = flows[flows["good"] == "accelerator"]
    for key, agent in (("Nvidia", "Nvidia"), ("Google TPU", "Broadcom-TPU")):
        made = s[(s["series"] == "chip_h100e") & (s["key"] == key)].set_index("tick")["value"]
        shipped = acc[acc["seller"] == agent].groupby("tick")["quantity"].sum()
        assert made.sum() == pytest.approx(shipped.sum(), rel=1e-6)
    # Units = H100e / the product's H100e per chip (2023 Nvidia: 0.85).
    units = s[(s["series"] == "chip_units") & (s["key"] == "Nvidia") & (s["tick"] == 2)]
    h100e = s[(s["series"] == "chip_h100e") & (s["key"] == "Nvidia") & (s["tick"] == 2)]
    assert units["value"].iloc[0] == pytest.approx(h100e["value"].iloc[0] / 0.85)
    shares = s[s["series"] == "hbm_share"].groupby("tick")["value"].sum()
    assert np.allclose(shares.dropna(), 100)


def test_the_backtest_writes_metrics_points_plots_and_a_report(guarded):
    out = guarded["out"]
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert {"series", "sample", "error", "corr", "sign_share"} <= set(metrics.columns)
    assert set(metrics["sample"]) == {"in", "out"}
    assert (metrics["error"].dropna() >= 0).all()
    assert metrics["sign_share"].dropna().between(0, 1).all()
    points = pd.read_parquet(out / "points.parquet")
    assert (points["p10"] <= points["median"] + 1e-9).all()
    assert (points["median"] <= points["p90"] + 1e-9).all()
    assert (out / "backtest_chip_units.png").stat().st_size > 0
    html = (out / "report.html").read_text()
    assert "Backtest against history" in html and "(no description)" not in html


def test_no_series_fits_history_worse_out_of_sample_than_recorded(guarded):
    """The CI guard: regenerate the record with `aimarket backtest --seeds 4 --record`."""
    breaches = guard_breaches(guarded["metrics"])
    assert not breaches, "the fit to history got worse:\n" + "\n".join(breaches)


def test_the_guard_fails_when_an_error_rises(guarded, tmp_path):
    path = record_guard(guarded["metrics"], seeds=4, path=tmp_path / "guard.json")
    assert guard_breaches(guarded["metrics"], path) == []
    worse = guarded["metrics"].copy()
    row = worse.index[(worse["series"] == "chip_h100e") & (worse["sample"] == "out")][0]
    worse.loc[row, "error"] = worse.loc[row, "error"] * 1.2 + 0.05
    breaches = guard_breaches(worse, path)
    assert len(breaches) == 1 and breaches[0].startswith("chip_h100e:")


def test_the_cli_prints_the_metrics_and_targets(tmp_path, capsys):
    assert main(["backtest", "--seeds", "1", "--out", str(tmp_path / "b"), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "chip_units" in text and "targets (issue 9)" in text
    # Writing into the same folder again needs --force (or --resume).
    assert main(["backtest", "--seeds", "1", "--out", str(tmp_path / "b"), "--quiet"]) == 2
    assert "--force" in capsys.readouterr().err


def test_the_lead_time_targets_compare_the_2023_peaks_and_the_2024_low():
    points = pd.DataFrame({
        "series": "lead_time", "key": "H100 servers", "sample": "in",
        "period": ["2023-08", "2023-11", "2024-04"], "first": [2, 3, 5], "last": [2, 3, 5],
        "data": [39.0, 44.0, 10.0], "median": [30.0, 26.0, 16.0],
    })  # fmt: skip
    series = pd.DataFrame({"series": "lead_time", "seed": 0, "tick": range(6),
                           "value": [13.0, 35.0, 30.0, 26.0, 12.0, 16.0]})  # fmt: skip
    goals = targets(points, series).set_index("target")
    peak = goals.loc[[t for t in goals.index if "2023 peak" in t][0]]
    assert peak["value"] == pytest.approx(35 / 44) and peak["met"]
    fall = goals.loc[[t for t in goals.index if "2024 fall" in t][0]]
    assert fall["value"] == pytest.approx(1.6) and not fall["met"]
    same_period = targets(points).set_index("target")  # without the model's series
    assert same_period.filter(like="2023 peak", axis=0)["value"].iloc[0] == pytest.approx(26 / 44)
