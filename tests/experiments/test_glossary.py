"""Reports that read as reports: units by good, a glossary of every column, capacity
per agent and good, the scenario in the report, sweep sensitivities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.kpis import KPIS
from experiments.outputs.glossary import GOOD_UNITS, describe, glossary_rows, missing
from experiments.outputs.plots import plot_run
from experiments.outputs.report import build_report, changes_table
from experiments.outputs.tables import summary, write_run
from experiments.scenarios import load_scenario
from experiments.studies.run import run_scenario
from experiments.studies.sweep import input_output_sensitivity
from market.goods import GOODS
from market.tick_metrics import TABLES

SCENARIOS = Path(__file__).parents[2] / "experiments" / "scenarios"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = run_scenario(load_scenario(SCENARIOS / "baseline.toml"), seed=1, ticks=3,
                          progress=False)  # fmt: skip
    write_run(result, out)
    return out, result.tables


def test_every_table_column_has_a_glossary_entry(run):
    _, tables = run
    written = {name: list(cols) for name, cols in tables.items()}
    assert set(TABLES) <= set(written)
    assert missing(written) == []
    assert missing({name: [*cols, "seed"] for name, cols in TABLES.items()}) == []
    assert missing({"agents": ["no_such_column"]}) == ["agents.no_such_column"]
    # columns announced for the market (families included) are described too
    assert "weeks" in describe("ticks", "lead_time_accelerator")
    assert describe("prices", "spot_price") and describe("agents", "gross_margin")


def test_every_good_has_a_quantity_and_a_price_unit_and_summaries_use_them(run):
    _, tables = run
    assert set(GOODS) <= set(GOOD_UNITS)
    text = summary(tables)
    assert "$/unit" not in text
    traded = set(tables["prices"]["good"])
    assert set(GOODS) - traded <= {"compute_premium"}  # only with traffic classes (ODD 7.19)
    for good in traded:
        assert f"price {good} ({GOOD_UNITS[good][1]})" in text
    for kpi, unit in KPIS.items():
        assert unit and "$/unit" not in unit, kpi


def test_the_capacity_table_keeps_each_good_apart_and_adds_up_to_the_agents_table(run):
    _, tables = run
    cap = pd.DataFrame(tables["capacity"])
    tsmc = cap[cap["agent"] == "TSMC"]
    assert set(tsmc["good"]) == {"wafer", "cowos"}  # two lines, never added together
    agents = pd.DataFrame(tables["agents"]).set_index(["tick", "agent"])
    per_agent = cap.groupby(["tick", "agent"])[["capacity", "sold"]].sum()
    suppliers = agents.loc[per_agent.index]
    suppliers = suppliers[suppliers["type"].isin(
        ["Fab", "MemoryMaker", "Packager", "PowerProvider"])]  # fmt: skip
    for col in ("capacity", "sold"):
        np.testing.assert_allclose(per_agent.loc[suppliers.index, col], suppliers[col])
    assert (cap["available"] <= cap["capacity"] * (1 + 1e-12)).all()


def test_the_run_report_has_the_scenario_shocks_and_glossary(run, tmp_path):
    out, tables = run
    text = build_report(out).read_text()
    for section in ("Scenario", "Glossary", "Capacity per agent and good"):
        assert f"<h2>{section}</h2>" in text, section
    assert "Shocks and policies" in text and "behaviour" in text
    names = {name for _, name, _ in glossary_rows({t: list(c) for t, c in tables.items()})}
    assert {"supplier_hhi", "price_accelerator", "seed"} <= names
    assert "(no description)" not in text


def test_a_policy_report_lists_what_the_policy_changes():
    base = {"meta": {"name": "b"}, "behaviour": {"foresight": 0.2},
            "labs": [{"name": "OpenAI", "training_growth": 0.6}]}  # fmt: skip
    pol = {"meta": {"name": "p"}, "behaviour": {"foresight": 0.2},
           "labs": [{"name": "OpenAI", "training_growth": 0.3}]}  # fmt: skip
    table = changes_table(base, pol)
    assert table.to_dict("records") == [
        {"parameter": "labs[OpenAI].training_growth", "base": "0.6", "policy": "0.3"}
    ]


def test_sweep_sensitivity_recovers_a_known_linear_response():
    rng = np.random.default_rng(0)
    x1, x2, x3 = rng.uniform(0, 1, (3, 200))
    runs = pd.DataFrame({"param:x1": x1, "param:x2": x2, "param:x3": 10 * x3,
                         "out:y": 3.0 * x1 - 1.0 * x2, "out:z": np.exp(5 * x3),
                         "status": "done"})  # fmt: skip
    s = input_output_sensitivity(runs).set_index(["output", "parameter"])
    # y = 3 x1 - x2: an SRC times sd(y) / sd(x) is the raw slope; x3 has none; exact fit
    src, sd_y = s.loc["y", "src"], runs["out:y"].std()
    assert src["x1"] * sd_y / runs["param:x1"].std() == pytest.approx(3.0, rel=1e-9)
    assert src["x2"] * sd_y / runs["param:x2"].std() == pytest.approx(-1.0, rel=1e-9)
    assert abs(src["x3"]) < 1e-9 and s.loc[("y", "x1"), "r2"] == pytest.approx(1.0)
    # z is monotone in x3 but not linear: rank correlation 1, a linear fit short of 1
    assert s.loc[("z", "x3"), "spearman"] == pytest.approx(1.0)
    assert s.loc[("z", "x1"), "r2"] < 0.95


def test_new_market_columns_reach_the_summary_and_plots(run, tmp_path):
    # columns the market may add (lead times, spot and contract prices) show up unasked
    _, tables = run
    tables = {name: dict(cols) for name, cols in tables.items()}
    n = len(tables["ticks"]["tick"])
    tables["ticks"]["lead_time_accelerator"] = [10.0 + t for t in range(n)]
    tables["prices"]["spot_price"] = [2 * p for p in tables["prices"]["price"]]
    text = summary(tables)
    assert "lead_time_accelerator" in text and "spot price accelerator ($/H100e)" in text
    drawn = {p.name for p in plot_run(tables, tmp_path)}
    assert "leadtimes.png" in drawn
    assert missing({"ticks": ["lead_time_accelerator"], "prices": ["spot_price"]}) == []
