"""Financing structures (ODD 7.17): leases, backstops, vendor financing, equity offers,
labs' own fleets and financiers. Money is conserved in every tick (worlds'
``step_with_money_check``); each rule is checked against its equation."""

from __future__ import annotations

import math

import pytest

from market.financing import break_even_rent, residual_share
from market.ledger import EXTERNAL
from market.model import MarketModel
from tests.market.worlds import small_world, step_with_money_check


def _world(contracts=(), behaviour=None, **changes):
    """``small_world`` with ``contracts``, ``behaviour`` and per-agent field changes
    (``changes[name] = {field: value}``)."""
    data = small_world().model_dump(mode="python")
    for section in ("hyperscalers", "labs", "designers"):
        for spec in data[section]:
            spec.update(changes.get(spec["name"], {}))
    data["contracts"] = list(contracts)
    data["behaviour"].update(behaviour or {})
    data.update(changes.get("_top", {}))
    return type(small_world()).model_validate(data)


def _rows(m, kind, payer=None, payee=None):
    return [
        r for r in m.last_ledger.rows
        if r[3] == kind and (payer is None or r[0] == payer) and (payee is None or r[1] == payee)
    ]  # fmt: skip


# ------------------------------------------------------------------ leases
def test_break_even_rent_repays_the_asset_with_its_residual_value():
    value, term, rate, residual = 30000.0, 20, 0.02, 0.35
    rent = break_even_rent(value, term, rate, residual)
    pv = sum(rent / (1 + rate) ** t for t in range(1, term + 1))
    assert pv + residual * value / (1 + rate) ** term == pytest.approx(value, rel=1e-12)
    assert break_even_rent(value, term, 0.0, residual) * term == pytest.approx(value * 0.65)


def test_residual_share_follows_the_sourced_curve_and_holds_its_last_point():
    curve = (0.78, 0.60, 0.46, 0.35)
    assert [residual_share(y, curve) for y in (0, 1, 2, 3, 4, 7)] == [1.0, *curve, 0.35]
    assert residual_share(1.5, curve) == pytest.approx((0.78 + 0.60) / 2)


LEASE = {"kind": "lease", "seller": "azure", "buyer": "openai", "good": "compute",
         "quantity": 5000, "price": 0.0, "asset_value": 30000.0, "term": 8}  # fmt: skip


def test_a_lease_charges_its_break_even_rent_on_every_unit_and_conserves_money():
    m = MarketModel(_world([LEASE]), seed=1)
    (lease,) = [c for c in m.contracts.contracts if c.kind == "lease"]
    b = m.world.behaviour
    assert lease.price == pytest.approx(
        break_even_rent(30000.0, 8, b.debt_rate, residual_share(2.0, b.residual_values))
    )
    for _ in range(8):
        step_with_money_check(m)
        paid = sum(r[2] for r in _rows(m, "lease", "openai", "azure"))
        assert paid == pytest.approx(lease.price * lease.quantity, rel=1e-9)
    step_with_money_check(m)  # the term is over: no more rent
    assert not _rows(m, "lease")
    assert m.financing.residual_value(lease, 8) == pytest.approx(
        30000.0 * 5000 * residual_share(2.0, b.residual_values)
    )


def test_a_lessees_default_leaves_the_loss_with_the_lessor():
    lease = dict(LEASE, price=200000.0)  # rent the lab cannot pay
    m = MarketModel(_world([lease], openai={"credit_line": 1e6}), seed=1)
    azure = m.by_name["azure"]
    while not m.by_name["openai"].defaulted:
        t = m.tick
        before = azure.fleet_size
        retiring = sum(c[1] for cs in azure.fleet.values() for c in cs if c[0] <= t)
        step_with_money_check(m)
        assert m.tick < 8, "the lessee should default on a rent above its means"
    left = 8 - (t + 1)  # t: the tick it defaulted
    assert azure.default_loss == pytest.approx(200000.0 * 5000 * left, rel=1e-9)
    assert all(a.default_loss == 0 for n, a in m.by_name.items() if n != "azure")
    # The lessor keeps its accelerators: its fleet changed by retirements and installs only.
    assert azure.fleet_size == pytest.approx(before - retiring + azure.installed)
    assert not [r for r in m.last_ledger.rows if r[3] == "asset_sale"]
    step_with_money_check(m)
    assert not _rows(m, "lease")  # no rent after the default


def _leaseback(option: bool, lab_changes=None):
    fin = {"name": "bank", "region": "US", "cash": 1e10}
    lease = {"kind": "lease", "seller": "bank", "buyer": "openai", "good": "accelerator",
             "quantity": 10000, "price": 0.0, "asset_value": 20000.0, "term": 4,
             "purchase_option": option}  # fmt: skip
    lab = {"fleet": {"nvidia": 30000}, **(lab_changes or {})}
    return MarketModel(_world([lease], openai=lab, _top={"financiers": [fin]}), seed=8)


@pytest.mark.parametrize("option", [False, True])
def test_a_financiers_lease_of_a_labs_fleet_leaves_the_residual_value_with_the_financier(
    option,
):
    m = _leaseback(option)
    (c,) = [c for c in m.contracts.contracts if c.kind == "lease"]
    value = 20000.0 * 10000
    step_with_money_check(m)
    assert sum(r[2] for r in _rows(m, "lease_funding", "bank", "openai")) == value
    for _ in range(4):
        assert sum(r[2] for r in _rows(m, "lease", "openai", "bank")) == pytest.approx(
            c.price * 10000
        )
        step_with_money_check(m)
    # Tick 4, the term over: the lab buys them at the residual value, or the bank sells them.
    residual = value * residual_share(1.0, m.world.behaviour.residual_values)
    lab = m.by_name["openai"]
    kept = 30000.0 * (22 - 4) / 22  # its start cohorts still in use at tick 4
    if option:
        assert sum(r[2] for r in _rows(m, "lease_purchase", "openai", "bank")) == pytest.approx(
            residual
        )
        assert lab.own.size == pytest.approx(kept)
    else:
        assert sum(r[2] for r in _rows(m, "residual_sale", EXTERNAL, "bank")) == pytest.approx(
            residual
        )
        assert lab.own.size == pytest.approx(kept - 10000.0)
    step_with_money_check(m)
    assert not [r for r in m.last_ledger.rows if r[3].startswith(("lease", "residual"))]


def test_a_financier_repossesses_a_defaulted_lessees_accelerators_at_a_discount():
    m = _leaseback(False, {"credit_line": 1e6})
    (c,) = [c for c in m.contracts.contracts if c.kind == "lease"]
    c.price = 1e5  # a rent the lab cannot pay
    lab, bank = m.by_name["openai"], m.by_name["bank"]
    while not lab.defaulted:
        step_with_money_check(m)
        assert m.tick < 4
    t = m.tick - 1
    assert bank.default_loss == pytest.approx(1e5 * 10000 * (4 - (t + 1)))
    step_with_money_check(m)
    b = m.world.behaviour
    sale = (
        (1 - b.fire_sale_discount)
        * 20000.0
        * 10000
        * residual_share((m.tick - 1) / 4, b.residual_values)
    )
    assert sum(r[2] for r in _rows(m, "residual_sale", EXTERNAL, "bank")) == pytest.approx(sale)


# ------------------------------------------------------------------ backstops
def _backstop_world(limit=math.inf, backstops=True):
    backstop = {"kind": "backstop", "seller": "azure", "buyer": "nvidia", "good": "compute",
                "quantity": 20000, "price": 3000.0, "term": 12, "limit": limit}  # fmt: skip
    # Labs want little: the hyperscalers' fleets sit partly idle.
    small = {"training": 5000, "inference": 5000}
    return _world([backstop], {"backstops": backstops}, openai=small, anthropic=small, spot=small)


def test_a_called_backstop_pays_the_neocloud_for_its_unsold_compute():
    m = MarketModel(_backstop_world(), seed=2)
    called = 0.0
    for _ in range(6):
        step_with_money_check(m)
        h = m.by_name["azure"]
        units = min(20000.0, max(0.0, h.available - h.sold))
        paid = sum(r[2] for r in _rows(m, "backstop", "nvidia", "azure"))
        assert paid == pytest.approx(3000.0 * units, rel=1e-9, abs=1e-6)
        called += paid
    assert called > 0


def test_a_backstop_pays_no_more_than_its_limit_and_can_be_switched_off():
    m = MarketModel(_backstop_world(limit=1e8), seed=2)
    for _ in range(6):
        step_with_money_check(m)
    (c,) = [c for c in m.contracts.contracts if c.kind == "backstop"]
    assert c.paid_total == pytest.approx(1e8)
    off = MarketModel(_backstop_world(backstops=False), seed=2)
    for _ in range(3):
        step_with_money_check(off)
        assert not _rows(off, "backstop")


# ------------------------------------------------------------------ labs' own fleets
def test_a_lab_serves_its_own_demand_from_its_fleet_first():
    own = {"fleet": {"nvidia": 200000}, "fleet_opex": 900.0}  # more than it wants
    m = MarketModel(_world(openai=own), seed=3)
    for _ in range(3):
        step_with_money_check(m)
        lab = m.by_name["openai"]
        assert sum(m.outcome.inflows("openai", "compute").values()) == pytest.approx(0, abs=1e-6)
        assert lab.received == pytest.approx(lab.demand)
        opex = sum(r[2] for r in _rows(m, "operating", "openai", EXTERNAL))
        assert opex == pytest.approx(900.0 * lab.demand)


# ------------------------------------------------------------------ vendor financing
def _vendor_world(**terms) -> MarketModel:
    """Nvidia invests $2B per GW of its chips in OpenAI, which buys them for a fleet of
    its own (0.0013 MW per H100e); the hyperscalers buy none. ``terms``: e.g. a limit."""
    deal = {"kind": "vendor_financing", "seller": "nvidia", "buyer": "openai",
            "good": "accelerator", "quantity": 10, "price": 2e9, "term": 12, **terms}  # fmt: skip
    buyer = {"fleet": {"nvidia": 30000}, "fleet_target": 0.8, "mw_per_h100e": 0.0013}
    none = {"capex_budget": 0.0}
    return MarketModel(_world([deal], openai=buyer, azure=none, google=none), seed=4)


def test_vendor_financing_money_returns_as_chip_purchases():
    """The lab buys the designer's chips for its own fleet (the hyperscalers buy none):
    the designer invests price x GW of them, and the lab's purchases pay it back."""
    m = _vendor_world()
    invested = bought = 0.0
    for _ in range(8):
        step_with_money_check(m)
        units = m.flows.get(("nvidia", "openai", "accelerator"), 0.0)
        inv = sum(r[2] for r in _rows(m, "vendor_investment", "nvidia", "openai"))
        assert inv == pytest.approx(2e9 * units * 0.0013 / 1000, rel=1e-9, abs=1e-3)
        invested += inv
        rows = m.last_ledger.rows
        bought += sum(
            r[2] for r in rows if r[:2] == ("openai", "nvidia") and r[3].endswith(":accelerator")
        )
    (c,) = [c for c in m.contracts.contracts if c.kind == "vendor_financing"]
    assert invested > 0
    assert c.paid_total == pytest.approx(invested)
    assert c.delivered_total == pytest.approx(bought)  # the return: its chips bought
    assert bought >= invested  # the money came back as chip purchases


def test_vendor_financing_stops_at_its_limit_and_counts_the_return_pro_rata():
    m = _vendor_world(limit=5e7)
    invested = returned = 0.0
    for _ in range(8):
        step_with_money_check(m)
        inv = sum(r[2] for r in _rows(m, "vendor_investment", "nvidia", "openai"))
        units = m.flows.get(("nvidia", "openai", "accelerator"), 0.0)
        if inv > 0:  # the return of this tick: its purchases x the share invested in
            bought = sum(r[2] for r in _rows(m, "spot:accelerator", "openai", "nvidia"))
            returned += bought * inv / (2e9 * units * 0.0013 / 1000)
        invested += inv
    (c,) = [c for c in m.contracts.contracts if c.kind == "vendor_financing"]
    assert invested == pytest.approx(5e7) and c.paid_total == pytest.approx(5e7)
    assert c.delivered_total == pytest.approx(returned)


# ------------------------------------------------------------------ equity offers
def test_a_hyperscaler_offers_equity_only_to_a_lab_short_of_compute():
    b = {"equity_offers": True, "equity_trigger": 0.2, "equity_ramp": 0.1, "equity_cover": 0.5}
    m = MarketModel(_world(behaviour=b, google={"equity_investor": True}), seed=5)
    step_with_money_check(m)
    google, lab = m.by_name["google"], m.by_name["anthropic"]
    google.available, google.sold = 50000.0, 30000.0  # 20k unsold
    lab.unmet, lab.revenue = 10000.0, 2e8
    signed = len(m.contracts.contracts)
    for other in m.by_name.values():
        if hasattr(other, "unmet_ema"):
            other.unmet_ema = 0.0
    lab.unmet_ema = 0.199  # just below the trigger: no offer
    m.financing.offer_equity()
    assert len(m.contracts.contracts) == signed
    lab.unmet_ema = 0.25  # short: google offers ramp x cover x unmet = 0.5 x 0.5 x 10k
    m.financing.offer_equity()
    (deal,) = m.contracts.contracts[signed:]
    price = m.price_ema["compute"]
    assert (deal.kind, deal.seller, deal.buyer) == ("equity_for_compute", "google", "anthropic")
    assert deal.quantity == pytest.approx(0.5 * 0.5 * 10000.0)
    assert deal.equity_share == pytest.approx(deal.quantity * price * 8 / (30.0 * 2e8 * 4))
    m.financing.offer_equity()  # the credits it holds cover what it is offered: no more
    assert len(m.contracts.contracts) == signed + 1
    lab.unmet_ema = 0.5  # shorter: topped up to cover x unmet, within google's unsold 17.5k
    m.financing.offer_equity()
    (top_up,) = m.contracts.contracts[signed + 1 :]
    assert top_up.quantity == pytest.approx(0.5 * 10000.0 - deal.quantity)


# ------------------------------------------------------------------ financiers and rates
def test_the_interest_rate_rises_with_the_borrowers_leverage():
    m = MarketModel(_world(behaviour={"debt_rate": 0.015, "leverage_spread": 0.0175}), seed=6)
    lab = m.by_name["openai"]
    rates = []
    for drawn in (0.0, 0.25, 0.5, 1.0, 1.5):
        lab.cash = -drawn * lab.credit_line
        rates.append(m.credit.rate(lab))
    assert rates == pytest.approx([0.015, 0.015 + 0.0175 * 0.25, 0.015 + 0.0175 * 0.5,
                                   0.0325, 0.0325])  # fmt: skip
    assert all(a <= b for a, b in zip(rates, rates[1:]))


def test_a_financier_lends_within_its_limit_and_earns_the_leverage_priced_rate():
    fin = {"name": "bank", "region": "US", "cash": 1e9, "cost_of_capital": 0.06,
           "limit_per_borrower": 2e8, "capacity": 1e12}  # fmt: skip
    b = {"debt_rate": 0.015, "leverage_spread": 0.0175}
    m = MarketModel(_world(behaviour=b, _top={"financiers": [fin]}), seed=6)
    lab = m.by_name["openai"]
    lab.cash = -0.5 * lab.credit_line  # $2.5B drawn of $5B
    rate = m.credit.rate(lab)
    step_with_money_check(m)
    bank = m.by_name["bank"]
    assert bank.loans["openai"] == pytest.approx(2e8)
    got = sum(r[2] for r in _rows(m, "interest", "openai", "bank"))
    rest = sum(r[2] for r in _rows(m, "interest", "openai", EXTERNAL))
    assert got == pytest.approx(2e8 * rate)
    assert rest == pytest.approx((2.5e9 - 2e8) * rate)
    funding = sum(r[2] for r in _rows(m, "funding", "bank", EXTERNAL))
    assert funding == pytest.approx(bank.lent * 0.06 / 4)


def test_a_financier_bears_the_loan_a_defaulting_borrower_cannot_repay():
    fin = {"name": "bank", "region": "US", "cash": 1e9, "limit_per_borrower": 1e8}
    lease = dict(LEASE, price=200000.0)
    m = MarketModel(
        _world([lease], openai={"credit_line": 1e6}, _top={"financiers": [fin]}), seed=1
    )
    m.by_name["openai"].cash = -0.9e6  # in debt: the bank lends it
    while not m.by_name["openai"].defaulted:
        step_with_money_check(m)
        assert m.tick < 8
    bank = m.by_name["bank"]
    lost = sum(r[2] for r in _rows(m, "loan_loss", "bank", EXTERNAL))
    assert lost > 0 and bank.loan_losses == pytest.approx(lost)


def test_every_ledger_kind_the_structures_pay_has_a_glossary_entry():
    from experiments.outputs.glossary import ledger_kind

    fin = {"name": "bank", "region": "US", "cash": 1e9}
    deal = {"kind": "vendor_financing", "seller": "nvidia", "buyer": "openai",
            "good": "accelerator", "quantity": 10, "price": 2e9, "term": 12}  # fmt: skip
    back = {"kind": "lease", "seller": "bank", "buyer": "openai", "good": "accelerator",
            "quantity": 1000, "price": 0.0, "asset_value": 20000.0, "term": 2}  # fmt: skip
    buyer = {"fleet": {"nvidia": 30000}, "fleet_target": 0.8, "cash": -1e9}
    m = MarketModel(_world([LEASE, deal, back], openai=buyer, _top={"financiers": [fin]}), seed=7)
    kinds = set()
    for _ in range(4):
        step_with_money_check(m)
        kinds |= {r[3] for r in m.last_ledger.rows}
    new = {"lease", "lease_funding", "residual_sale", "vendor_investment", "interest", "funding"}
    assert new <= kinds
    assert [k for k in sorted(kinds) if ledger_kind(k) is None] == []
