"""The history schema (issue 9 part 1): dates for ticks, capacity schedules, budget paths,
product schedules, and how ``market.history`` applies them."""

from __future__ import annotations

import math

import pytest

from experiments.scenarios import ScenarioError, validate_scenario
from market.history import budget_at, product_at
from market.model import MarketModel
from market.scenario import quarter_tick
from tests.market.worlds import small_world


def world_data(**changes) -> dict:
    data = small_world().model_dump(mode="python")
    data["meta"] = {**data["meta"], "start_year": 2023}
    data.update(changes)
    return data


def test_quarter_dates_count_quarters_from_the_start_year():
    assert quarter_tick("2023Q1", 2023, 4) == 0
    assert quarter_tick("2025Q2", 2023, 4) == 9  # 2 years x 4 + 1
    assert quarter_tick("2026Q4", 2025, 4) == 7


@pytest.mark.parametrize(
    ("date", "words"),
    [
        ("2022Q4", "before the scenario's start 2023Q1"),
        ("2023Q5", "not a tick number or a calendar quarter"),
        ("Q2 2023", "not a tick number or a calendar quarter"),
    ],
)
def test_a_bad_date_is_refused_naming_the_field(date, words):
    shock = {"kind": "demand_bust", "start": date, "end": 4, "factor": 0.5}
    with pytest.raises(ScenarioError) as err:
        validate_scenario(world_data(shocks=[shock]), "h.toml")
    assert str(err.value).startswith("h.toml: shocks[0].start:")
    assert words in str(err.value)


def test_dates_and_ticks_give_the_same_scenario():
    dated = {"kind": "demand_bust", "start": "2023Q3", "end": "2024Q2", "factor": 0.5}
    ticks = {"kind": "demand_bust", "start": 2, "end": 5, "factor": 0.5}
    assert validate_scenario(world_data(shocks=[dated])) == validate_scenario(
        world_data(shocks=[ticks])
    )
    contract = {"kind": "take_or_pay", "seller": "azure", "buyer": "openai", "good": "compute",
                "quantity": 100, "price": 4000, "term": 4}  # fmt: skip
    s = validate_scenario(world_data(contracts=[{**contract, "start": "2024Q1"}]))
    assert s.contracts[0].start == 4


def test_a_date_needs_quarterly_ticks():
    data = world_data(shocks=[{"kind": "demand_bust", "start": "2023Q2", "end": 4, "factor": 1}])
    data["meta"]["ticks_per_year"] = 12
    with pytest.raises(ScenarioError, match=r"shocks\[0\]\.start: .*needs quarterly ticks"):
        validate_scenario(data)


def test_a_path_keyed_by_dates_round_trips_through_json():
    data = world_data(capacity_schedules=[
        {"agent": "tsmc", "good": "cowos", "add": {"2023Q3": 500, "2024Q1": 700}}
    ])  # fmt: skip
    s = validate_scenario(data)
    assert s.capacity_schedules[0].add == {2: 500.0, 4: 700.0}
    assert validate_scenario(s.model_dump(mode="json")) == s


@pytest.mark.parametrize(
    ("section", "entry", "words"),
    [
        ("capacity_schedules", {"agent": "nvidia", "good": "cowos", "add": {"0": 1}},
         "capacity_schedules[0].agent: 'nvidia' is not a fab"),
        ("capacity_schedules", {"agent": "intel", "good": "cowos", "add": {"0": 1}},
         "capacity_schedules[0].good: intel has no 'cowos' line"),
        ("capacity_schedules", {"agent": "ase", "good": "cowos", "add": {"2026Q1": 1}},
         "capacity_schedules[0].add: tick 12 is outside the horizon"),
        ("capacity_schedules", {"agent": "ase", "good": "cowos",
                                "add": {"2023Q2": 1, "1": 2}},
         "capacity_schedules[0].add[\"1\"]: tick 1 is given twice"),
        ("budget_paths", {"hyperscaler": "nvidia", "capex": {"2023Q1": 1e9}},
         "budget_paths[0].hyperscaler: unknown hyperscaler 'nvidia'"),
        ("product_schedules", {"designer": "amd", "date": "2024Q1"},
         "product_schedules[0].designer: unknown designer 'amd'"),
        ("product_schedules", {"designer": "tpu", "date": "2022Q1"},
         "product_schedules[0].date: date '2022Q1' is before"),
    ],
)  # fmt: skip
def test_a_bad_schedule_is_refused_naming_the_entry(section, entry, words):
    with pytest.raises(ScenarioError) as err:
        validate_scenario(world_data(**{section: [entry]}), "h.toml")
    assert words in str(err.value)


def capacity(model: MarketModel, agent: str, good: str) -> list[float]:
    t = model.tables()["capacity"]
    return [c for a, g, c in zip(t["agent"], t["good"], t["capacity"]) if (a, g) == (agent, good)]


def test_scheduled_capacity_arrives_at_its_tick_on_top_of_the_suppliers_own():
    # Before tick 3 the two runs are the same, so at tick 3 they differ by the addition
    # alone; at tick 5 by both additions (the suppliers' own decisions made before an
    # addition cannot have seen it, and expansion takes >= 4 ticks to arrive).
    plain = MarketModel(validate_scenario(world_data()), seed=3)
    sched = MarketModel(validate_scenario(world_data(capacity_schedules=[
        {"agent": "tsmc", "good": "cowos", "add": {"2023Q4": 800, "2024Q2": 400}},
    ])), seed=3)  # fmt: skip
    plain.run(6)
    sched.run(6)
    a, b = capacity(plain, "tsmc", "cowos"), capacity(sched, "tsmc", "cowos")
    assert b[:3] == a[:3]
    assert b[3] == pytest.approx(a[3] + 800)
    assert b[5] == pytest.approx(a[5] + 1200)
    assert capacity(sched, "tsmc", "wafer")[:4] == capacity(plain, "tsmc", "wafer")[:4]


def test_a_budget_path_sets_the_install_budget_from_the_reported_capex():
    s = validate_scenario(world_data(budget_paths=[
        {"hyperscaler": "azure", "share": 0.4, "capex": {"2023Q2": 5e9, "2023Q3": 8e9}},
    ]))  # fmt: skip
    growth = s.hyperscalers[0].capex_growth
    assert budget_at(s, "azure", 0) is None  # before the path: its own rule
    assert budget_at(s, "azure", 1) == pytest.approx(2e9)
    assert budget_at(s, "azure", 2) == pytest.approx(3.2e9)
    assert budget_at(s, "azure", 6) == pytest.approx(3.2e9 * (1 + growth))  # a year on
    assert budget_at(s, "google", 2) is None
    model = MarketModel(s, seed=0)
    for tick in range(4):
        model.step()
        own = 3e9 * (1 + growth) ** (tick / 4)  # the hyperscaler's own budget rule
        wanted = budget_at(s, "azure", tick) or own
        assert model.policy.capex_factor("azure") * own == pytest.approx(wanted)
        assert model.policy.capex_factor("google") == 1.0


def test_a_product_schedule_changes_the_recipe_from_its_date():
    s = validate_scenario(world_data(product_schedules=[
        {"designer": "nvidia", "date": "2023Q3", "h100e_per_chip": 0.8, "hbm_per_chip": 80},
    ]))  # fmt: skip
    assert product_at(s, "nvidia", 1)["h100e_per_chip"] == 2.0
    assert product_at(s, "nvidia", 2) == {"chips_per_wafer": 30, "hbm_per_chip": 80,
                                          "chips_per_cowos_wafer": 12, "h100e_per_chip": 0.8,
                                          "unit_cost": 3000, "performance": 1.0}  # fmt: skip
    model = MarketModel(s, seed=0)
    nvidia = model.by_name["nvidia"]
    model.run(2)
    assert nvidia.inputs["hbm"] == pytest.approx(192 / 2.0)
    model.step()
    assert nvidia.inputs["hbm"] == pytest.approx(80 / 0.8)
    assert nvidia.inputs["wafer"] == pytest.approx(1 / (30 * 0.8))
    assert nvidia.unit_cost == pytest.approx(3000 / 0.8)
    assert math.isinf(nvidia.capacity)


def test_a_product_schedule_can_change_realised_performance():
    s = validate_scenario(world_data(product_schedules=[
        {"designer": "nvidia", "date": "2023Q3", "h100e_per_chip": 0.8, "performance": 0.5},
    ]))  # fmt: skip
    model = MarketModel(s, seed=0)
    nvidia = model.by_name["nvidia"]
    model.run(3)
    assert nvidia.inputs["wafer"] == pytest.approx(1 / (30 * 0.8 * 0.5))  # realised H100e
    assert nvidia.unit_cost == pytest.approx(3000 / (0.8 * 0.5))
