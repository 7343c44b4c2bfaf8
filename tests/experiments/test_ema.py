"""The EMA Workbench adapter: the market as an EMA model, evaluated on Dask, PRIM on top."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ema_workbench import SequentialEvaluator, perform_experiments
from ema_workbench.analysis import prim

from experiments.connectors.ema import DaskEvaluator, identifier, market_model
from experiments.scenarios import ScenarioError

BASELINE = Path(__file__).parents[2] / "experiments" / "scenarios" / "baseline.toml"
UNCERTAIN = {"labs[OpenAI].training_growth": (0.2, 1.0), "behaviour.foresight": (0.1, 0.6)}


def model(ticks: int = 4):
    return market_model(BASELINE, UNCERTAIN, outcomes=("unmet_share", "price_accelerator"),
                        ticks=ticks)  # fmt: skip


# EMA Workbench's PRIM calls DataFrame.drop(inplace=True), deprecated in pandas 3.1.
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.drop")
def test_dask_evaluator_matches_the_sequential_one_and_prim_runs_on_it():
    m = model()
    kw = {"scenarios": 12, "uncertainty_sampling_kwargs": {"rng": 42}}
    with SequentialEvaluator(m) as ev:
        x1, y1 = perform_experiments(m, evaluator=ev, **kw)
    with DaskEvaluator(m, workers=2) as ev:
        x2, y2 = perform_experiments(m, evaluator=ev, **kw)
    cols = [identifier(p) for p in UNCERTAIN]
    assert cols == ["labs_OpenAI_training_growth", "behaviour_foresight"]
    np.testing.assert_array_equal(x1[cols].to_numpy(), x2[cols].to_numpy())
    for name in ("unmet_share", "price_accelerator"):
        np.testing.assert_array_equal(y1[name], y2[name])
        assert np.isfinite(y1[name]).all()
    # Scenario discovery on the results: which uncertainties give high unmet demand?
    high = y2["unmet_share"] > np.median(y2["unmet_share"])
    box = prim.Prim(x2[cols], high).find_box()
    assert len(box.peeling_trajectory) > 1
    assert (box.peeling_trajectory["coverage"] <= 1.0 + 1e-12).all()


def test_unknown_outcome_or_path_is_refused():
    with pytest.raises(ScenarioError, match="not a KPI"):
        market_model(BASELINE, UNCERTAIN, outcomes=("unmet",))
    with pytest.raises(ScenarioError, match="foresite"):
        market_model(BASELINE, {"behaviour.foresite": (0.1, 0.2)})
