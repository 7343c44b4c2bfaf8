"""Data-centre shells and cooling (issue 10 part 4, section 7.13): a new MW of a
hyperscaler's stock takes 1 MW of grid connection and 1 MW of shell; its PUE and WUE are
the MW-weighted averages of its shells', and energy, emissions and water follow them.

Expected values are worked out here from the scenario's numbers (start MW and fleet,
MW per H100e, the developer's capacity, PUE and WUE) and the flows table, with 8,760
hours a year, not by calling the code under test."""

from __future__ import annotations

import pytest
from worlds import small_world, stack_world

from experiments.scenarios import ScenarioError, validate_scenario
from market.agents import Hyperscaler
from market.model import MarketModel

REL = 1e-6  # stated tolerance on solver quantities
HOURS = 8760 / 4


def _spare_shell(world) -> float:
    """MW of shell the hyperscalers hold beyond their start fleets' need, from the spec."""
    return sum(h.power_mw - sum(h.fleet.values()) * h.mw_per_h100e for h in world.hyperscalers)


def _free_shell(m: MarketModel) -> float:
    """MW of shell the hyperscalers hold beyond what their fleets need at the coming tick
    (after this tick's retirements), read from their stocks before the tick."""
    free = 0.0
    for h in m.agents_of(Hyperscaler):
        kept = sum(q for cs in h.fleet.values() for r, q, *_ in cs if r > m.tick)
        free += max(0.0, h.shell_mw - kept * h.spec.mw_per_h100e)
    return free


def test_cut_shells_cap_new_mw_and_installs_at_the_developers_capacity():
    world = stack_world(shell_mw=5.0)
    m = MarketModel(world, seed=1)
    mw = world.hyperscalers[0].mw_per_h100e
    assert _free_shell(m) == pytest.approx(_spare_shell(world), rel=1e-12)  # none retire at 0
    binding = 0
    for _ in range(5):
        free = _free_shell(m)
        m.step()
        sold = m.by_name["builder"].line("shell").sold
        assert sold <= 5.0 * (1 + REL)
        bid = sum(sum(h.install_bids) for h in m.agents_of(Hyperscaler))
        installed = sum(h.installed for h in m.agents_of(Hyperscaler))
        if bid * mw > 1.5 * (free + 5.0):  # it binds: installs use every free and new MW
            assert sold == pytest.approx(5.0, rel=REL)
            assert installed == pytest.approx((free + 5.0) / mw, rel=1e-5)
            binding += 1
        else:
            assert installed * mw <= (free + 5.0) * (1 + REL)
    assert binding >= 3  # the cut bound in most ticks


def test_new_shell_mw_add_exactly_what_the_developers_sold():
    m = MarketModel(stack_world(shell_mw=50.0), seed=2)
    for _ in range(5):
        before = sum(h.shell_mw for h in m.agents_of(Hyperscaler))
        m.step()
        after = sum(h.shell_mw for h in m.agents_of(Hyperscaler))
        sold = m.by_name["builder"].line("shell").sold
        assert sold <= 50.0 * (1 + REL)
        assert after - before == pytest.approx(sold, rel=REL, abs=1e-9)


def test_an_outage_of_the_developer_stops_new_mw_beyond_the_spare():
    outage = {"kind": "outage", "start": 1, "end": 4, "target": "builder", "factor": 0.0}
    m = MarketModel(stack_world(shocks=[outage]), seed=1)
    mw = m.world.hyperscalers[0].mw_per_h100e
    m.step()
    for _ in range(3):
        free = _free_shell(m)
        m.step()
        assert m.by_name["builder"].line("shell").sold == 0.0
        installed = sum(h.installed for h in m.agents_of(Hyperscaler))
        assert installed * mw <= free * (1 + REL) + 1e-9


def test_pue_wue_energy_and_water_follow_the_mw_weighted_shells():
    world = stack_world(shell_mw=30.0)
    m = MarketModel(world, seed=4)
    m.run(6)
    tables = m.tables()
    flows = tables["flows"]
    agents = tables["agents"]
    dev = world.dc_developers[0]
    for spec in world.hyperscalers:
        bought = sum(
            q for t, s, b, g, q in zip(flows["tick"], flows["seller"], flows["buyer"],
                                       flows["good"], flows["quantity"])
            if s == dev.name and b == spec.name and g == "shell"
        )  # fmt: skip
        assert bought > 0
        start = spec.power_mw
        pue = (start * spec.pue + bought * dev.pue) / (start + bought)
        wue = (start * spec.wue + bought * dev.wue) / (start + bought)
        h = m.by_name[spec.name]
        assert h.pue == pytest.approx(pue, rel=1e-9)
        assert h.wue == pytest.approx(wue, rel=1e-9)
        assert dev.pue < h.pue < spec.pue  # between the start stock's and the new shells'
        rows = [i for i, (t, a) in enumerate(zip(agents["tick"], agents["agent"]))
                if a == spec.name and t == 5]  # fmt: skip
        (i,) = rows
        energy = h.sold * spec.mw_per_h100e * HOURS  # MWh: all-in MW x hours
        assert agents["energy_mwh"][i] == pytest.approx(energy, rel=1e-9)
        assert agents["water_m3"][i] == pytest.approx(energy / pue * wue, rel=1e-9)
        assert agents["pue"][i] == pytest.approx(pue, rel=1e-9)
    ticks = tables["ticks"]
    last = [i for i, t in enumerate(ticks["tick"]) if t == 5][0]
    water = sum(w for t, w in zip(agents["tick"], agents["water_m3"]) if t == 5 and w == w)
    assert ticks["water_m3"][last] == pytest.approx(water, rel=1e-12)


def test_a_distressed_sale_moves_shells_with_their_mw():
    m = MarketModel(stack_world(), seed=1)
    m.run(2)
    seller, buyer = m.by_name["azure"], m.by_name["google"]
    pue_before, shell_before = seller.pue, seller.shell_mw
    total = seller.shell_mw + buyer.shell_mw
    cohorts, mw = seller.sell_fleet(0.1)
    assert seller.shell_mw == pytest.approx(0.9 * shell_before, rel=1e-12)
    assert seller.pue == pytest.approx(pue_before, rel=1e-12)
    buyer.buy_fleet(cohorts, mw)
    assert seller.shell_mw + buyer.shell_mw == pytest.approx(
        total - 0.1 * shell_before + mw, rel=1e-12
    )


def test_shells_without_developers_are_refused_by_field():
    data = small_world().model_dump(mode="python")
    data["hyperscalers"][1]["shells"] = True
    with pytest.raises(ScenarioError) as err:
        validate_scenario(data, "shell.toml")
    text = str(err.value)
    assert "hyperscalers[1].shells" in text and "dc_developers" in text


def test_without_shells_pue_and_wue_stay_the_specs():
    m = MarketModel(small_world(), seed=1)
    m.run(3)
    for h in m.agents_of(Hyperscaler):
        assert (h.pue, h.wue) == (h.spec.pue, h.spec.wue)
        assert "shell" not in h.install_inputs


def test_baseline_shells_do_not_bind_in_2025_and_cost_8_to_12_million_per_mw():
    """PF section 10: $9.3-15.0M per MW of IT load (C&W 2025), i.e. ~$8-12M per all-in MW
    at PUE 1.2; shells were not the 2025 constraint."""
    from experiments.scenarios import load_scenario

    m = MarketModel(load_scenario("baseline"), seed=0)
    devs = [a for a in m.by_name.values() if type(a).__name__ == "DCDeveloper"]
    for _ in range(4):
        m.step()
        for d in devs:
            line = d.line("shell")
            assert line.sold < 0.9 * line.available, d.name
        us = m.by_name["Developers US"].line("shell").price()
        assert 8e6 <= us <= 12e6
