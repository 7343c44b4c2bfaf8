"""Chip generations (ODD 7.15): ramps, fleets by generation, power by generation."""

from __future__ import annotations

import pytest
from worlds import small_world, step_with_money_check

from market.generations import mw_factors, shares
from market.model import MarketModel
from market.scenario import Scenario

OLD = {
    "name": "old",
    "ramped": 1.0,
    "h100e_per_chip": 1.0,
    "hbm_per_chip": 80,
    "chips_per_wafer": 30,
    "chips_per_cowos_wafer": 24,
    "unit_cost": 2500,
    "tdp_w": 700,
}
NEW = {"name": "new", "launch": 2, "ramp_ticks": 3, "h100e_per_chip": 2.0,
       "hbm_per_chip": 288, "chips_per_wafer": 15, "chips_per_cowos_wafer": 12,
       "unit_cost": 3000, "tdp_w": 1000}  # fmt: skip


def gen_world(hbm: float | None = None, new: dict | None = None) -> Scenario:
    """``small_world`` whose ``nvidia`` has an old and a new generation (the new one needs
    144 GB of HBM per H100e against the old one's 80); ``hbm`` sets the HBM capacity."""
    data = small_world().model_dump(mode="python")
    data["designers"][0]["generations"] = [OLD, new or NEW]
    if hbm is not None:
        data["memory_makers"][0]["capacity"] = hbm
    return Scenario.model_validate(data)


def test_ramp_shares_add_to_one_and_the_new_generation_takes_over():
    gens = gen_world().designers[0].generations
    for t in range(8):
        assert sum(shares(gens, t)) == pytest.approx(1.0)
    assert shares(gens, 1) == [1.0, 0.0]
    assert shares(gens, 2) == pytest.approx([2 / 3, 1 / 3])
    assert shares(gens, 4) == pytest.approx([0.0, 1.0])
    # An oldest generation not fully ramped still carries all the output it is left.
    half = tuple(g.model_copy(update={"ramped": 0.5}) for g in gens[:1])
    assert shares(half, 0) == [1.0]


def test_old_generation_needs_more_mw_per_h100e_exactly_as_the_tdp_ratio_says():
    w = gen_world()
    f = mw_factors(w.designers)
    # W per H100e: old 700 / 1, new 1000 / 2 -> ratio 1.4, the start mix (all old) = 1.
    assert f[("nvidia", "old")] == pytest.approx(1.0)
    assert f[("nvidia", "old")] / f[("nvidia", "new")] == pytest.approx(700 / 500)
    m = MarketModel(w, seed=1)
    h = m.by_name["azure"]
    for key in list(h.gen_units):
        h.gen_units[key] = 0.0
    for gname in ("old", "new"):
        h.gen_units = {("nvidia", gname): 1000.0}
        powered = h._power_fleet(1e9)
        assert powered == pytest.approx(1000.0)
        per = h.spec.mw_per_h100e * f[("nvidia", gname)]
        assert h.mw_per_sold == pytest.approx(per)
    # Short of MW, the most efficient generation is powered first.
    h.gen_units = {("nvidia", "old"): 1000.0, ("nvidia", "new"): 1000.0}
    mw = h.spec.mw_per_h100e * f[("nvidia", "new")] * 1000.0
    assert h._power_fleet(mw) == pytest.approx(1000.0)
    assert h.gen_powered[("nvidia", "new")] == pytest.approx(1000.0)
    assert h.gen_powered[("nvidia", "old")] == pytest.approx(0.0, abs=1e-9)


def test_an_old_fleet_serves_compute_at_more_energy_per_h100e():
    energy, mw = {}, {}
    for gname in ("old", "new"):
        m = MarketModel(gen_world(), seed=2)
        for name in ("azure", "google"):  # every nvidia chip of one generation
            h = m.by_name[name]
            for c in h.fleet["nvidia"]:
                c[2] = gname
            h._tally()
        m.step()
        h = m.by_name["azure"]
        assert h.sold > 0
        energy[gname] = h.footprint.energy_mwh / h.sold
        mw[gname] = h.mw_per_sold
    # W per H100e: old 700 / 1, new 1000 / 2: the old fleet draws 1.4x per H100e-quarter.
    assert energy["old"] / energy["new"] == pytest.approx(700 / 500, rel=1e-6)
    assert mw["old"] / mw["new"] == pytest.approx(700 / 500, rel=1e-9)


def test_a_new_generation_ramps_only_when_its_hbm_allows():
    def run(hbm: float) -> tuple[list[float], list[float], float]:
        m = MarketModel(gen_world(hbm=hbm), seed=4)
        made_new, made_old = [], []
        for _ in range(6):
            m.step()
            d = m.by_name["nvidia"]
            made_old.append(d.gen_made[0])
            made_new.append(d.gen_made[1])
        return made_old, made_new, d.gen_inputs[1]["hbm"]

    old_ok, new_ok, _ = run(2.0e7)
    old_cut, new_cut, gb = run(1.0e6)  # HBM for ~12k old-generation H100e a tick, ~7k new
    assert sum(new_ok[2:]) > 0  # with HBM it ramps
    # Short of HBM, the one that needs more of it (the new one) makes less, never more than
    # the HBM made in a tick allows (gb per H100e), and the old one fills.
    assert all(q * gb <= 1.0e6 * (1 + 1e-6) for q in new_cut)
    assert max(q * gb for q in new_ok) > 1.0e6  # with plenty of HBM it goes past that
    assert sum(new_cut[2:]) < sum(new_ok[2:])
    assert sum(old_cut[2:]) > sum(old_ok[2:])


def test_the_generation_mix_of_deliveries_adds_up_to_what_was_made():
    m = MarketModel(gen_world(), seed=5)
    hypers = [m.by_name[h.name] for h in m.world.hyperscalers]
    for _ in range(6):
        # Installs of this tick by generation: the cohorts that retire fleet_life from now.
        m.step()
        d = m.by_name["nvidia"]
        for i, g in enumerate(d.generations):
            got = 0.0
            for h in hypers:
                got += sum(
                    c[1]
                    for c in h.fleet.get("nvidia", [])
                    if c[2] == g.name and c[0] == m.tick + h.spec.fleet_life
                )
            assert got == pytest.approx(d.gen_made[i], rel=1e-9, abs=1e-6)


def test_money_is_conserved_with_generations():
    m = MarketModel(gen_world(), seed=3)
    for _ in range(6):
        step_with_money_check(m)


def test_one_generation_equal_to_the_designers_fields_behaves_as_the_designer_alone():
    """The first tick equal up to float rounding (the hyperscalers' compute asks come per
    bucket, so sums are taken in another order and the LP may break later ties another
    way). A world without generations runs the old code path unchanged (checked field by
    field against the code before generations: ODD 7.15)."""
    plain = small_world()
    data = plain.model_dump(mode="python")
    d = data["designers"][0]
    d["generations"] = [{
        "name": "only", "ramped": 1.0, "h100e_per_chip": d["h100e_per_chip"],
        "hbm_per_chip": d["hbm_per_chip"], "chips_per_wafer": d["chips_per_wafer"],
        "chips_per_cowos_wafer": d["chips_per_cowos_wafer"], "unit_cost": d["unit_cost"],
        "tdp_w": 700,
    }]  # fmt: skip
    a, b = MarketModel(plain, seed=7), MarketModel(Scenario.model_validate(data), seed=7)
    a.run(1)
    b.run(1)
    ta, tb = a.tables(), b.tables()
    for table in ("ticks", "prices", "agents"):
        ra, rb = ta[table], tb[table]
        cols = ra.keys() if isinstance(ra, dict) else None
        if cols is None:
            continue
        for col in cols:
            for x, y in zip(ra[col], rb[col]):
                if isinstance(x, float):
                    assert y == pytest.approx(x, rel=1e-9, abs=1e-6, nan_ok=True), (table, col)
                else:
                    assert x == y, (table, col)


def test_generations_with_a_product_schedule_are_refused_by_field():
    data = gen_world().model_dump(mode="python")
    data["product_schedules"] = [{"designer": "nvidia", "date": 2, "hbm_per_chip": 100}]
    with pytest.raises(ValueError, match=r"designers\[0\]\.generations: product_schedules"):
        Scenario.model_validate(data)


def test_under_weak_demand_the_old_generation_idles_first():
    data = gen_world().model_dump(mode="python")
    for h in data["hyperscalers"]:
        h["opex_energy_share"] = 0.5
        h["power_mw"] = 1000.0  # every chip powered: only the asks decide who rents
    for lab in data["labs"]:  # demand well below the fleets
        lab["training"] *= 0.2
        lab["inference"] *= 0.2
    m = MarketModel(Scenario.model_validate(data), seed=6)
    h = m.by_name["azure"]
    for i, c in enumerate(h.fleet["nvidia"]):  # half of its fleet old, half new
        c[2] = "old" if i % 2 else "new"
    h._tally()
    m.step()
    old, new = ("nvidia", "old"), ("nvidia", "new")
    # The old generation's ask is dearer by opex x e x (f_old - f_new) per H100e-quarter.
    f = h.mw_factor
    gap = h.spec.opex * 0.5 * (f[old] - f[new])
    assert h.bucket_cost(old) - h.bucket_cost(new) == pytest.approx(gap)
    util = {k: h.gen_sold[k] / h.gen_available[k] for k in (old, new)}
    assert util[new] > util[old]
    assert h.gen_sold[old] < h.gen_available[old] * (1 - 1e-6)


def test_a_mid_tick_recap_keeps_each_generation_within_its_plan():
    """When pools go into allocation mid-tick the recipes are re-capped from the inputs
    secured; a generation not yet on sale stays at 0 and a ramping one within its planned
    share (once every generation took the full cap and the oldest flooded the market)."""
    m = MarketModel(gen_world(), seed=1)
    for _ in range(3):  # tick 2: "new" launches; its plan is its first ramp share
        m.step()
        d = m.by_name["nvidia"]
        before = [r.capacity for name, r, _ in m.orders.recipes if name == "nvidia"]
        m._recap_recipes()
        after = [r.capacity for name, r, _ in m.orders.recipes if name == "nvidia"]
        assert len(after) == 2
        cap = d.allocation_cap()
        assert after[0] == pytest.approx(cap)  # the oldest on sale fills the rest
        if d.gen_share[1] == 0:
            assert before[1] == after[1] == 0
        else:
            assert 0 < after[1] <= d.gen_share[1] * max(d.made_ema or 0, cap) + 1e-9
