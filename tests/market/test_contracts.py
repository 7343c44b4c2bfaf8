"""Contracts in the running model: exclusivity, breaches, reservations, take-or-pay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from worlds import small_world

from experiments.scenarios import load_scenario
from market.model import MarketModel

SCENARIOS = Path(__file__).parents[2] / "experiments" / "scenarios"


def test_exclusive_equity_deal_closes_the_labs_routes_to_rival_hyperscalers():
    contracts = [
        {"kind": "equity_for_compute", "seller": "google", "buyer": "anthropic",
         "good": "compute", "quantity": 5000, "price": 3000, "term": 6, "equity_share": 0.1,
         "exclusive": True},
    ]  # fmt: skip
    m = MarketModel(small_world(contracts=contracts), seed=1)
    assert m.by_name["anthropic"].equity_given == pytest.approx(0.1)
    for _ in range(8):
        m.step()
        t = m.tick - 1
        to_lab = [(r, q) for r, q in zip(m.book.routes, m.clearing.route_flows)
                  if r.buyer == "anthropic" and r.good == "compute"]  # fmt: skip
        for r, q in to_lab:
            if r.seller != "google" and t < 6:
                assert not r.allowed and q == 0.0
            if t >= 6:
                assert r.allowed  # the exclusivity ends with the term
        got = m.outcome.inflows("anthropic", "compute")
        if t < 6:
            assert set(got) <= {"google"}
            # Credits were paid in equity: no cash changes hands for them.
            paid = [x for x in m.last_ledger.rows if x[3] == "contract:compute"
                    and x[0] == "anthropic"]  # fmt: skip
            assert paid == []


def test_a_seller_that_cannot_deliver_pays_the_breach_penalty():
    # 68k H100e-quarters a tick from azure to openai (which wants 70k): beyond azure's 60k.
    contracts = [
        {"kind": "take_or_pay", "seller": "azure", "buyer": "openai", "good": "compute",
         "quantity": 6.8e4, "price": 3000, "term": 4, "min_take": 1.0},
    ]  # fmt: skip
    m = MarketModel(small_world(contracts=contracts), seed=1)
    m.step()
    (k, delivered, short) = next(x for x in m.outcome.deliveries if x[0].seller == "azure")
    assert short > 0 and k.breaches == 1
    rate = m.world.behaviour.shortfall_penalty
    penalties = [amt for p, q, amt, kind in m.last_ledger.rows if kind == "penalty"]
    assert sum(penalties) == pytest.approx(rate * 3000 * short)
    paid = sum(amt for p, q, amt, kind in m.last_ledger.rows if kind == "contract:compute")
    assert paid == pytest.approx(3000 * delivered)
    assert delivered == pytest.approx(m.by_name["azure"].available, rel=1e-6)


def test_take_or_pay_buyer_pays_its_minimum_but_leaves_what_it_does_not_need_with_the_seller():
    labs = [
        {"name": "tiny", "region": "US", "training": 100, "inference": 100,
         "training_value": 4000, "inference_value": 6000, "volatility": 0.0},
    ]  # fmt: skip
    contracts = [
        {"kind": "take_or_pay", "seller": "azure", "buyer": "tiny", "good": "compute",
         "quantity": 10000, "price": 2000, "term": 4, "min_take": 0.6},
    ]  # fmt: skip
    m = MarketModel(small_world(labs=labs, contracts=contracts), seed=1)
    m.step()
    m.step()
    k, delivered, short = m.outcome.deliveries[0]
    lab = m.by_name["tiny"]
    assert lab.demand < 300
    # It calls only what it expects to need (last tick's demand); nothing is disposed of.
    assert k.nominated < 300 and k.deficiency == pytest.approx(6000 - k.nominated)
    assert delivered == pytest.approx(k.nominated) and short == pytest.approx(0.0, abs=1e-6)
    inflow = sum(m.outcome.inflows("tiny", "compute").values())
    assert inflow == pytest.approx(lab.received, rel=1e-9)  # received = used, none wasted
    rows = m.last_ledger.rows
    paid = sum(a for p, q, a, kind in rows if kind == "contract:compute" and p == "tiny")
    unused = sum(a for p, q, a, kind in rows if kind == "deficiency" and p == "tiny")
    assert paid == pytest.approx(2000 * delivered)
    assert paid + unused == pytest.approx(2000 * 6000)  # it pays for its whole minimum


def test_capacity_reservation_prepays_and_finances_new_capacity():
    m = MarketModel(small_world(), seed=1)
    m.step()
    designer, hynix = m.by_name["nvidia"], m.by_name["hynix"]
    line = hynix.lines["hbm"]
    before = (len(line.pipeline), hynix.prepaid_total, designer.cash, hynix.cash)
    m.desk.reserve_capacity(designer, "hynix", "hbm", 1.0e6, 12.0)
    c = m.contracts.contracts[-1]
    assert c.kind == "capacity_reservation" and c.start == m.tick + line.lead_time
    assert c.prepayment == pytest.approx(0.5 * line.capex_per_unit * 1.0e6)
    assert len(line.pipeline) == before[0] + 1
    assert line.pipeline[-1] == (m.tick + line.lead_time, pytest.approx(1.0e6))
    m.step()
    assert hynix.prepaid_total == pytest.approx(before[1] + c.prepayment)


def test_taiwan_outage_scenario_raises_accelerator_prices_and_unmet_demand():
    base = load_scenario(SCENARIOS / "baseline.toml")
    shock = load_scenario(SCENARIOS / "taiwan_outage.toml")
    window = [s for s in shock.shocks if s.kind == "outage"][0]
    results = []
    for world in (base, shock):
        m = MarketModel(world, seed=11)
        m.run(window.end + 1)
        t = m.tables()
        acc = np.array([p for g, p in zip(t["prices"]["good"], t["prices"]["price"])
                        if g == "accelerator"])  # fmt: skip
        unmet = np.zeros(window.end + 1)
        for tick, typ, u in zip(t["agents"]["tick"], t["agents"]["type"], t["agents"]["unmet"]):
            if typ == "Lab":
                unmet[tick] += u
        results.append((acc[window.start : window.end], unmet[window.start : window.end]))
    (b_acc, b_unmet), (s_acc, s_unmet) = results
    assert s_acc.mean() > 1.5 * b_acc.mean()
    assert s_unmet.sum() > b_unmet.sum()
