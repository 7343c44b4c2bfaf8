"""Credit lines and defaults (market/credit.py), and contracts signed within value and credit."""

from __future__ import annotations

import pytest
from worlds import small_world

from market.ledger import EXTERNAL
from market.model import MarketModel

PRICE = 40_000.0  # $ per H100e-quarter: ten times the lab's value of compute
QUANTITY = 20_000.0  # H100e-quarters a tick
CREDIT = 2.0e9  # $ the overspending lab may borrow


def overspending_world():
    """The small world where 'spot' is locked into take-or-pay compute at ten times its value."""
    labs = [
        {"name": "openai", "region": "US", "training": 40000, "inference": 30000,
         "training_value": 4000, "inference_value": 7000},
        {"name": "spot", "region": "US", "training": 10000, "inference": 10000,
         "training_value": 2500, "inference_value": 4000, "volatility": 0.0,
         "credit_line": CREDIT},
    ]  # fmt: skip
    contracts = [
        {"kind": "take_or_pay", "seller": "azure", "buyer": "spot", "good": "compute",
         "quantity": QUANTITY, "price": PRICE, "term": 12, "min_take": 1.0},
    ]  # fmt: skip
    return small_world(labs=labs, contracts=contracts)


def floor_gap(agent) -> float:
    """$ its cash lies above its floor, -credit_line (negative: below it)."""
    return agent.cash + agent.credit_line


def test_an_overspending_lab_defaults_and_no_cash_goes_below_its_credit_line():
    m = MarketModel(overspending_world(), seed=1)
    lab = m.by_name["spot"]
    defaults = 0
    for _ in range(m.world.meta.horizon):
        m.step()
        defaults += m.credit.defaults_this_tick
        for a in m.by_name.values():
            assert floor_gap(a) >= -1e-9 * max(1.0, a.credit_line), a.name
    # It pays 20k x $40k = $800M a tick for compute worth ~$100M: it must run out of credit.
    assert lab.defaulted and defaults == 1 and m.credit.defaulted == ["spot"]
    assert lab.cash == pytest.approx(-CREDIT, rel=1e-9)  # written off down to its floor
    t = m.tables()
    assert sum(t["ticks"]["defaults"]) == 1
    rows = [i for i, a in enumerate(t["agents"]["agent"]) if a == "spot"]
    flags = [t["agents"]["defaulted"][i] for i in rows]
    assert flags == sorted(flags) and flags[-1]  # once defaulted, always defaulted


def test_a_default_ends_its_contracts_and_books_the_loss_to_the_counterparty():
    m = MarketModel(overspending_world(), seed=1)
    lab = m.by_name["spot"]
    k = m.contracts.contracts[0]
    while not lab.defaulted:
        m.step()
    when = lab.default_tick
    # The rest of the minimum payments (ticks after the default) are azure's loss.
    left = 12 - (when + 1)
    assert m.by_name["azure"].default_loss == pytest.approx(1.0 * QUANTITY * PRICE * left)
    assert k.end == when + 1
    # The write-off moved money from those it paid back to it, under kind "default".
    write_offs = [r for r in m.last_ledger.rows if r[3] == "default"]
    assert write_offs and all(payee == "spot" for _, payee, _, _ in write_offs)
    for _ in range(3):  # it stops trading: no bids, no deliveries, no payments
        m.step()
        assert not [b for b in m.book.bids if b.agent == "spot"]
        assert not [x for x in m.outcome.deliveries if x[0].buyer == "spot" and x[1] > 0]
        assert not [r for r in m.last_ledger.rows if "spot" in r[:2]]
        assert lab.cash == pytest.approx(-CREDIT, rel=1e-9)


def test_money_is_conserved_every_tick_through_a_default():
    m = MarketModel(overspending_world(), seed=1)
    seen_default = False
    for _ in range(m.world.meta.horizon):
        before = {a.name: a.cash for a in m.by_name.values()}
        m.step()
        seen_default |= m.credit.defaults_this_tick > 0
        net = m.last_ledger.net()
        change = sum(a.cash - before[a.name] for a in m.by_name.values())
        assert change == pytest.approx(-net.get(EXTERNAL, 0.0), rel=1e-9, abs=1e-3)
        for a in m.by_name.values():
            assert a.cash - before[a.name] == pytest.approx(net.get(a.name, 0.0), abs=1e-3)
    assert seen_default


def test_a_hyperscaler_without_headroom_orders_no_installs():
    hypers = [
        {"name": "azure", "region": "US", "fleet": {"nvidia": 60000}, "power_mw": 110,
         "capex_budget": 3e9, "value_per_h100e": 40000, "credit_line": 0.0},
        {"name": "google", "region": "US", "fleet": {"tpu": 40000, "nvidia": 10000},
         "power_mw": 90, "capex_budget": 2e9, "value_per_h100e": 35000},
    ]  # fmt: skip
    m = MarketModel(small_world(hyperscalers=hypers), seed=1)
    m.step()  # cash 0 and no credit: it cannot pay for any install
    assert m.by_name["azure"].ordered == 0.0
    assert m.by_name["google"].ordered > 0.0


def lab_demand_at(lab, price: float) -> float:
    """Independent of the lab's code: constant-elasticity demand of each use above its value."""
    s = lab.spec
    out = 0.0
    for q, v, e in ((lab.inference, s.inference_value, s.inference_elasticity),
                    (lab.training, s.training_value, s.training_elasticity)):  # fmt: skip
        if price <= v:
            out += q
        elif price <= 3.0 * v:
            out += q * (v / price) ** e
    return out


@pytest.mark.parametrize("price", [1000.0, 5000.0, 9000.0, 15000.0, 30000.0])
def test_a_lab_signs_take_or_pay_only_within_its_value_of_compute(price):
    m = MarketModel(small_world(), seed=1)
    m.step()
    lab = m.by_name["openai"]
    wanted = 0.3 * lab.demand
    q = lab.contract_quantity(price, wanted)
    assert 0.0 <= q <= wanted
    assert q <= lab_demand_at(lab, price) * (1 + 1e-12)
    if price > 3.0 * lab.spec.inference_value:  # above its demand curves: signs nothing
        assert q == 0.0


def test_a_lab_signs_take_or_pay_only_within_its_credit():
    labs = [
        {"name": "openai", "region": "US", "training": 40000, "inference": 30000,
         "training_value": 4000, "inference_value": 7000, "credit_line": 1.0e6},
    ]  # fmt: skip
    m = MarketModel(small_world(labs=labs), seed=1)
    m.step()
    lab = m.by_name["openai"]
    price = 5000.0
    q = lab.contract_quantity(price, 0.3 * lab.demand)
    # Its minimum payment per tick fits in its headroom plus last tick's revenue.
    assert 0.8 * q * price <= lab.headroom + lab.revenue + 1e-6
    assert q < lab_demand_at(lab, price)  # credit, not value, is what limits it here


def distressed_world(**behaviour):
    """The small world with azure deep in debt: 5% of its $10B credit line left."""
    hypers = [
        {"name": "azure", "region": "US", "fleet": {"nvidia": 60000}, "power_mw": 110,
         "capex_budget": 3e9, "value_per_h100e": 40000, "credit_line": 1e10, "cash": -9.5e9},
        {"name": "google", "region": "US", "fleet": {"tpu": 40000, "nvidia": 10000},
         "power_mw": 90, "capex_budget": 2e9, "value_per_h100e": 35000, "cash": 5e10},
    ]  # fmt: skip
    return small_world(hyperscalers=hypers, behaviour=behaviour)


def test_a_hyperscaler_in_distress_sells_part_of_its_fleet_to_the_one_with_most_headroom():
    m = MarketModel(distressed_world(), seed=1)
    b = m.world.behaviour
    azure, google = m.by_name["azure"], m.by_name["google"]
    m.step()
    # Its fleet and MW after the tick's installs, before the sale, from the tick's flows.
    installed = sum(m.outcome.inflows("azure", "accelerator").values())
    mw = 110 + sum(m.outcome.inflows("azure", "power").values())
    sales = [r for r in m.last_ledger.rows if r[3] == "asset_sale"]
    assert [(r[0], r[1]) for r in sales] == [("google", "azure")]
    kept = 1 - b.distress_sale_share
    assert azure.fleet_size == pytest.approx((60000 + installed) * kept, rel=1e-9)
    assert azure.power_mw == pytest.approx(mw * kept, rel=1e-9)
    assert m.credit.sales_this_tick == pytest.approx(sales[0][2])
    # The price: the discount off the accelerator price for the life left in each cohort.
    life = azure.spec.fleet_life
    sold = [(q / kept * b.distress_sale_share, r) for cs in azure.fleet.values() for r, q, *_ in cs]
    value = sum(q * max(0, r - 1) / life for q, r in sold)
    price = m.price_ema["accelerator"]
    assert sales[0][2] == pytest.approx((1 - b.fire_sale_discount) * price * value, rel=1e-9)
    bought = google.fleet_size - 50000 - sum(m.outcome.inflows("google", "accelerator").values())
    assert bought == pytest.approx((60000 + installed) * b.distress_sale_share, rel=1e-9)


def test_without_distressed_sales_nothing_is_sold():
    m = MarketModel(distressed_world(distress_headroom=0.0), seed=1)
    m.run(3)
    assert m.credit.sales_this_tick == 0.0
    assert not any(r[3] == "asset_sale" for r in m.last_ledger.rows)
