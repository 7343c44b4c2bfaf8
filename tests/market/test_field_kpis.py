"""The field's KPIs (ODD 7.16): capex, opex and revenue from the ledger, usable vs installed
capacity and its binding limit, returns on served and idle H100e, cost per token and per
task, and labs' dependency on their top provider and equity holder."""

from __future__ import annotations

import math
from collections import defaultdict

import pandas as pd
import pytest

from market import metrics
from market.goods import GOODS
from market.ledger import EXTERNAL
from market.model import MarketModel
from tests.market.worlds import small_world, stack_world

SECONDS_PER_QUARTER = 7_889_400.0  # 365.25 days x 86,400 s / 4


def _finance(m: MarketModel, tick: int) -> pd.DataFrame:
    f = pd.DataFrame(m.tables()["finance"])
    return f[f["tick"] == tick].set_index("agent")


def test_capex_opex_and_revenue_add_up_to_the_ledger_rows_by_kind():
    m = MarketModel(stack_world(), seed=3)
    durable = {g for g, info in GOODS.items() if info.durable}
    checked = 0
    for _ in range(5):
        t = m.tick
        m.step()
        rows = pd.DataFrame(m.last_ledger.rows, columns=["payer", "payee", "amount", "kind"])
        good = rows["kind"].str.partition(":")[2]
        trade = rows["kind"].str.contains(":")
        is_capex = (rows["kind"] == "capex") | (trade & good.isin(durable))
        is_opex = rows["kind"].isin(["operating", "transport", "switching", "carbon"]) | (
            trade & ~good.isin(durable)
        )
        is_revenue = trade | (rows["kind"] == "revenue")
        f = _finance(m, t)
        for name in m.by_name:
            paid = rows["payer"] == name
            got = rows["payee"] == name
            capex = rows[paid & is_capex]["amount"].sum()
            assert f.loc[name, "capex"] == pytest.approx(capex, abs=1e-6)
            assert f.loc[name, "opex"] == pytest.approx(rows[paid & is_opex]["amount"].sum())
            assert f.loc[name, "revenue"] == pytest.approx(rows[got & is_revenue]["amount"].sum())
            checked += f.loc[name, "capex"] > 0
        # Every $ an agent paid is capex, opex or one of the financing/transfer kinds.
        other = ~(is_capex | is_opex)
        assert set(rows[other & (rows["payer"] != EXTERNAL)]["kind"]) <= {
            "prepayment", "interest", "deficiency", "penalty", "default", "asset_sale",
        }  # fmt: skip
        ticks = pd.DataFrame(m.tables()["ticks"]).set_index("tick")
        agents = rows["payer"] != EXTERNAL
        assert ticks.loc[t, "capex"] == pytest.approx(rows[agents & is_capex]["amount"].sum())
        assert ticks.loc[t, "opex"] == pytest.approx(rows[agents & is_opex]["amount"].sum())
    assert checked > 0  # some agent spent on capacity: the capex check was not vacuous


def test_usable_capacity_is_the_fleet_or_what_energised_mw_run():
    m = MarketModel(stack_world(), seed=1)
    m.step()
    f = _finance(m, 0)
    for h in ("azure", "google"):
        hyper = m.by_name[h]
        fleet, grid, shell = hyper.rent_limits
        expected = min(fleet, min(grid, shell) / hyper.spec.mw_per_h100e)
        assert f.loc[h, "max_capacity"] == pytest.approx(fleet)
        assert f.loc[h, "usable_capacity"] == pytest.approx(expected)
        assert f.loc[h, "usable_capacity"] == pytest.approx(hyper.available)
        assert f.loc[h, "binding"] == ("fleet" if fleet <= expected else "power")
    # A shell short of the grid MW binds: azure runs only what its shells hold.
    azure, google = m.by_name["azure"], m.by_name["google"]
    azure.shell_mw = 30.0
    m.step()
    f = _finance(m, 1)
    assert f.loc["azure", "binding"] == "shell"
    assert f.loc["azure", "usable_capacity"] == pytest.approx(30.0 / azure.spec.mw_per_h100e)
    assert f.loc["azure", "usable_capacity"] < f.loc["azure", "max_capacity"]
    assert f.loc["azure", "idle"] > 0 and f.loc["azure", "idle_cost"] > 0
    assert f.loc["google", "binding"] == "fleet"
    # Grid MW below the shells bind as power.
    google.power_mw = 45.0
    m.step()
    f = _finance(m, 2)
    assert f.loc["google", "binding"] == "power"
    assert f.loc["google", "usable_capacity"] == pytest.approx(45.0 / google.spec.mw_per_h100e)
    ticks = pd.DataFrame(m.tables()["ticks"]).set_index("tick")
    total = f.loc[["azure", "google"]]
    assert ticks.loc[2, "usable_share"] == pytest.approx(
        total["usable_capacity"].sum() / total["max_capacity"].sum()
    )
    assert ticks.loc[2, "usable_share"] < 1.0


def test_an_outage_binds_and_cuts_usable_capacity_by_its_factor():
    shock = {"kind": "outage", "start": 2, "end": 3, "target": "azure", "factor": 0.25}
    m = MarketModel(small_world(shocks=[shock]), seed=2)
    for _ in range(3):
        m.step()
    f = pd.DataFrame(m.tables()["finance"])
    az = f[f["agent"] == "azure"].set_index("tick")
    assert list(az["binding"]) == ["fleet", "fleet", "outage"]
    assert az.loc[2, "usable_capacity"] == pytest.approx(0.25 * az.loc[2, "max_capacity"])
    assert az.loc[2, "sold"] <= az.loc[2, "usable_capacity"] * (1 + 1e-9)
    assert az.loc[2, "idle"] >= 0.75 * az.loc[2, "max_capacity"] * (1 - 1e-9)


def test_returns_split_into_served_and_idle_by_hand():
    # k = $40 per H100e over 10 ticks: $4 of depreciation per H100e-tick; 2 of 4 rented.
    r = metrics.fleet_returns(revenue=100.0, opex=20.0, sold=2.0, fleet=4.0,
                              capital_per_h100e=40.0, life_ticks=10)  # fmt: skip
    assert r["roi_served"] == pytest.approx((80 - 8) / 80)
    assert r["idle_cost"] == pytest.approx(8.0)
    assert r["roi_fleet"] == pytest.approx((80 - 16) / 160)
    assert r["roi_fleet"] == pytest.approx(r["roi_served"] * 2 / 4 - r["idle_cost"] / 160)
    assert math.isnan(metrics.fleet_returns(0, 0, 0, 4, 40, 10)["roi_served"])
    with pytest.raises(ValueError, match="life_ticks"):
        metrics.fleet_returns(1, 0, 1, 1, 40, 0)


def test_hyperscalers_returns_follow_their_ledger_and_install_cost():
    shock = {"kind": "outage", "start": 1, "end": 2, "target": "google", "factor": 0.5}
    m = MarketModel(small_world(shocks=[shock]), seed=4)
    m.step()
    m.step()
    f = _finance(m, 1)
    rows = m.last_ledger.rows
    for name in ("azure", "google"):
        h = m.by_name[name]
        k, life = h.install_cost(), h.spec.fleet_life
        rev = sum(a for _, payee, a, kind in rows if payee == name and kind.startswith(("spot:",
                  "contract:")))  # fmt: skip
        cost = sum(a for payer, _, a, kind in rows if payer == name
                   and kind in ("operating", "carbon", "transport", "switching"))  # fmt: skip
        fleet, sold = f.loc[name, "max_capacity"], f.loc[name, "sold"]
        assert f.loc[name, "roi_fleet"] == pytest.approx((rev - cost - k / life * fleet)
                                                         / (k * fleet))  # fmt: skip
        # $ of idle fleet: solver noise in ``sold`` (a fully rented fleet) reads as 0
        assert f.loc[name, "idle_cost"] == pytest.approx(k / life * (fleet - sold), abs=1e-3)
    assert f.loc["google", "idle_cost"] > 0  # half its fleet was out


def test_cost_per_token_follows_the_formula_from_the_prices_table():
    # By hand: $5,000 per H100e-quarter at 3,200 tokens/s.
    assert metrics.cost_per_mtok(5000.0, 3200.0, 4) == pytest.approx(
        5000.0 / (3200.0 * SECONDS_PER_QUARTER) * 1e6
    )
    assert metrics.cost_per_mtok(5000.0, 3200.0, 4) == pytest.approx(0.19806, rel=1e-4)
    with pytest.raises(ValueError, match="tokens_per_s"):
        metrics.cost_per_mtok(5000.0, 0.0, 4)
    m = MarketModel(small_world(), seed=5)
    for _ in range(3):
        m.step()
    T = m.tables()
    prices = pd.DataFrame(T["prices"])
    compute = prices[prices["good"] == "compute"].set_index("tick")["price"]
    tc = pd.DataFrame(T["token_costs"])
    tiers = {t.name: t for t in m.world.token_tiers}
    assert set(tc["tier"]) == set(tiers) and len(tc) == 3 * len(tiers)
    for row in tc.itertuples():
        tier = tiers[row.tier]
        expected = compute[row.tick] / (tier.tokens_per_h100e_s * SECONDS_PER_QUARTER) * 1e6
        assert row.cost_per_mtok == pytest.approx(expected)
        assert row.cost_per_task == pytest.approx(expected * tier.tokens_per_task / 1e6)
    # A slower tier (fewer tokens per H100e-second) costs more per token at the same price.
    last = tc[tc["tick"] == 2].set_index("tier")["cost_per_mtok"]
    assert last["reasoning"] > last["large"] > last["small"]


def test_token_tiers_with_a_repeated_name_are_refused_naming_the_field():
    tiers = [{"name": "large", "tokens_per_h100e_s": 3200, "tokens_per_task": 2000}] * 2
    with pytest.raises(ValueError, match="token_tiers.*'large'"):
        small_world(token_tiers=tiers)


def test_dependency_shares_match_the_flows_table_and_the_contract_book():
    deals = [
        {"kind": "equity_for_compute", "seller": "azure", "buyer": "anthropic",
         "good": "compute", "quantity": 5000, "price": 4000.0, "term": 4,
         "equity_share": 0.1},
        {"kind": "equity_for_compute", "seller": "google", "buyer": "anthropic",
         "good": "compute", "quantity": 3000, "price": 4000.0, "term": 8,
         "equity_share": 0.15},
        {"kind": "equity_for_compute", "seller": "azure", "buyer": "anthropic",
         "good": "compute", "quantity": 1000, "price": 4000.0, "term": 2,
         "equity_share": 0.08},
    ]  # fmt: skip
    m = MarketModel(small_world(contracts=deals), seed=6)
    for _ in range(4):
        m.step()
    T = m.tables()
    flows = pd.DataFrame(T["flows"])
    dep = pd.DataFrame(T["dependency"])
    for row in dep.itertuples():
        got = flows[(flows["tick"] == row.tick) & (flows["buyer"] == row.lab)
                    & (flows["good"] == "compute") & (flows["quantity"] > 0)]  # fmt: skip
        by = got.groupby("seller")["quantity"].sum()
        assert row.compute_provider == by.idxmax()
        assert row.compute_share == pytest.approx(by.max() / by.sum())
    # By hand: azure holds 0.1 + 0.08 = 0.18 of Anthropic, google 0.15.
    anth = dep[dep["lab"] == "anthropic"]
    assert set(anth["equity_holder"]) == {"azure"}
    assert anth["equity_share"].tolist() == pytest.approx([0.18] * 4)
    assert m.by_name["anthropic"].equity_given == pytest.approx(0.33)
    others = dep[dep["lab"] != "anthropic"]
    assert (others["equity_holder"] == "").all() and (others["equity_share"] == 0).all()


def test_lab_dependency_of_a_lab_that_got_nothing_is_zero():
    assert metrics.lab_dependency({}, {}) == (None, 0.0, None, 0.0)
    assert metrics.lab_dependency({"a": 1.0, "b": 3.0}, {"a": 0.2}) == ("b", 0.75, "a", 0.2)
    # ties: the first name
    assert metrics.lab_dependency({"b": 2.0, "a": 2.0}, {})[:2] == ("a", 0.5)


def test_usable_capacity_refuses_a_bad_input_naming_it():
    with pytest.raises(ValueError, match="mw_per_h100e"):
        metrics.usable_capacity(10.0, 1.0, None, 0.0)
    with pytest.raises(ValueError, match="grid_mw"):
        metrics.usable_capacity(10.0, -1.0, None, 0.0015)
    assert metrics.usable_capacity(10.0, 0.03, None, 0.0015) == (10.0, "fleet")
    assert metrics.usable_capacity(10.0, 0.003, 0.03, 0.0015) == (pytest.approx(2.0), "power")
    assert metrics.usable_capacity(10.0, 0.03, 0.003, 0.0015) == (pytest.approx(2.0), "shell")


def test_market_totals_in_ticks_are_the_sums_of_the_finance_table():
    m = MarketModel(stack_world(), seed=7)
    for _ in range(3):
        m.step()
    T = m.tables()
    f = pd.DataFrame(T["finance"])
    ticks = pd.DataFrame(T["ticks"]).set_index("tick")
    sums: dict[str, dict[int, float]] = defaultdict(dict)
    for col in ("capex", "opex", "revenue", "idle_cost", "max_capacity", "usable_capacity"):
        for t, v in f.groupby("tick")[col].sum().items():
            sums[col][t] = v
    for col, by_tick in sums.items():
        for t, v in by_tick.items():
            assert ticks.loc[t, col] == pytest.approx(v), (col, t)
