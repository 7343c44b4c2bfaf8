"""Demand, value and price formation (issue 8 parts 1-2).

Closed forms: the demand curve's steps sum to the demand and follow the constant
elasticity; the NPV of an install is a geometric sum. Rent location on a small
world: with wafers scarce, the designer's margin rises and the wafer price stays
within its documented bound (the dearest wafer supplier's top ask step); without
the designer's pricing power (no allocation, markup capped), the rent moves to
the wafer. The tables report spot, contract and transaction prices consistently.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from worlds import small_world

from market.agents.hyperscaler import install_npv
from market.agents.lab import Lab, demand_curve, extra_demand
from market.model import MarketModel
from market.scenario import Scenario


@pytest.mark.parametrize("elasticity", [0.0, 0.5, 1.0, 1.5])
def test_demand_curve_steps_sum_to_demand_and_follow_the_elasticity(elasticity):
    steps = demand_curve(1000.0, 4000.0, elasticity, 8, 3.0)
    assert len(steps) == 9
    assert sum(q for q, _ in steps) == pytest.approx(1000.0)
    prices = [p for _, p in steps]
    assert prices[0] == pytest.approx(4000.0) and prices[-1] == pytest.approx(12000.0)
    assert all(b > a for a, b in zip(prices, prices[1:]))
    # Units wanted at or above each step's price = 1000 x (p / 4000)^-e.
    for k, (_, p) in enumerate(steps):
        wanted = sum(q for q, _ in steps[k:])
        assert wanted == pytest.approx(1000.0 * (p / 4000.0) ** -elasticity)


def test_install_npv_is_the_discounted_sum_of_falling_rent_less_opex():
    u, p, opex, d, r, n = 0.85, 5000.0, 600.0, 0.05, 0.025, 16
    # Geometric sums in closed form.
    a = (1 - d) / (1 + r)
    rent = u * p / (1 + r) * (1 - a**n) / (1 - a)
    cost = opex * (1 - (1 + r) ** -n) / r
    assert install_npv(p, u, opex, d, r, n) == pytest.approx(rent - cost)
    assert install_npv(100.0, 0.5, opex, d, r, n) == 0.0  # never below zero


def _fabs(tsmc: float, intel: float) -> list[dict]:
    """The small world's fabs with these wafer capacities (wafers per tick)."""
    fabs = [dict(f) for f in small_world().model_dump(mode="python")["fabs"]]
    for f, capacity in zip(fabs, (tsmc, intel), strict=True):
        f["capacity"] = capacity
    return fabs


FABS = {"ample": _fabs(3000, 500), "scarce": _fabs(700, 100)}


def _run(fabs: str, **behaviour):
    """Wafer transaction price, its bound, and Nvidia's gross margin, per tick."""
    world = small_world(fabs=FABS[fabs], behaviour={"contracting": False, **behaviour})
    m = MarketModel(world, seed=1)
    price, bound = [], []
    for _ in range(16):
        m.step()
        p = m.tables()["prices"]
        price.append([v for g, v in zip(p["good"], p["price"]) if g == "wafer"][-1])
        top = 1 + m.world.behaviour.ask_top_premium
        transport = m.world.transport_cost.get("wafer", 0.0)
        lines = [m.by_name[f].lines["wafer"] for f in ("tsmc", "intel")]
        bound.append(max(line.price() for line in lines) * top + transport)
    a = m.tables()["agents"]
    margin = [v for n, v in zip(a["agent"], a["gross_margin"]) if n == "nvidia"]
    return np.array(price), np.array(bound), np.array(margin)


def test_with_wafers_scarce_the_rent_goes_to_the_designer_not_the_wafer():
    _, _, ample_margin = _run("ample")
    price, bound, margin = _run("scarce")
    late = slice(12, 16)  # demand has outgrown the wafers (from tick ~10) and the markup
    # follows, its list price rising at most designer_max_price_rise (10%) a tick
    assert margin[late].min() > ample_margin[late].max() + 0.1
    assert margin[-1] > margin[late.start] + 0.05  # and still rising
    assert np.all(price[1:] <= bound[1:] * (1 + 1e-9))


def test_without_the_designers_pricing_power_in_an_auction_the_rent_moves_to_the_wafer():
    _, _, power_margin = _run("scarce")  # the designer's pricing power, as above
    auction = dict(input_allocation=False, max_markup=0.5, sold_at_offer=[])
    price, bound, margin = _run("scarce", **auction)
    late = slice(12, 16)
    assert price[late].max() > 10 * bound[late].max()
    assert margin[late].max() < power_margin[late].min()


def test_sold_at_offer_a_wafer_never_trades_above_its_dearest_offer():
    # No allocation and no pricing power: the wafer's shadow price takes the rent, but
    # wafers sold at offer (the default) trade at the sellers' asks.
    price, bound, _ = _run("scarce", input_allocation=False, max_markup=0.5)
    assert np.all(price <= bound * (1 + 1e-9))


def test_transaction_price_is_the_volume_weighted_spot_and_contract_price():
    m = MarketModel(small_world(), seed=2)
    m.run(8)
    p = m.tables()["prices"]
    seen_both = False
    for price, spot, contract, vol, cvol in zip(
        p["price"], p["spot_price"], p["contract_price"], p["volume"], p["contract_volume"]
    ):
        if vol > 0 and cvol > 0:
            seen_both = True
            assert price == pytest.approx((vol * spot + cvol * contract) / (vol + cvol))
        elif cvol > 0:
            assert price == pytest.approx(contract)
        else:
            assert math.isnan(contract)
            assert price == pytest.approx(spot) or (math.isnan(price) and math.isnan(spot))
    assert seen_both


@pytest.mark.parametrize("elasticity", [0.5, 1.0, 1.5])
def test_demand_below_value_adds_the_elastic_quantity_down_to_the_floor(elasticity):
    steps = extra_demand(1000.0, 4000.0, elasticity, 4, 0.5)
    prices = [p for _, p in steps]
    assert prices == sorted(prices, reverse=True)
    assert prices[0] < 4000.0 and prices[-1] == pytest.approx(2000.0)
    # In all, at the floor it wants quantity x floor^-e: 1000 of them at the value.
    assert 1000.0 + sum(q for q, _ in steps) == pytest.approx(1000.0 * 0.5**-elasticity)
    assert extra_demand(1000.0, 4000.0, elasticity, 0, 0.5) == []
    assert extra_demand(1000.0, 4000.0, elasticity, 4, 1.0) == []


def _glut(floor_steps: int) -> MarketModel:
    """``small_world`` with every chip powered and the labs wanting a fifth of what the
    fleets can serve: a glut of compute."""
    data = small_world().model_dump(mode="python")
    data["behaviour"]["demand_floor_steps"] = floor_steps
    for h in data["hyperscalers"]:
        h["power_mw"] = 1000.0
    for lab in data["labs"]:
        lab["training"] *= 0.2
        lab["inference"] *= 0.2
    m = MarketModel(Scenario.model_validate(data), seed=2)
    m.step()
    return m


def test_in_a_glut_cheap_compute_finds_more_use_within_the_demand_curve():
    flat, elastic = _glut(0), _glut(4)
    labs = [a for a in elastic.agents_of(Lab)]
    floor = elastic.world.behaviour.demand_floor_price
    for m in (flat, elastic):  # both in a glut: compute priced below every lab's value
        price = m.outcome.spot_price["compute"]
        assert price < min(min(a.spec.training_value, a.spec.inference_value) for a in labs)
    # Without demand below the values each lab gets its demand, no more; with it, more
    # (the extra use): never more than its curve wants at the price, and all of it when
    # the price is below its curve's lowest step (floor x its lower value).
    for a in flat.agents_of(Lab):
        assert a.received == pytest.approx(a.demand, rel=1e-6)
    price = elastic.outcome.spot_price["compute"]
    for a in labs:
        assert a.received > a.demand * (1 + 1e-6)
        assert a.received <= a.wanted_at(price) * (1 + 1e-6)
        if price < floor * min(a.spec.training_value, a.spec.inference_value):
            assert a.received == pytest.approx(a.wanted_at(price), rel=1e-6)


def test_an_elasticity_that_would_want_without_bound_below_the_value_is_refused_by_field():
    data = small_world().model_dump(mode="python")
    data["labs"][0]["inference_elasticity"] = 50.0  # 0.5^-50: 1e15 times its demand
    with pytest.raises(ValueError, match=r"labs\[0\]\.inference_elasticity: .*demand_floor"):
        Scenario.model_validate(data)
    data["behaviour"]["demand_floor_steps"] = 0  # no demand below the value: accepted
    Scenario.model_validate(data)
