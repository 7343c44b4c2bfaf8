"""KPIs per region and per lab, over windows, and the rents a policy creates."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.kpis import is_kpi, kpis, rents, select, unit, window
from experiments.scenarios import load_scenario
from experiments.studies.run import run_scenario
from market.scenario import ShockSpec

BASELINE = Path(__file__).parents[2] / "experiments" / "scenarios" / "baseline.toml"


def _world() -> dict:
    """Two ticks: a TW fab sells wafers to a US and a TW designer; node prices per tick."""
    return {
        "ticks": {"tick": [0, 1]},
        "agents": {
            "agent": ["fab", "us", "tw"] * 2,
            "region": ["TW", "US", "TW"] * 2,
            "tick": [0, 0, 0, 1, 1, 1],
        },  # fmt: skip
        "flows": {
            "tick": [0, 0, 1, 1],
            "seller": ["fab", "fab", "fab", "fab"],
            "buyer": ["us", "tw", "us", "tw"],
            "good": ["wafer"] * 4,
            "quantity": [5.0, 7.0, 2.0, 3.0],
        },  # fmt: skip
        "node_prices": {
            "tick": [0, 0, 0, 1, 1, 1],
            "agent": ["fab", "us", "tw"] * 2,
            "good": ["wafer"] * 6,
            "price": [10.0, 30.0, 10.0, 10.0, 14.0, 10.0],
        },  # fmt: skip
    }


def test_tariff_revenue_is_the_tariff_times_units_on_tariffed_routes_in_its_window():
    tariff = ShockSpec(kind="tariff", start=1, end=2, from_region="TW", to_region="US",
                       goods=("wafer",), factor=100.0)  # fmt: skip
    # tick 0: outside the window; tick 1: 2 wafers TW -> US at $100; TW -> TW is domestic
    assert rents(_world(), [tariff]) == {0: (0.0, 0.0), 1: (200.0, 0.0)}


def test_a_quota_rent_is_the_price_gap_across_the_capped_route_times_units():
    quota = ShockSpec(kind="export_control", start=0, end=2, from_region="TW",
                      to_region="US", factor=0.5)  # fmt: skip
    ban = quota.model_copy(update={"factor": 0.0})
    # tick 0: (30 - 10) x 5; tick 1: (14 - 10) x 2; a ban moves nothing and has no rent
    assert rents(_world(), [quota]) == {0: (0.0, 100.0), 1: (0.0, 8.0)}
    assert rents(_world(), [ban]) == {0: (0.0, 0.0), 1: (0.0, 0.0)}
    assert rents(_world(), []) == {0: (0.0, 0.0), 1: (0.0, 0.0)}


@pytest.fixture(scope="module")
def tables():
    return run_scenario(load_scenario(BASELINE), seed=3, ticks=4, progress=False).tables


def test_lab_and_region_kpis_add_up_to_the_agents_table(tables):
    values = kpis(tables)
    a = tables["agents"]
    labs = {n: r for n, t, r in zip(a["agent"], a["type"], a["region"]) if t == "Lab"}
    received = {n: 0.0 for n in labs}
    for n, t, r in zip(a["agent"], a["type"], a["received"]):
        if t == "Lab":
            received[n] += r
    for lab, total in received.items():
        assert values[f"compute_received[{lab}]"] == pytest.approx(total / 4)
    for region in set(labs.values()):
        expected = sum(received[n] for n, r in labs.items() if r == region) / 4
        assert values[f"region_compute_received[{region}]"] == pytest.approx(expected)
    picked = select(("compute_received[*]", "unmet_share"), values)
    assert set(picked) == {f"compute_received[{n}]" for n in labs} | {"unmet_share"}


def test_a_window_kpi_is_the_kpi_of_those_ticks_only(tables):
    whole, early, late = kpis(tables), kpis(window(tables, 0, 2)), kpis(window(tables, 2, 4))
    # a mean over ticks is the average of the two halves' means
    assert whole["price_wafer"] == pytest.approx((early["price_wafer"] + late["price_wafer"]) / 2)
    assert whole["welfare"] == pytest.approx(early["welfare"] + late["welfare"])
    assert early["price_wafer"] != pytest.approx(late["price_wafer"])


def test_family_kpis_have_units_and_unknown_names_are_not_kpis():
    assert is_kpi("compute_received[*]") and is_kpi("region_unmet_share[CN]")
    assert unit("compute_received[OpenAI]").startswith("H100e-quarters")
    assert unit("price_wafer@shock:x").startswith("$/wafer")
    assert not is_kpi("price_of_tea")


def test_energy_kpis_are_the_hyperscalers_totals_in_twh_mt_and_bn_litres(tables):
    values = kpis(tables)
    a = tables["agents"]
    per_tick: dict[str, dict[int, float]] = {"energy_mwh": {}, "emissions_t": {}, "water_m3": {}}
    for i, typ in enumerate(a["type"]):
        if typ == "Hyperscaler":
            for col, acc in per_tick.items():
                acc[a["tick"][i]] = acc.get(a["tick"][i], 0.0) + a[col][i]
    n = len(per_tick["energy_mwh"])
    assert n == 4
    # MWh -> TWh, t -> Mt, m3 -> bn L (1 m3 = 1,000 L; 1e9 L = 1e6 m3)
    assert values["energy"] == pytest.approx(sum(per_tick["energy_mwh"].values()) / n / 1e6)
    assert values["emissions"] == pytest.approx(sum(per_tick["emissions_t"].values()) / n / 1e6)
    assert values["water"] == pytest.approx(sum(per_tick["water_m3"].values()) * 1e3 / n / 1e9)
    assert values["carbon_paid"] == 0.0  # the baseline has no carbon price
    assert values["clean_paid"] == 0.0  # nor a clean-energy requirement
    assert values["write_downs"] == 0.0  # nor a stranded regional part
    assert 1.0 < values["energy"] < 100.0  # TWh per quarter: the order of the public figures


def test_clean_paid_and_write_downs_kpis_sum_the_ticks_columns():
    from experiments.scenarios import load_scenario
    from market.model import MarketModel

    for name, column in (("clean_energy_requirement", "clean_paid"),
                         ("china_part_ban", "write_downs")):  # fmt: skip
        m = MarketModel(load_scenario(name), seed=0)
        m.run(10)
        t = m.tables()
        values = kpis(t)
        assert values[column] == pytest.approx(sum(t["ticks"][column]), rel=1e-12)
        assert values[column] > 0
