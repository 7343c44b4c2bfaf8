"""DRAM and memory makers (ODD 7.12): HBM and conventional DRAM share each maker's pool
of DRAM wafer starts, the outside DRAM buyers' demand curve sets the DRAM price, and a
``dram_demand`` shock moves wafers out of HBM.

Runs pair the baseline with ``dram_demand_shock.toml`` (1.5x outside demand from
2026Q1 = tick 4) on the same seeds. Expectations come from outside the agents'
bookkeeping: the shipped GB in the flows table, the specs' GB per wafer, the demand
curve's elasticity, and the ledger."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from worlds import small_world, step_with_money_check

from experiments.scenarios import ScenarioError, load_scenario, validate_scenario
from market.agents import DramBuyers, MemoryMaker
from market.model import MarketModel

TICKS = 12
SHOCK_START = 4  # 2026Q1
SEEDS = (0, 1)


def _run(name: str, seed: int) -> MarketModel:
    m = MarketModel(load_scenario(name), seed=seed)
    m.run(TICKS)
    return m


@pytest.fixture(scope="module")
def paired() -> list[tuple[MarketModel, MarketModel]]:
    """(baseline, shocked) models run on the same seeds."""
    return [(_run("baseline", s), _run("dram_demand_shock", s)) for s in SEEDS]


def _table(m: MarketModel, name: str) -> pd.DataFrame:
    return pd.DataFrame(m.tables()[name])


def _price(m: MarketModel, good: str) -> pd.Series:
    p = _table(m, "prices")
    return p[p.good == good].set_index("tick").price


def _shipped(m: MarketModel, good: str) -> pd.Series:
    """GB of ``good`` the memory makers shipped per tick (flows table: spot + contract)."""
    f = _table(m, "flows")
    makers = {a.name for a in m.agents_of(MemoryMaker)}
    f = f[(f.good == good) & f.seller.isin(makers)]
    return f.groupby("tick").quantity.sum().reindex(range(TICKS), fill_value=0.0)


def _available(m: MarketModel, good: str) -> pd.Series:
    """GB of ``good`` the memory makers could make per tick (capacity table, after shocks)."""
    c = _table(m, "capacity")
    makers = {a.name for a in m.agents_of(MemoryMaker)}
    return c[(c.good == good) & c.agent.isin(makers)].groupby("tick").available.sum()


def _maker_column(m: MarketModel, column: str) -> pd.Series:
    a = _table(m, "agents")
    return a[a.type == "MemoryMaker"].groupby("tick")[column].sum()


def test_the_dram_price_clears_near_its_2025_level_and_hbm_takes_about_a_fifth_of_wafers(paired):
    base, _ = paired[0]
    dram_2025 = _price(base, "dram").loc[0:3].mean()
    assert 2.5 <= dram_2025 <= 3.7  # $/GB: the 2025 average, $3.0-3.7 (baseline.toml)
    share = (_maker_column(base, "hbm_wafers") / _maker_column(base, "wafers")).loc[0]
    assert 0.15 <= share <= 0.22  # TrendForce: HBM 18% of DRAM wafers, end-2025


def test_a_dram_demand_shock_raises_the_dram_price_within_the_demand_curves_bound(paired):
    buyers = load_scenario("baseline").dram_buyers[0]
    bound = 1.5 ** (1 / buyers.elasticity)  # a fixed supply meeting 1.5x the demand curve
    step = (buyers.span**2) ** (1 / buyers.steps)  # the curve's price step
    for base, shocked in paired:
        before, after = _price(base, "dram"), _price(shocked, "dram")
        assert after.loc[: SHOCK_START - 1].equals(before.loc[: SHOCK_START - 1])
        ratio = after.loc[SHOCK_START] / before.loc[SHOCK_START]
        # In the first shocked tick the wafer split is last tick's, so supply is the same
        # in both runs: the price rises by the demand curve's factor (at most, if the
        # baseline sold below its supply), within one price step.
        assert 1.3 < ratio <= bound * step
        assert (after.loc[SHOCK_START:] > before.loc[SHOCK_START:]).all()


def test_a_dram_demand_shock_pulls_wafers_and_gb_from_hbm_into_dram(paired):
    late = slice(SHOCK_START + 4, TICKS - 1)  # a year into the shock
    for base, shocked in paired:
        hbm_w = _maker_column(shocked, "hbm_wafers") - _maker_column(base, "hbm_wafers")
        dram_w = _maker_column(shocked, "dram_wafers") - _maker_column(base, "dram_wafers")
        assert (hbm_w.loc[late] < 0).all() and (dram_w.loc[late] > 0).all()
        # HBM GB that can be made falls (what is shipped follows the designers' orders
        # while HBM is not sold out); DRAM GB made rises.
        hbm_gb = _available(shocked, "hbm") - _available(base, "hbm")
        dram_gb = _shipped(shocked, "dram") - _shipped(base, "dram")
        assert (hbm_gb.loc[late] < 0).all()
        assert (dram_gb.loc[late] > 0).all()


def test_with_hbm_contracts_the_hbm_price_moves_less_than_the_dram_price(paired):
    window = slice(SHOCK_START, TICKS - 1)
    for base, shocked in paired:
        dram = _price(shocked, "dram").loc[window] / _price(base, "dram").loc[window] - 1
        hbm = _price(shocked, "hbm").loc[window] / _price(base, "hbm").loc[window] - 1
        assert hbm.abs().mean() < dram.abs().mean() / 4
        # ... because most HBM moves under contracts at their own prices.
        p = _table(shocked, "prices")
        h = p[(p.good == "hbm") & p.tick.between(SHOCK_START, TICKS - 1)]
        assert h.contract_volume.sum() > h.volume.sum()


def test_hbm_contracts_are_served_first_while_wafers_leave_hbm(paired):
    for _, shocked in paired:
        c = _table(shocked, "contracts")
        hbm = c[(c.good == "hbm") & (c.tick >= SHOCK_START)]
        assert len(hbm) > 0
        assert (hbm.shortfall <= 1e-6 * hbm.nominated.clip(lower=1.0)).all()


def _pool_use(m: MarketModel) -> list[tuple[float, float, float]]:
    """Per maker (with a pool) and tick: (wafers used, wafer starts available, hbm_wafers +
    dram_wafers). Wafers used = HBM GB shipped / g_h + DRAM GB shipped / g_d, with g from the
    maker's spec and the tick (not from its own split)."""
    f = _table(m, "flows")
    a = _table(m, "agents").set_index(["tick", "agent"])
    tpy = m.world.meta.ticks_per_year
    rows = []
    for spec in m.world.memory_makers:
        if spec.wafers <= 0:
            continue
        mine = f[f.seller == spec.name]
        for t in range(m.tick):
            years = t / tpy
            g_h = spec.hbm_gb_per_wafer * (1 + spec.hbm_gb_growth) ** years
            g_d = spec.dram_gb_per_wafer * (1 + spec.dram_gb_growth) ** years
            now = mine[mine.tick == t]
            used = (
                now[now.good == "hbm"].quantity.sum() / g_h
                + now[now.good == "dram"].quantity.sum() / g_d
            )
            row = a.loc[(t, spec.name)]
            rows.append((used, row["wafers"], row["hbm_wafers"] + row["dram_wafers"]))
    return rows


def _assert_pool_holds(rows: list[tuple[float, float, float]]) -> None:
    assert rows  # at least one maker with a pool, one tick
    for used, pool, split in rows:
        assert used <= pool * (1 + 1e-6)
        assert split == pytest.approx(pool, rel=1e-9)


def test_wafers_into_hbm_and_dram_never_exceed_the_pool(paired):
    for _, shocked in paired:
        rows = _pool_use(shocked)
        assert len(rows) == 3 * TICKS  # three makers with a pool, every tick
        assert all(used <= pool * (1 + 1e-6) for used, pool, _ in rows)
        assert all(split == pytest.approx(pool, rel=1e-9) for _, pool, split in rows)


def test_a_halved_pool_is_still_never_exceeded():
    data = load_scenario("dram_demand_shock").model_dump(mode="python")
    data["shocks"] = [
        *data["shocks"],
        {"kind": "capacity_drop", "start": 2, "end": 8, "target": "SK hynix", "factor": 0.5},
    ]
    m = MarketModel(validate_scenario(data, "halved.toml"), seed=3)
    m.run(10)
    _assert_pool_holds(_pool_use(m))
    a = _table(m, "agents")
    hynix = a[a.agent == "SK hynix"].set_index("tick").wafers
    assert hynix.loc[2] == pytest.approx(hynix.loc[1] / 2, rel=1e-9)


def test_money_is_conserved_with_dram_buyers():
    m = MarketModel(load_scenario("dram_demand_shock"), seed=2)
    for _ in range(8):
        step_with_money_check(m)
        paid = sum(x for p, _, x, k in m.last_ledger.rows if k == "spot:dram")
        expected = sum(q * price for _, _, g, q, price in m.outcome.spot if g == "dram")
        assert paid == pytest.approx(expected, rel=1e-9) and paid > 0


def test_the_dram_buyers_get_what_their_curve_wants_at_the_price():
    m = MarketModel(load_scenario("baseline"), seed=0)
    for _ in range(4):
        m.step()
        (buyer,) = m.agents_of(DramBuyers)
        price = m.outcome.node_price(buyer.name, "dram")
        # Step bids: at the clearing price it gets between what the curve wants one
        # step above and one step below.
        s = buyer.spec
        step = (s.span**2) ** (1 / s.steps)
        assert buyer.wanted_at(price * step) * (1 - 1e-6) <= buyer.received
        assert buyer.received <= buyer.wanted_at(price / step) * (1 + 1e-6)


def test_without_a_wafer_pool_a_memory_maker_makes_hbm_only():
    m = MarketModel(small_world(), seed=1)
    m.run(3)
    (maker,) = m.agents_of(MemoryMaker)
    assert set(maker.lines) == {"hbm"}
    assert not any(g == "dram" for _, _, g in m.flows)
    line = maker.line("hbm")
    assert line.available == pytest.approx(line.capacity * m.policy.capacity_factor("hynix"))


@pytest.mark.parametrize("target", ["hynix", "azure"])
def test_a_dram_demand_shock_refuses_a_target_that_is_not_a_dram_buyer(target):
    data = small_world().model_dump(mode="python")
    data["shocks"] = [
        {"kind": "dram_demand", "start": 1, "end": 3, "target": target, "factor": 1.5}
    ]
    with pytest.raises(ScenarioError) as err:
        validate_scenario(data, "dram.toml")
    assert "shocks[0].target" in str(err.value) and "dram_buyers" in str(err.value)


def test_the_shock_scales_only_the_outside_dram_demand(paired):
    base, shocked = paired[0]
    a, b = _table(base, "agents"), _table(shocked, "agents")
    d0 = a[a.type == "DramBuyers"].set_index("tick").demand
    d1 = b[b.type == "DramBuyers"].set_index("tick").demand
    np.testing.assert_allclose(d1.loc[SHOCK_START:] / d0.loc[SHOCK_START:], 1.5, rtol=1e-12)
    np.testing.assert_allclose(d1.loc[: SHOCK_START - 1], d0.loc[: SHOCK_START - 1])
    labs = a[a.type == "Lab"].demand.sum(), b[b.type == "Lab"].demand.sum()
    assert labs[0] == pytest.approx(labs[1], rel=1e-12)


def _late_prices(world, seed: int) -> dict[str, float]:
    """Mean transaction price per good over 2030-34 (ticks 20-39)."""
    m = MarketModel(world, seed=seed)
    m.run(40)
    p = _table(m, "prices")
    return p[p.tick >= 20].groupby("good").price.mean().to_dict()


@pytest.mark.parametrize("agent", ["Samsung HBM", "Micron"])
def test_a_1e_9_change_of_a_wafer_pool_moves_no_2030_34_price_by_1_percent(agent):
    """The wafer split is a continuous rule: a hair more wafers changes nothing visible
    (the robustness rule of tests/market/test_robustness.py, on the new tier)."""
    world = load_scenario("baseline")
    data = world.model_dump(mode="python")
    (spec,) = [s for s in data["memory_makers"] if s["name"] == agent]
    spec["wafers"] *= 1 + 1e-9
    nudged = validate_scenario(data, "nudged.toml")
    for seed in range(4):
        a, b = _late_prices(world, seed), _late_prices(nudged, seed)
        assert a.keys() == b.keys() and "dram" in a
        for g in a:
            assert b[g] == pytest.approx(a[g], rel=0.01), (seed, g)
