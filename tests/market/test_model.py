"""The market model's tick: money, stocks, determinism, shocks, contracts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from worlds import small_world

from market.agents import ChipDesigner, Hyperscaler, Lab
from market.agents.supplier import Supplier
from market.ledger import EXTERNAL
from market.model import MarketModel


def run(scenario, seed: int = 1, ticks: int | None = None) -> MarketModel:
    m = MarketModel(scenario, seed=seed)
    m.run(ticks)
    return m


def test_money_is_conserved_every_tick():
    m = MarketModel(small_world(), seed=3)
    for _ in range(m.world.meta.horizon):
        before = {a.name: a.cash for a in m.by_name.values()}
        m.step()
        net = m.last_ledger.net()
        # Every transfer between agents nets to zero: agents' total change is
        # exactly what came from or went to outside the model.
        change = sum(a.cash - before[a.name] for a in m.by_name.values())
        assert change == pytest.approx(net.get(EXTERNAL, 0.0) * -1, rel=1e-9, abs=1e-3)
        for a in m.by_name.values():
            assert a.cash - before[a.name] == pytest.approx(net.get(a.name, 0.0), abs=1e-3)
        # Spot trades: what buyers paid equals what sellers got plus the routes' costs.
        paid = sum(amount for p, _, amount, k in m.last_ledger.rows if k.startswith("spot"))
        expected = sum(q * price for _, _, _, q, price in m.outcome.spot)
        assert paid == pytest.approx(expected, rel=1e-9)


def test_stocks_follow_their_flows():
    m = MarketModel(small_world(), seed=2)
    for _ in range(m.world.meta.horizon):
        hypers = {h.name: (h.fleet_size, h.power_mw) for h in m.agents_of(Hyperscaler)}
        t = m.tick
        retiring = {
            h.name: sum(q for cs in h.fleet.values() for r, q, *_ in cs if r <= t)
            for h in m.agents_of(Hyperscaler)
        }
        m.step()
        for h in m.agents_of(Hyperscaler):
            fleet0, mw0 = hypers[h.name]
            bought = sum(m.outcome.inflows(h.name, "accelerator").values())
            assert h.fleet_size == pytest.approx(fleet0 - retiring[h.name] + bought, rel=1e-9)
            assert h.power_mw == pytest.approx(
                mw0 + sum(m.outcome.inflows(h.name, "power").values())
            )
        for d in m.agents_of(ChipDesigner):
            shipped = sum(m.outcome.outflows(d.name, "accelerator").values())
            assert d.made == pytest.approx(shipped, rel=1e-7, abs=1e-6)
        for s in m.agents_of(Supplier):
            for line in s.lines.values():
                assert line.sold <= line.available * (1 + 1e-9) + 1e-6


def test_ordered_capacity_arrives_exactly_after_the_lead_time_and_depreciates():
    # Depreciation on, the supplier's own expansions and designers' reservations off, so
    # the capacity path is known in closed form: K_t = K0 (1-d)^(t+1) + q (1-d)^(t-l) for
    # t >= l (the order placed at tick 0 arrives in tick l's prepare step), else without q.
    world = small_world()
    hbm = world.memory_makers[0].model_copy(update={"depreciation": 0.05})
    rules = world.behaviour.model_copy(
        update={"expansion_trigger": 1.0, "payback_ticks": 1e-9, "reservation_trigger": 1e4}
    )
    m = MarketModel(world.model_copy(update={"memory_makers": (hbm,), "behaviour": rules}), 4)
    hynix = m.by_name["hynix"]
    line = hynix.lines["hbm"]
    k0, d, q, lead = line.capacity, 0.05, 1000.0, line.lead_time
    hynix.expand(line, q, line.capex_per_unit)
    for t in range(lead + 3):
        m.step()
        expected = k0 * (1 - d) ** (t + 1) + (q * (1 - d) ** (t - lead) if t >= lead else 0.0)
        assert line.capacity == pytest.approx(expected, rel=1e-12), f"tick {t}"


def _tables_equal(a: dict, b: dict) -> bool:
    for name in a:
        for col in a[name]:
            x, y = a[name][col], b[name][col]
            if len(x) != len(y):
                return False
            for u, v in zip(x, y, strict=True):
                if isinstance(u, float) and isinstance(v, float):
                    if not (u == v or (math.isnan(u) and math.isnan(v))):
                        return False
                elif u != v:
                    return False
    return True


def test_same_seed_gives_identical_tables_and_different_seeds_differ():
    a = run(small_world(), seed=7).tables()
    b = run(small_world(), seed=7).tables()
    c = run(small_world(), seed=8).tables()
    assert _tables_equal(a, b)
    assert not _tables_equal(a, c)


def test_closed_route_carries_nothing_for_the_whole_shock_window():
    shocks = [
        {"kind": "export_control", "start": 3, "end": 9, "from_region": "TW",
         "to_region": "US", "goods": ["wafer", "cowos"], "factor": 0.0},
    ]  # fmt: skip
    m = MarketModel(small_world(shocks=shocks), seed=1)
    carried_before = 0.0
    for _ in range(m.world.meta.horizon):
        m.step()
        tw_to_us = [
            (r, q)
            for r, q in zip(m.book.routes, m.clearing.route_flows)
            if r.seller in ("tsmc", "ase") and r.good in ("wafer", "cowos")
        ]
        if 3 <= m.tick - 1 < 9:
            assert all(not r.allowed for r, _ in tw_to_us)
            assert all(q == 0.0 for _, q in tw_to_us)
            assert all(q == 0.0 for (s, _, g), q in m.flows.items() if s in ("tsmc", "ase"))
        else:
            carried_before += sum(q for _, q in tw_to_us)
    assert carried_before > 0  # the routes do carry goods outside the window


def test_under_scarcity_a_lab_with_a_contract_is_served_first():
    # Demand far above the fleet: compute is scarce. "spot" holds a take-or-pay contract.
    labs = [
        {"name": "rich", "region": "US", "training": 200000, "inference": 200000,
         "training_value": 9000, "inference_value": 9000, "volatility": 0.0},
        {"name": "spot", "region": "US", "training": 30000, "inference": 30000,
         "training_value": 1000, "inference_value": 1000, "volatility": 0.0},
    ]  # fmt: skip
    contracts = [
        {"kind": "take_or_pay", "seller": "azure", "buyer": "spot", "good": "compute",
         "quantity": 20000, "price": 1500, "term": 12},
    ]  # fmt: skip
    m = MarketModel(small_world(labs=labs, contracts=contracts), seed=1)
    for _ in range(4):
        m.step()
        spot, rich = m.by_name["spot"], m.by_name["rich"]
        assert rich.unmet > 0  # scarce: the richer bidder is not fully served
        assert spot.received >= 20000 * 0.8 - 1e-6  # the contract is served
        assert spot.received > 0
    plain = MarketModel(small_world(labs=labs), seed=1)
    plain.step()
    assert plain.by_name["spot"].received < 1e-6  # without it, the poor bidder gets nothing


def test_taiwan_outage_raises_accelerator_prices_and_unmet_demand():
    outage = [{"kind": "outage", "start": 2, "end": 8, "target": "TW", "factor": 0.0}]
    base = run(small_world(), seed=5).tables()
    shock = run(small_world(shocks=outage), seed=5).tables()

    def series(tables, good):
        p = tables["prices"]
        return np.array([v for g, v in zip(p["good"], p["price"]) if g == good])

    def unmet(tables):
        a = tables["agents"]
        out = np.zeros(12)
        for t, typ, u in zip(a["tick"], a["type"], a["unmet"]):
            if typ == "Lab":
                out[t] += u
        return out

    window = slice(3, 8)
    b_acc, s_acc = series(base, "accelerator"), series(shock, "accelerator")
    assert not np.isnan(s_acc[window]).any()
    assert s_acc[window].mean() > b_acc[window].mean()
    assert unmet(shock)[window].sum() > unmet(base)[window].sum()


def test_removing_all_contracts_makes_contract_coverage_zero():
    with_contracts = run(small_world(), seed=1).tables()["coverage"]["coverage"]
    assert any(c > 0 for c in with_contracts)  # agents sign contracts as scarcity shows
    m = run(small_world(contracts=[], behaviour={"contracting": False}), seed=1)
    cov = m.tables()["coverage"]["coverage"]
    assert len(cov) > 0
    assert all(c == 0.0 for c in cov)
    assert not m.contracts.contracts


def test_labs_bid_their_demand_and_report_unmet():
    m = run(small_world(), seed=1, ticks=3)
    for lab in m.agents_of(Lab):
        assert lab.unmet == pytest.approx(max(0.0, lab.demand - lab.received))


def test_a_tick_leaves_the_callers_garbage_collector_settings_as_it_found_them():
    import gc

    from market.model import GC_GEN0_PER_TICK

    m = MarketModel(small_world(), seed=1)
    old = gc.get_threshold()
    try:
        gc.set_threshold(500, 7, 9)
        m.step()
        assert gc.get_threshold() == (500, 7, 9)
        seen = []
        m.desk.sign_requests = lambda: seen.append(gc.get_threshold())  # read inside a tick
        m.step()
        assert seen == [(GC_GEN0_PER_TICK, 7, 9)]
        assert gc.get_threshold() == (500, 7, 9)
    finally:
        gc.set_threshold(*old)
