"""The field's KPIs of a run (ODD 7.16): run-level values, summary lines and plot, and a KPI
that does not vary in a sensitivity study."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.kpis import field_kpis, is_kpi, kpis, unit
from experiments.outputs.plots import plot_run, plot_sensitivity
from experiments.outputs.tables import combine, summary, with_seed
from experiments.studies.sensitivity import format_sensitivity, sensitivity
from market.model import MarketModel
from market.tick_metrics import FIELD_TICKS
from tests.market.worlds import small_world


@pytest.fixture(scope="module")
def two_seeds():
    shock = {"kind": "outage", "start": 2, "end": 4, "target": "azure", "factor": 0.5}
    runs = []
    for seed in (1, 2):
        m = MarketModel(small_world(shocks=[shock], meta={"name": "small", "horizon": 6}), seed)
        m.run()
        runs.append(with_seed(m.tables(), seed))
    return runs


def test_run_kpis_are_the_sums_and_ratios_of_the_tick_tables(two_seeds):
    tables = two_seeds[0]
    out = field_kpis(tables)
    ticks = pd.DataFrame(tables["ticks"])
    f = pd.DataFrame(tables["finance"])
    hyp = f[f["type"] == "Hyperscaler"]
    assert out["capex"] == pytest.approx(f["capex"].sum())
    assert out["revenue"] == pytest.approx(ticks["revenue"].sum())
    assert out["idle_cost"] == pytest.approx(hyp["idle_cost"].sum())
    assert out["usable_share"] == pytest.approx(hyp["usable_capacity"].sum()
                                                / hyp["max_capacity"].sum())  # fmt: skip
    assert out["usable_share"] < 1.0  # the outage took half of azure's fleet for 2 ticks
    assert out["fleet_utilisation"] == pytest.approx(hyp["sold"].sum() / hyp["max_capacity"].sum())
    assert out["roi_served"] == pytest.approx(ticks["roi_served"].mean())
    tc = pd.DataFrame(tables["token_costs"])
    for tier, block in tc.groupby("tier"):
        assert out[f"cost_per_mtok[{tier}]"] == pytest.approx(block["cost_per_mtok"].mean())
    dep = pd.DataFrame(tables["dependency"])
    for lab, block in dep.groupby("lab"):
        assert out[f"dependency_compute[{lab}]"] == pytest.approx(block["compute_share"].mean())
        assert 0 < out[f"dependency_compute[{lab}]"] <= 1
    assert set(out) <= set(kpis(tables))
    for name in ("capex", "cost_per_mtok[large]", "dependency_equity[openai]"):
        assert is_kpi(name) and unit(name), name


def test_kpis_of_tables_written_before_the_field_kpis_are_nan_not_an_error(two_seeds):
    old = {k: v for k, v in two_seeds[0].items() if k not in ("finance", "token_costs",
                                                               "dependency")}  # fmt: skip
    old["ticks"] = {k: v for k, v in old["ticks"].items() if k not in FIELD_TICKS}
    out = kpis(old)
    assert math.isnan(out["capex"]) and math.isnan(out["usable_share"])
    assert not any(k.startswith("cost_per_mtok[") for k in out)


def test_summary_and_plot_show_the_field_kpis_with_bands_over_seeds(two_seeds, tmp_path):
    tables = combine(two_seeds)
    text = summary(tables)
    assert "median [p10, p90] over 2 seeds" in text
    for label in ("field: capex ($B per tick)", "field: usable / installed H100e",
                  "field: cost per M tokens, large ($)",
                  "field: labs' compute from top provider (mean)"):  # fmt: skip
        assert label in text, label
    paths = plot_run(tables, tmp_path, "small")
    field = tmp_path / "field.png"
    assert field in paths and field.stat().st_size > 20_000


def _constant_runner(params, seed):
    """A sweep runner with one KPI that never varies and one that does."""
    return {"usable_share": 1.0, "idle_cost": params["x1"] ** 2 + params["x2"]}


@pytest.mark.parametrize("sampler", ["sobol", "morris"])
def test_a_kpi_that_does_not_vary_does_not_crash_the_sensitivity_table(tmp_path, sampler):
    params = "".join(f'[[parameters]]\npath = "x{i}"\nrange = [0.0, 1.0]\n' for i in (1, 2))
    path = tmp_path / f"flat_{sampler}.toml"
    path.write_text(f'name = "flat"\nsampler = "{sampler}"\nsamples = 32\nlevels = 4\nseeds = 1\n'
                    f'outputs = ["usable_share", "idle_cost"]\n{params}')  # fmt: skip
    df = sensitivity(path, tmp_path / "out", runner=_constant_runner, progress=False)
    flat = df[df["output"] == "usable_share"]
    moving = df[df["output"] == "idle_cost"]
    main = "ST" if sampler == "sobol" else "mu_star"
    assert len(flat) == 2 and (flat[main] == 0).all()
    assert (moving[main] > 0).all() and np.isfinite(moving[main]).all()
    text = format_sensitivity(df)
    assert "usable_share" in text and "no parameter moves it" in text
    assert text.count("no parameter moves it") == 1
    pngs = plot_sensitivity(df, Path(tmp_path / "out"))
    assert len(pngs) == 2
