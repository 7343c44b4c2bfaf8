"""Energy, emissions and water (market/energy.py) and the carbon price (market/shocks.py).

The expected values are computed here by hand from the scenario's own numbers (fleet,
utilisation, all-in MW per H100e, PUE, grid intensity, WUE) and 8,760 hours a year,
not by calling the module under test.
"""

from __future__ import annotations

import math

import pytest
from worlds import small_world, step_with_money_check

from experiments.scenarios import ScenarioError, load_scenario, validate_scenario
from market.agents import Hyperscaler
from market.ledger import EXTERNAL
from market.model import MarketModel

TICKS = 4
INTENSITY = {"US": 400.0, "TW": 600.0}  # g CO2e/kWh, made up for the test


def _world(shocks=(), demand=1.0):
    """small_world with its two hyperscalers in different regions and with their own PUE
    and WUE; ``demand`` scales every lab's demand (below 1: hyperscalers have spare
    compute, so their ask sets the compute price: the labs bid nothing below their
    values, ``demand_floor_steps = 0``)."""
    data = small_world().model_dump(mode="python")
    hypers = data["hyperscalers"]
    hypers[0].update(pue=1.25, wue=0.5)  # azure, US
    hypers[1].update(region="TW", pue=1.1, wue=1.8)  # google
    labs = [dict(lab, training=lab["training"] * demand, inference=lab["inference"] * demand)
            for lab in data["labs"]]  # fmt: skip
    behaviour = {**data["behaviour"], "demand_floor_steps": 0}
    return small_world(hyperscalers=hypers, labs=labs, grid_intensity=INTENSITY,
                       shocks=list(shocks), behaviour=behaviour)  # fmt: skip


def _run(world, ticks=TICKS):
    m = MarketModel(world, seed=3)
    m.run(ticks)
    return m


def _rows(tables, table="agents"):
    cols = tables[table]
    return [dict(zip(cols, vals)) for vals in zip(*cols.values())]


def test_energy_emissions_and_water_add_up_from_fleet_utilisation_power_pue_intensity_and_wue():
    world = _world()
    m = _run(world)
    spec = {h.name: h for h in world.hyperscalers}
    hours = 8760 / 4
    checked = 0
    for r in _rows(m.tables()):
        if r["type"] != "Hyperscaler":
            for col in ("energy_mwh", "emissions_t", "water_m3", "carbon_paid"):
                assert math.isnan(r[col]), f"{r['agent']}.{col} should be NaN"
            continue
        s = spec[r["agent"]]
        sold = r["capacity"] * r["utilisation"]  # available x utilisation
        assert sold == pytest.approx(r["sold"], rel=1e-9)
        assert sold > 0
        it_kw = s.mw_per_h100e * 1000 / s.pue  # kW of IT power per H100e
        energy = sold * it_kw * hours * s.pue / 1000  # MWh
        assert r["energy_mwh"] == pytest.approx(energy, rel=1e-9)
        assert r["emissions_t"] == pytest.approx(energy * INTENSITY[s.region] / 1000, rel=1e-9)
        litres = (energy / s.pue) * 1000 * s.wue  # IT kWh x L per kWh
        assert r["water_m3"] == pytest.approx(litres / 1000, rel=1e-9)
        assert r["carbon_paid"] == 0.0
        checked += 1
    assert checked == 2 * TICKS


def test_market_totals_of_energy_emissions_and_water_equal_the_sum_over_agents():
    m = _run(_world())
    tables = m.tables()
    agents = _rows(tables)
    for tick_row in _rows(tables, "ticks"):
        mine = [r for r in agents if r["tick"] == tick_row["tick"] and r["type"] == "Hyperscaler"]
        for col in ("energy_mwh", "emissions_t", "water_m3", "carbon_paid"):
            assert tick_row[col] == pytest.approx(sum(r[col] for r in mine), rel=1e-12, abs=1e-9)
        assert tick_row["energy_mwh"] > 0


CARBON = {"kind": "carbon_price", "start": 1, "end": TICKS, "factor": 150.0}  # $ per t CO2e


def test_a_carbon_price_raises_the_compute_price_by_its_cost_per_h100e_quarter():
    base = _run(_world(demand=0.3))
    taxed = _run(_world([CARBON], demand=0.3))

    def compute_price(m):
        p = m.tables()["prices"]
        return [x for g, x in zip(p["good"], p["price"]) if g == "compute"]

    before, after = compute_price(base), compute_price(taxed)
    # Tick 0 has no carbon price: the runs are alike.
    assert after[0] == pytest.approx(before[0], rel=1e-6)
    # With spare compute the cheapest ask sets the price: (opex + carbon cost per
    # H100e-quarter) x (1 + markup), the markup each hyperscaler chose at tick 0.
    markup = {r["agent"]: r["markup"] for r in _rows(base.tables())
              if r["tick"] == 0 and r["type"] == "Hyperscaler"}  # fmt: skip
    asks_base, asks_taxed = [], []
    for h in _world().hyperscalers:
        t_per_h100e = h.mw_per_h100e * 8760 / 4 * INTENSITY[h.region] / 1000  # t CO2e
        asks_base.append(h.opex * (1 + markup[h.name]))
        asks_taxed.append((h.opex + 150.0 * t_per_h100e) * (1 + markup[h.name]))
    assert before[1] == pytest.approx(min(asks_base), rel=1e-6)
    assert after[1] == pytest.approx(min(asks_taxed), rel=1e-6)
    assert all(a > b for a, b in zip(after[1:], before[1:]))


def test_carbon_payments_equal_the_carbon_price_times_emissions_and_go_outside():
    m = MarketModel(_world([CARBON]), seed=3)
    paid_total = 0.0
    for _ in range(TICKS):
        m.step()
        carbon = [row for row in m.last_ledger.rows if row[3] == "carbon"]
        hypers = m.agents_of(Hyperscaler)
        if m.tick - 1 < CARBON["start"]:
            assert carbon == []
            continue
        assert {payer for payer, _, _, _ in carbon} == {h.name for h in hypers}
        assert all(payee == EXTERNAL for _, payee, _, _ in carbon)
        for h in hypers:
            paid = sum(a for payer, _, a, _ in carbon if payer == h.name)
            energy = h.sold * h.spec.mw_per_h100e * 8760 / 4  # MWh
            assert paid == pytest.approx(150.0 * energy * INTENSITY[h.region] / 1000, rel=1e-9)
            paid_total += paid
    ticks = m.tables()["ticks"]
    assert sum(ticks["carbon_paid"]) == pytest.approx(paid_total, rel=1e-9)
    assert paid_total > 0


def test_money_is_conserved_with_a_carbon_price():
    m = MarketModel(_world([CARBON]), seed=5)
    for _ in range(TICKS):
        net = step_with_money_check(m)
        # Transfers between agents net to zero; the carbon price leaves the model.
        assert net.get(EXTERNAL, 0.0) != 0.0


def _refusal(**changes) -> str:
    data = small_world().model_dump(mode="python")
    data.update(changes)
    with pytest.raises(ScenarioError) as err:
        validate_scenario(data, "carbon.toml")
    return str(err.value)


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"goods": ["compute"]}, "goods"), ({"from_region": "US"}, "from_region")],
)
def test_a_carbon_price_refuses_fields_it_ignores(extra, field):
    text = _refusal(shocks=[{**CARBON, **extra}])
    assert f"shocks[0].{field}" in text and "carbon_price ignores" in text


def test_a_carbon_price_refuses_a_price_above_its_bound_and_a_target_without_hyperscalers():
    assert "$ per t CO2e" in _refusal(shocks=[{**CARBON, "factor": 1e6}])
    text = _refusal(shocks=[{**CARBON, "target": "tsmc"}])
    assert "shocks[0].target" in text and "hyperscalers" in text


def test_a_hyperscaler_region_without_a_grid_intensity_is_refused_by_name():
    text = _refusal(grid_intensity={"TW": 600.0})
    assert "hyperscalers[0].region" in text and "grid_intensity.US" in text


def test_baseline_2025_ai_energy_is_below_each_companys_reported_electricity():
    """docs/data-sources.md §11: Google used 32.1 TWh in 2024 (about 43 TWh in 2025),
    Microsoft 29.8 TWh in FY24, for all their operations; the model counts only the AI
    accelerators it rents out, so it must stay below those totals, and the same order."""
    m = MarketModel(load_scenario("baseline"), seed=0)
    m.run(4)  # 2025
    twh: dict[str, float] = {}
    for r in _rows(m.tables()):
        if r["type"] == "Hyperscaler":
            twh[r["agent"]] = twh.get(r["agent"], 0.0) + r["energy_mwh"] / 1e6
    assert 0.25 * 43.0 < twh["Alphabet"] < 43.0
    assert 0.25 * 29.8 < twh["Microsoft"] < 29.8


# ------------------------------------------------------------------ clean-energy requirement
CLEAN_SHARE = {"US": 0.4, "TW": 0.1}  # made up for the test
CLEAN = {"kind": "clean_energy_share", "start": 1, "end": TICKS, "factor": 0.7}


def _clean_world(shocks=(), demand=1.0):
    data = _world(shocks, demand).model_dump(mode="python")
    data["grid_clean_share"] = CLEAN_SHARE
    data["behaviour"] = {**data["behaviour"], "clean_energy_premium": 30.0}
    return small_world(**{k: v for k, v in data.items()})


def test_a_clean_energy_requirement_buys_the_gap_at_the_premium_and_cuts_emissions_to_match():
    m = MarketModel(_clean_world([CLEAN]), seed=3)
    checked = 0
    for _ in range(TICKS):
        m.step()
        rows = m.last_ledger.rows
        for h in m.agents_of(Hyperscaler):
            energy = h.sold * h.spec.mw_per_h100e * 8760 / 4  # MWh, by hand
            paid = sum(a for payer, _, a, k in rows if payer == h.name and k == "clean_energy")
            c = CLEAN_SHARE[h.region]
            if m.tick - 1 < CLEAN["start"]:
                assert paid == 0.0 and h.clean_paid == 0.0
                fossil = 1.0
            else:
                # It buys (0.7 - c) of its energy clean at $30/MWh ...
                assert paid == pytest.approx((0.7 - c) * energy * 30.0, rel=1e-9)
                assert h.clean_paid == pytest.approx(paid, rel=1e-12)
                # ... and the fossil share of its energy falls from 1 - c to 1 - 0.7.
                fossil = (1 - 0.7) / (1 - c)
                checked += 1
            expected = energy * INTENSITY[h.region] / 1000 * fossil
            assert h.footprint.emissions_t == pytest.approx(expected, rel=1e-9)
    assert checked == 2 * (TICKS - 1)
    ticks = m.tables()["ticks"]
    assert sum(ticks["clean_paid"]) > 0


def test_a_requirement_below_the_grids_clean_share_costs_nothing_and_changes_nothing():
    low = dict(CLEAN, factor=0.3)  # below the US grid's 0.4, above TW's 0.1
    base, req = _run(_clean_world()), _run(_clean_world([low]))
    a = {(r["tick"], r["agent"]): r for r in _rows(base.tables())}
    for r in _rows(req.tables()):
        if r["type"] == "Hyperscaler" and r["region"] == "US":
            assert r["clean_paid"] == 0.0
            assert r["emissions_t"] == pytest.approx(a[(r["tick"], r["agent"])]["emissions_t"])
        elif r["type"] == "Hyperscaler" and r["tick"] >= 1:
            assert r["clean_paid"] > 0


def test_a_clean_energy_requirement_raises_the_compute_ask_by_its_cost_per_h100e_quarter():
    base = _run(_clean_world(demand=0.3))
    req = _run(_clean_world([CLEAN], demand=0.3))

    def compute_price(m):
        p = m.tables()["prices"]
        return [x for g, x in zip(p["good"], p["price"]) if g == "compute"]

    markup = {r["agent"]: r["markup"] for r in _rows(base.tables())
              if r["tick"] == 0 and r["type"] == "Hyperscaler"}  # fmt: skip
    asks = []
    for h in _world().hyperscalers:
        mwh = h.mw_per_h100e * 8760 / 4  # MWh per H100e-quarter
        asks.append((h.opex + mwh * (0.7 - CLEAN_SHARE[h.region]) * 30.0) * (1 + markup[h.name]))
    assert compute_price(req)[1] == pytest.approx(min(asks), rel=1e-6)
    assert compute_price(req)[1] > compute_price(base)[1]


def test_money_is_conserved_with_a_clean_energy_requirement():
    m = MarketModel(_clean_world([CLEAN]), seed=5)
    for _ in range(TICKS):
        net = step_with_money_check(m)
        assert net.get(EXTERNAL, 0.0) != 0.0  # the clean-energy premium leaves the model


def test_a_clean_energy_share_above_one_is_refused_by_name():
    bad = dict(CLEAN, factor=1.5)
    assert "shocks[0].factor" in _refusal(shocks=[bad])
