"""The EMA Workbench adapter: the market as an EMA model, evaluated on Dask, checked against
the study engine's own runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ema_workbench import SequentialEvaluator, perform_experiments

from experiments.connectors.ema import DaskEvaluator, identifier, market_model
from experiments.scenarios import ScenarioError, load_scenario
from experiments.studies.run import MarketRunner

BASELINE = Path(__file__).parents[2] / "experiments" / "scenarios" / "baseline.toml"
UNCERTAIN = {"labs[OpenAI].training_growth": (0.2, 1.0), "behaviour.foresight": (0.1, 0.6)}


def model(ticks: int = 4):
    return market_model(BASELINE, UNCERTAIN, outcomes=("unmet_share", "price_accelerator"),
                        ticks=ticks)  # fmt: skip


def test_dask_evaluator_matches_the_sequential_one_and_our_own_runner():
    m = model()
    kw = {"scenarios": 6, "uncertainty_sampling_kwargs": {"rng": 42}}
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
    # The adapter maps EMA's identifiers back to dotted paths: each experiment gives what
    # the study engine's runner gives for the same overrides and seed, computed here.
    base = load_scenario(BASELINE).model_dump(mode="python")
    runner = MarketRunner({"base": base}, ("unmet_share", "price_accelerator"), ticks=4)
    for i in range(len(x1)):
        params = {path: float(x1[identifier(path)].iloc[i]) for path in UNCERTAIN}
        expected = runner(params, 0)
        for name, value in expected.items():
            assert y1[name][i] == value, (i, name)


def test_unknown_outcome_or_path_is_refused():
    with pytest.raises(ScenarioError, match="not a KPI"):
        market_model(BASELINE, UNCERTAIN, outcomes=("unmet",))
    with pytest.raises(ScenarioError, match="foresite"):
        market_model(BASELINE, {"behaviour.foresite": (0.1, 0.2)})
