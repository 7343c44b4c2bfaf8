"""Permitting and local opposition: the ``permitting`` multipliers by region and the
``permitting_delay`` shock stretch the lead time of capacity ordered while they are in
force (market/agents/supplier.py ``Supplier.lead_time``, market/shocks.py).

Expected ready ticks are worked out here from the small world's own lead times:
ordered at tick t, ready at t + ceil(lead_time x multiplier)."""

from __future__ import annotations

import math

import pytest
from worlds import small_world

from experiments.scenarios import ScenarioError, validate_scenario
from market.model import MarketModel
from market.shocks import policy_at

DELAY = {"kind": "permitting_delay", "start": 3, "end": 7, "target": "US", "factor": 2.5}


def _model(**changes) -> MarketModel:
    data = small_world().model_dump(mode="python")
    data.update(changes)
    return MarketModel(validate_scenario(data, "permit.toml"), seed=1)


def _ready_tick(m: MarketModel, agent: str, good: str, tick: int) -> int:
    """Run ``m`` up to ``tick``, set that tick's policy as the tick does, order one
    unit of capacity on ``agent``'s ``good`` line, and return the pipeline's ready tick."""
    while m.tick < tick:
        m.step()
    m.policy = policy_at(m.world, m.tick)
    s = m.by_name[agent]
    line = s.line(good)
    before = list(line.pipeline)
    s.expand(line, 1.0, 0.0)
    (added,) = [p for p in line.pipeline if p not in before]
    assert added[1] == 1.0
    return added[0]


@pytest.mark.parametrize(("agent", "good", "lead"), [("grid", "power", 12), ("intel", "wafer", 10)])
def test_capacity_ordered_inside_a_permitting_delay_takes_factor_times_its_lead_time(
    agent, good, lead
):
    m = _model(shocks=[DELAY])
    assert _ready_tick(m, agent, good, 4) == 4 + math.ceil(lead * 2.5)


@pytest.mark.parametrize("tick", [2, 7])
def test_capacity_ordered_outside_the_window_takes_its_plain_lead_time(tick):
    m = _model(shocks=[DELAY])
    assert _ready_tick(m, "grid", "power", tick) == tick + 12


def test_a_permitting_delay_leaves_other_regions_alone():
    m = _model(shocks=[DELAY])
    assert _ready_tick(m, "tsmc", "wafer", 4) == 4 + 8  # TW
    assert _ready_tick(m, "tsmc", "cowos", 4) == 4 + 4  # its CoWoS line: half the fab's


def test_a_regional_multiplier_stretches_lead_times_in_its_region_only():
    m = _model(permitting={"US": 1.3})
    assert _ready_tick(m, "intel", "wafer", 1) == 1 + 13  # ceil(10 x 1.3)
    assert _ready_tick(m, "grid", "power", 1) == 1 + math.ceil(12 * 1.3)
    assert _ready_tick(m, "ase", "cowos", 1) == 1 + 4  # TW


def test_a_regional_multiplier_and_a_delay_multiply():
    m = _model(permitting={"US": 1.5}, shocks=[{**DELAY, "factor": 2.0}])
    assert _ready_tick(m, "grid", "power", 4) == 4 + 36  # 12 x 1.5 x 2


def test_a_multiplier_rounds_up_without_float_noise():
    m = _model(permitting={"US": 1.1})  # 10 x 1.1 = 11.000000000000002 in floats
    assert _ready_tick(m, "intel", "wafer", 0) == 11


def test_delayed_capacity_arrives_at_its_ready_tick():
    m = _model(permitting={"US": 1.2})
    ready = _ready_tick(m, "intel", "wafer", 0)  # 12 ticks: past the horizon
    line = m.by_name["intel"].line("wafer")
    line.pipeline = [(ready - 10, 7.0)]  # one due inside the horizon instead
    while m.tick < ready - 10:
        m.step()
    before = line.capacity
    m.step()  # prepare adds what is ready at this tick
    assert line.capacity == pytest.approx(before * (1 - line.depreciation) + 7.0, rel=1e-6)
    assert line.pipeline == []


def _refusal(**changes) -> str:
    data = small_world().model_dump(mode="python")
    data.update(changes)
    with pytest.raises(ScenarioError) as err:
        validate_scenario(data, "permit.toml")
    return str(err.value)


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"goods": ["power"]}, "goods"), ({"from_region": "US"}, "from_region")],
)
def test_a_permitting_delay_refuses_fields_it_ignores(extra, field):
    text = _refusal(shocks=[{**DELAY, **extra}])
    assert f"shocks[0].{field}" in text and "permitting_delay ignores" in text


@pytest.mark.parametrize("factor", [0.5, 11.0])
def test_a_permitting_delay_refuses_a_factor_outside_1_to_10(factor):
    text = _refusal(shocks=[{**DELAY, "factor": factor}])
    assert "shocks[0].factor" in text and "lead times" in text


def test_a_permitting_delay_refuses_a_target_that_builds_no_capacity():
    text = _refusal(shocks=[{**DELAY, "target": "azure"}])
    assert "shocks[0].target" in text and "power_providers" in text


def test_a_regional_multiplier_refuses_a_region_without_suppliers_and_a_value_below_1():
    text = _refusal(permitting={"JP": 2.0})
    assert "permitting.JP" in text
    assert "permitting" in _refusal(permitting={"US": 0.8})


def test_a_capacity_reservation_inside_the_delay_starts_when_its_capacity_is_ready():
    m = _model(shocks=[DELAY])
    while m.tick < 4:
        m.step()
    m.policy = policy_at(m.world, m.tick)
    line = m.by_name["intel"].line("wafer")
    before = list(line.pipeline)
    c = m.desk.reserve_capacity(m.by_name["nvidia"], "intel", "wafer", 1.0, 30000.0)
    assert c is not None
    (added,) = [p for p in line.pipeline if p not in before]
    assert c.start == added[0] == 4 + math.ceil(10 * 2.5)
