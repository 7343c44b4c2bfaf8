"""Inference traffic classes (ODD 7.19): premium and economy compute, cost per token by
class and generation.

- The clearing's prices and the moved traffic equal the analytic solution of a one-lab,
  one-hyperscaler book, with premium hardware scarce and plentiful.
- With the newest generation's hardware cut, economy traffic keeps being served and the
  premium price rises; movable premium traffic moves to economy hardware then, and not
  when premium hardware is plentiful.
- Cost per token falls with newer generations (and equals the price over the throughput).
- Listing agents in another order leaves the traffic tables unchanged.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_generations import OLD
from test_robustness import assert_same_tables, reordered
from worlds import small_world, step_with_money_check

from experiments.scenarios import load_scenario
from market import traffic as tc
from market.agents import Hyperscaler, Lab
from market.model import MarketModel
from market.scenario import Scenario
from optimizers import Ask, Bid, Clearer, OrderBook, Recipe, Route

NEW = {
    "name": "new",
    "ramped": 0.5,
    "h100e_per_chip": 2.0,
    "hbm_per_chip": 192,
    "chips_per_wafer": 15,
    "chips_per_cowos_wafer": 12,
    "unit_cost": 3000,
    "tdp_w": 1000,
}
TRAFFIC = {"premium_share": 0.5, "premium_value": 1.5, "economy_value": 0.75,
           "movable_share": 0.3, "premium_generations": 1}  # fmt: skip


def traffic_world(**traffic) -> Scenario:
    """``small_world`` with traffic classes: ``nvidia`` has an old and a new generation, each
    half of the start fleets; only the newest (``new``) may serve premium traffic. Google's
    fleet is all Nvidia (a designer without generations would be premium-eligible)."""
    data = small_world().model_dump(mode="python")
    data["designers"][0]["generations"] = [OLD, NEW]
    data["hyperscalers"][1]["fleet"] = {"nvidia": 50000}
    data["traffic"] = {**TRAFFIC, **traffic}
    data["token_speedups"] = {"old": 1.0, "new": 1.7}
    return Scenario.model_validate(data)


def cut_premium(m: MarketModel, keep: float) -> None:
    """Shock away all but ``keep`` of the premium-eligible (new) hardware in every fleet,
    replaced by as many H100e of the old generation (the fleet's size is unchanged)."""
    for h in m.agents_of(Hyperscaler):
        for cohorts in h.fleet.values():
            for c in [c for c in cohorts if c[2] == "new"]:
                cohorts.append([c[0], c[1] * (1 - keep), "old"])
                c[1] *= keep
        h._tally()


def one_tick(keep: float = 1.0, **traffic) -> tuple[MarketModel, dict]:
    m = MarketModel(traffic_world(**traffic), seed=3)
    cut_premium(m, keep)
    step_with_money_check(m)
    tr = pd.DataFrame(m.tables()["traffic"]).set_index("traffic_class")
    return m, {k: tr.loc[k] for k in tc.CLASSES}


# ------------------------------------------------------------------ the LP, by hand
def _book(premium_hw: float, old_hw: float) -> OrderBook:
    """One hyperscaler (premium-eligible and old hardware, both asked at $1) and one lab
    (100 premium at $10, 50 economy at $4, 30% of premium movable at delta = $6)."""
    return OrderBook(
        asks=(Ask("h", tc.PREMIUM, premium_hw, 1.0), Ask("h", tc.ECONOMY, old_hw, 1.0)),
        bids=(Bid("lab", tc.PREMIUM, 100.0, 10.0), Bid("lab", tc.ECONOMY, 50.0, 4.0)),
        recipes=(
            Recipe("h", tc.ECONOMY, {tc.PREMIUM: 1.0}, math.inf, 0.0),
            Recipe("lab", tc.PREMIUM, {tc.ECONOMY: 1.0}, 30.0, 6.0),
        ),
        routes=(Route("h", "lab", tc.ECONOMY), Route("h", "lab", tc.PREMIUM)),
    )


def test_clearing_equals_the_analytic_solution_with_premium_scarce_and_plentiful():
    # Scarce: 50 premium-eligible H100e for 100 premium units. The 30 movable units move
    # (p_E + delta = 7 < 10), 20 premium units stay unmet, so p_P = 10; the old hardware
    # (100) serves economy 50 + moved 30 and has 20 spare, so p_E = its ask, 1.
    c = Clearer().clear(_book(premium_hw=50.0, old_hw=100.0))
    assert c.recipe_activity[1] == pytest.approx(30.0, abs=1e-6)  # moved
    assert c.bid_fills[0] == pytest.approx(80.0, abs=1e-6)  # premium: 50 + 30 moved
    assert c.bid_fills[1] == pytest.approx(50.0, abs=1e-6)  # economy all served
    assert c.prices[("lab", tc.PREMIUM)] == pytest.approx(10.0, abs=1e-6)
    assert c.prices[("lab", tc.ECONOMY)] == pytest.approx(1.0, abs=1e-6)
    # Plentiful: 300 premium-eligible H100e and no old ones: every class served on premium
    # hardware, both prices at the ask, nothing moved (moving would only lose delta).
    c = Clearer().clear(_book(premium_hw=300.0, old_hw=0.0))
    assert c.recipe_activity[1] == pytest.approx(0.0, abs=1e-6)
    assert c.recipe_activity[0] == pytest.approx(50.0, abs=1e-6)  # premium hw serves economy
    assert tuple(c.bid_fills) == pytest.approx((100.0, 50.0), abs=1e-6)
    for good in tc.COMPUTE_GOODS:
        assert c.prices[("lab", good)] == pytest.approx(1.0, abs=1e-6)


# ------------------------------------------------------------------ the market
def test_with_premium_hardware_cut_economy_is_still_served_and_premium_price_rises():
    _, base = one_tick()
    m, cut = one_tick(keep=0.05)
    premium, economy = cut["premium"], cut["economy"]
    assert base["premium"].price == pytest.approx(base["economy"].price, rel=1e-6)
    assert premium.price > 1.1 * base["premium"].price
    assert premium.price > economy.price
    # Economy traffic keeps being served on the old hardware that replaced the new.
    assert economy.served >= 0.9 * base["economy"].served
    assert economy.price <= base["economy"].price * (1 + 1e-9)
    # Premium served on premium hardware fits in what is left of it (conservation).
    on_premium = sum(h.premium_sold for h in m.agents_of(Hyperscaler))
    assert premium.served - premium.moved == pytest.approx(on_premium, rel=1e-6)
    assert on_premium <= premium.capacity * (1 + 1e-9)


def test_movable_premium_traffic_moves_only_when_premium_hardware_is_scarce():
    _, plenty = one_tick()
    assert plenty["premium"].moved == 0.0
    assert plenty["premium"].unmet == pytest.approx(0.0, abs=1e-6)
    m, scarce = one_tick(keep=0.05)
    moved = scarce["premium"].moved
    assert moved > 0
    # At most the movable share of premium bids (the lab's recipe capacity).
    cap = sum(r.capacity for r in m.book.recipes if r.agent in {a.name for a in m.agents_of(Lab)})
    assert moved <= cap * (1 + 1e-9)
    assert cap == pytest.approx(TRAFFIC["movable_share"] * scarce["premium"].demand, rel=1e-6)
    # Nothing moves when no premium traffic may move.
    _, fixed = one_tick(keep=0.05, movable_share=0.0)
    assert fixed["premium"].moved == 0.0
    assert fixed["premium"].price >= scarce["premium"].price * (1 - 1e-9)


def test_without_traffic_classes_there_is_one_compute_good():
    m = MarketModel(traffic_world(premium_share=0.0), seed=3)
    m.step()
    goods = {o.good for o in (*m.book.bids, *m.book.asks)}
    assert tc.PREMIUM not in goods and tc.ECONOMY in goods
    assert not m.tables()["traffic"]["tick"]


def test_economy_value_above_premium_is_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"traffic.economy_value"):
        traffic_world(premium_value=0.5, economy_value=0.75)


def test_premium_eligibility_follows_launches_newest_first():
    world = load_scenario("baseline")
    nvidia = next(d for d in world.designers if d.name == "Nvidia")
    assert tc.newest_generations(nvidia, 0, 2) == ("Blackwell", "Hopper")
    assert tc.newest_generations(nvidia, 2, 2) == ("Blackwell Ultra", "Blackwell")
    assert tc.newest_generations(nvidia, 6, 1) == ("Rubin",)


def test_cost_per_token_falls_with_newer_generations_and_equals_price_over_throughput():
    world = load_scenario("traffic_classes")
    m = MarketModel(world, seed=0)
    m.run(3)
    tables = m.tables()
    tcost = pd.DataFrame(tables["token_costs"])
    prices = pd.DataFrame(tables["prices"]).set_index(["tick", "good"])["price"]
    seconds = 365.25 * 86400 / world.meta.ticks_per_year
    tiers = {t.name: t.tokens_per_h100e_s for t in world.token_tiers}
    for row in tcost.itertuples():
        good = tc.PREMIUM if row.traffic_class == "premium" else tc.ECONOMY
        speed = tiers[row.tier] * world.token_speedups.get(row.generation, 1.0)
        assert row.cost_per_mtok == pytest.approx(
            prices[(row.tick, good)] / (speed * seconds) * 1e6
        )
    # Newer Nvidia generations (by launch) cost less per token in every tier and class.
    nvidia = next(d for d in world.designers if d.name == "Nvidia")
    order = [g.name for g in sorted(nvidia.generations, key=lambda g: g.launch)]
    for (_, _, klass), block in tcost[tcost.generation != ""].groupby(
        ["tick", "tier", "traffic_class"]
    ):
        cost = block.set_index("generation")["cost_per_mtok"]
        seq = [cost[g] for g in order if g in cost.index]
        assert len(seq) >= (2 if klass == "economy" else 1)
        assert all(a > b for a, b in zip(seq, seq[1:])), (klass, seq)


def test_listing_agents_in_another_order_leaves_the_traffic_tables_unchanged():
    world = traffic_world()
    a = MarketModel(world, seed=5)
    cut_premium(a, 0.05)
    a.run(3)
    b = MarketModel(reordered(world), seed=5)
    cut_premium(b, 0.05)
    b.run(3)
    assert_same_tables(a.tables(), b.tables())
    assert sum(a.tables()["traffic"]["moved"]) > 0  # the case where classes matter


def test_traffic_kpis_add_up_from_the_traffic_table():
    from experiments.kpis import kpis

    m = MarketModel(traffic_world(), seed=3)
    cut_premium(m, 0.05)
    m.run(2)
    tables = m.tables()
    tr = pd.DataFrame(tables["traffic"])
    out = kpis(tables)
    premium = tr[tr.traffic_class == "premium"]
    economy = tr[tr.traffic_class == "economy"].set_index("tick")
    assert out["moved_share"] == pytest.approx(premium.moved.sum() / premium.demand.sum())
    assert out["premium_served_share"] == pytest.approx(premium.served.sum() / premium.demand.sum())
    spread = (premium.set_index("tick").price / economy.price - 1).mean()
    assert out["premium_spread"] == pytest.approx(spread) and spread > 0
    prices = pd.DataFrame(tables["prices"])
    assert out["price_compute_premium"] == pytest.approx(
        prices[prices.good == tc.PREMIUM].price.mean()
    )
    tcost = pd.DataFrame(tables["token_costs"])
    ref = tcost[(tcost.generation == "") & (tcost.traffic_class == "premium")]
    for tier, block in ref.groupby("tier"):
        assert out[f"cost_per_mtok_premium[{tier}]"] == pytest.approx(block.cost_per_mtok.mean())


def test_traffic_plot_draws_prices_quantities_and_token_costs(tmp_path):
    from experiments.outputs.plots import plot_traffic

    m = MarketModel(traffic_world(), seed=3)
    cut_premium(m, 0.05)
    m.run(3)
    path = plot_traffic(m.tables(), tmp_path / "traffic.png", "test")
    assert path.exists() and path.stat().st_size > 10_000
