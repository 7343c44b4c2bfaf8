"""Regional parts, finished-goods stock and the write-down when an export rule strands it
(issue 10 part 7; ODD 7.4 "Regional parts and finished-goods stock")."""

from __future__ import annotations

import pandas as pd
import pytest
from worlds import small_world

from market.agents import ChipDesigner
from market.ledger import EXTERNAL
from market.model import MarketModel
from market.scenario import Scenario

BAN = 6  # the tick the export rule on the China part starts


def china_world(ban: bool = False, **behaviour) -> Scenario:
    """The small world plus a Chinese cloud and grid, and Nvidia's China part (0.15 H100e
    per chip, performance 2.5, built to forecast), the only designer allowed to sell there."""
    base = small_world().model_dump(mode="python")
    for section in ("designers", "power_providers", "hyperscalers"):
        base[section] = list(base[section])
    base["designers"].append(
        {"name": "nvidia_cn", "region": "US", "chips_per_wafer": 60, "hbm_per_chip": 96,
         "chips_per_cowos_wafer": 29, "h100e_per_chip": 0.15, "performance": 2.5,
         "unit_cost": 1500, "sells_to_regions": ["CN"], "part_of": "nvidia",
         "stock_ticks": 1.0, "start_sales": 20000, "holding_cost": 0.05}
    )  # fmt: skip
    base["power_providers"].append(
        {"name": "grid_cn", "region": "CN", "capacity": 200, "unit_cost": 1.0e6,
         "capex_per_unit": 3e6, "lead_time": 8}
    )  # fmt: skip
    base["hyperscalers"].append(
        {"name": "cn_cloud", "region": "CN", "fleet": {"nvidia": 20000}, "power_mw": 40,
         "capex_budget": 1e9, "value_per_h100e": 40000}
    )  # fmt: skip
    base["routes"] = [
        {"seller": "nvidia", "buyer": "cn_cloud", "good": "accelerator", "capacity": 0},
        {"seller": "tpu", "buyer": "cn_cloud", "good": "accelerator", "capacity": 0},
    ]
    base["behaviour"] = {**base["behaviour"], **behaviour}
    if ban:
        base["shocks"] = [
            {"kind": "export_control", "start": BAN, "end": 12, "from_region": "US",
             "to_region": "CN", "goods": ["accelerator"], "factor": 0.0}
        ]  # fmt: skip
    return Scenario.model_validate(base)


def run(ban: bool = False, ticks: int = 10, seed: int = 2) -> MarketModel:
    m = MarketModel(china_world(ban), seed=seed)
    m.run(ticks)
    return m


def agents(m: MarketModel, name: str) -> pd.DataFrame:
    a = pd.DataFrame(m.tables()["agents"])
    return a[a["agent"] == name].set_index("tick")


def test_the_china_part_sells_only_to_chinese_hyperscalers_and_nothing_else_reaches_them():
    m = run()
    flows = pd.DataFrame(m.tables()["flows"])
    acc = flows[flows["good"] == "accelerator"]
    part = acc[acc["seller"] == "nvidia_cn"]
    assert part["quantity"].sum() > 0
    assert set(part["buyer"]) == {"cn_cloud"}
    assert set(acc[acc["buyer"] == "cn_cloud"]["seller"]) == {"nvidia_cn"}


def test_the_stock_adds_up_from_builds_and_sales_and_only_stock_is_sold():
    m = MarketModel(china_world(), seed=2)
    d = m.by_name["nvidia_cn"]
    for _ in range(10):
        before, value = d.stock, d.stock_value
        m.step()
        out = m.outcome
        sold = sum(out.outflows("nvidia_cn", "accelerator").values())
        # Built to forecast: what it sells this tick was in stock at its start.
        assert sold <= before * (1 + 1e-9) + 1e-6
        # stock_t = stock_{t-1} - sold + built; nothing is created or lost.
        assert d.stock == pytest.approx(before - sold + d.built, rel=1e-9, abs=1e-6)
        assert d.built == pytest.approx(out.made_into("nvidia_cn", "stock"), rel=1e-12)
        # The stock's book value moves at the average cost of what is in it.
        if before > 0 and d.built == 0:
            assert d.stock_value == pytest.approx(value * d.stock / before, rel=1e-9)
    a = agents(m, "nvidia_cn")
    assert a["stock"].max() > 0 and a["sold"].sum() > 0


def test_an_export_rule_on_the_part_strands_its_stock_and_books_it_as_a_write_down():
    m = MarketModel(china_world(ban=True), seed=2)
    m.run(BAN)
    d = m.by_name["nvidia_cn"]
    held, value = d.stock, d.stock_value
    assert held > 0 and value > 0
    m.run(4)
    a = agents(m, "nvidia_cn")
    ticks = pd.DataFrame(m.tables()["ticks"]).set_index("tick")
    # The whole stock, at its book value, is written off in the tick the rule starts.
    assert a.loc[BAN, "write_down"] == pytest.approx(value, rel=1e-12)
    assert ticks.loc[BAN, "write_downs"] == pytest.approx(value, rel=1e-12)
    assert (a.loc[BAN:, "stock"] == 0).all()
    assert (a.loc[BAN + 1 :, "write_down"] == 0).all()
    flows = pd.DataFrame(m.tables()["flows"])
    after = flows[(flows["seller"] == "nvidia_cn") & (flows["tick"] >= BAN)]
    assert after["quantity"].sum() == 0
    # It stops building for a market it cannot reach.
    assert (a.loc[BAN:, "sold"] == 0).all() and d.built == 0
    # A book loss, not a payment: no cash moves with it.
    assert not [r for r in m.last_ledger.rows if "write" in r[3]]


def test_money_is_conserved_every_tick_through_the_ban():
    m = MarketModel(china_world(ban=True), seed=2)
    for _ in range(10):
        m.step()
        net = m.last_ledger.net()
        assert sum(net.values()) == pytest.approx(0.0, abs=1e-6 * max(map(abs, net.values())))
        assert EXTERNAL in net


def test_the_part_shares_its_parents_ecosystem_so_a_fleet_of_the_parent_costs_no_switching():
    m = run(ticks=1)
    cn = m.by_name["cn_cloud"]
    family = cn.fleet_share("nvidia") + cn.fleet_share("nvidia_cn")
    assert family == pytest.approx(1.0) and cn.fleet_share("nvidia_cn") < 1.0
    assert m._switching[("nvidia_cn", "cn_cloud", "accelerator")] == pytest.approx(0.0, abs=1e-9)
    # Without part_of the same fleet would make the part pay the full switching cost.
    assert m.family["nvidia_cn"] == ("nvidia", "nvidia_cn")
    assert m.family["tpu"] == ("tpu",)


def test_a_make_to_order_designer_holds_no_stock():
    m = run(ticks=4)
    for d in m.agents_of(ChipDesigner):
        if d.name != "nvidia_cn":
            assert d.stock == 0 and d.built == 0 and d.write_down == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"part_of": "amd"}, "designers[2].part_of"),
        ({"part_of": "nvidia_cn"}, "designers[2].part_of"),
        ({"sells_to_regions": ["XX"]}, "designers[2].sells_to_regions"),
        ({"start_sales": 0}, "designers[2].start_sales"),
    ],
)
def test_a_bad_regional_part_is_refused_naming_the_field(change, field):
    data = china_world().model_dump(mode="python")
    data["designers"] = [dict(d) for d in data["designers"]]
    data["designers"][2].update(change)
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Scenario.model_validate(data)


def test_the_shipped_h20_lists_near_its_public_price_and_the_ban_writes_its_stock_off():
    from experiments.scenarios import load_scenario

    m = MarketModel(load_scenario("china_part_ban"), seed=0)
    m.step()  # 2025Q1: before the ban
    d = m.by_name["Nvidia China"]
    per_chip = d.spec.h100e_per_chip * d.spec.performance
    # Epoch's implied 2025 ASP of the H20: $12k a chip (docs/data-sources.md, §3).
    assert d.asking_price() * per_chip == pytest.approx(12_000, rel=0.25)
    value = d.stock_value
    assert value > 0
    m.step()  # 2025Q2: the licence requirement, read as a ban
    assert d.write_down == pytest.approx(value, rel=1e-12)
    assert d.stock == 0
