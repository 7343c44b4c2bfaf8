"""The generations table and plot (ODD 7.15) from a short baseline run."""

from __future__ import annotations

import pandas as pd
import pytest

from experiments.outputs.plots import plot_run
from experiments.scenarios import load_scenario
from market.agents import Hyperscaler
from market.model import MarketModel


@pytest.fixture(scope="module")
def model():
    m = MarketModel(load_scenario("baseline"), seed=1)
    m.run(3)
    return m


def test_the_generations_table_adds_up_to_the_fleets_and_the_designers_output(model):
    g = pd.DataFrame(model.tables()["generations"])
    last = g[g.tick == g.tick.max()]
    fleets = sum(h.fleet_size for h in model.agents_of(Hyperscaler))
    others = sum(h.units.get("Custom-Other", 0.0) for h in model.agents_of(Hyperscaler))
    assert last.installed.sum() + others == pytest.approx(fleets, rel=1e-9)
    for name, block in last.groupby("designer"):
        assert block.made.sum() == pytest.approx(model.by_name[name].made, rel=1e-9, abs=1e-6)
        assert block.share.sum() == pytest.approx(1.0)


def test_a_run_with_generations_draws_them(model, tmp_path):
    drawn = {p.name for p in plot_run(model.tables(), tmp_path, "baseline")}
    assert "generations.png" in drawn
