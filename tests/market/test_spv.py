"""Data-centre SPVs (ODD 7.18, market/spv.py): money conserved, default when the tenant
leaves, losses by seniority with the residual-value guarantee."""

from __future__ import annotations

from collections import defaultdict

import pytest
from worlds import stack_world, step_with_money_check

from market.ledger import EXTERNAL
from market.model import MarketModel

SPV = dict(
    name="dc spv", tenant="azure", size=2e9, start=1, debt_share=0.7, tenant_equity=0.2,
    rate=0.07, debt_term=20, lease_term=4, rvg=0.3, recovery=0.4, coverage=1.25,
)  # fmt: skip


def spv_world(horizon: int = 16, bust_at: int | None = None, **terms):
    shocks = []
    if bust_at is not None:  # the tenant's customers go away: its fleet idles
        shocks = [dict(kind="demand_bust", start=bust_at, end=horizon, target="", factor=0.05)]
    return stack_world(
        spvs=[{**SPV, **terms}], shocks=shocks, meta={"name": "spv", "horizon": horizon}
    )


def run(m: MarketModel, ticks: int) -> list[list[tuple]]:
    """Step ``ticks`` ticks with the money check; each tick's ledger rows."""
    rows = []
    for _ in range(ticks):
        step_with_money_check(m)
        rows.append(list(m.last_ledger.rows))
    return rows


def test_spv_cash_flows_conserve_money():
    m = MarketModel(spv_world(), seed=0)
    ledgers = run(m, 16)  # the agents' cash moves by exactly the ledger's outside net
    v = m.spvs.spvs[0]
    bought = borrowed = repaid = 0.0
    for rows in ledgers:
        net = defaultdict(float)
        for payer, payee, amount, kind in rows:
            net[payer] -= amount
            net[payee] += amount
            if payee == "azure" and kind == "spv_purchase":
                bought += amount
            if kind == "spv_debt":
                borrowed += amount
            if kind == "spv_principal":
                repaid += amount
        # the SPV keeps no cash: what comes in each tick goes out the same tick
        assert net["dc spv"] == pytest.approx(0.0, abs=1e-6 * (1 + v.drawn))
    assert bought > 0
    assert v.drawn == pytest.approx(bought, rel=1e-12)
    assert borrowed == pytest.approx(SPV["debt_share"] * bought, rel=1e-12)
    assert v.debt == pytest.approx(borrowed - repaid, rel=1e-9)
    assert not v.defaulted  # a busy tenant renews its lease and pays its rent


def test_an_spv_defaults_when_its_tenant_leaves():
    m = MarketModel(spv_world(bust_at=6), seed=0)
    run(m, 16)
    v = m.spvs.spvs[0]
    assert v.defaulted
    # it defaulted at the first renewal after the bust (start 1 + 4k), the tenant idle
    assert v.default_tick == 9
    assert v.why == "tenant left"
    assert v.lease_share == 0.0


def test_an_spv_defaults_the_tick_after_its_tenant_defaults():
    m = MarketModel(spv_world(), seed=0)
    run(m, 5)
    h = m.by_name["azure"]
    h.cash = -h.credit_line - 1e12  # it cannot pay this tick: it defaults
    run(m, 2)
    v = m.spvs.spvs[0]
    assert h.defaulted and v.defaulted
    assert v.default_tick == h.default_tick + 1
    assert v.why == "tenant left"


def test_default_losses_fall_by_seniority_with_the_guarantee():
    """Independently of the SPV's code: its assets and debt from the ledger, the write-down
    max(V, D) - recovery x V at default, the guarantee paid by the tenant."""
    m = MarketModel(spv_world(bust_at=6), seed=0)
    ledgers = run(m, 10)
    life = m.world.behaviour.shell_life
    assets = debt = 0.0
    for t, rows in enumerate(ledgers):
        bought = sum(a for _, _, a, k in rows if k == "spv_purchase")
        if t < 9:  # before the default tick
            debt += sum(a for _, _, a, k in rows if k == "spv_debt")
            debt -= sum(a for _, _, a, k in rows if k == "spv_principal")
            assets = assets * (1 - 1 / life) + bought
    assets *= 1 - 1 / life  # the default tick's depreciation
    written_down = max(assets, debt) - SPV["recovery"] * assets
    p = m.risk.projects["dc spv:shell"]
    losses = {key: s.loss_total for key, s in p.stakes.items()}
    assert sum(losses.values()) == pytest.approx(written_down, rel=1e-9)
    rvg = sum(a for p_, q, a, k in ledgers[9] if k == "rvg" and p_ == "azure" and q == EXTERNAL)
    lenders_loss = debt - min(SPV["recovery"] * assets, debt)
    assert rvg == pytest.approx(min(SPV["rvg"] * SPV["size"], lenders_loss), rel=1e-9)
    assert losses[("azure", "rvg")] == pytest.approx(rvg, rel=1e-9)
    assert losses[("dc spv lenders", "spv_debt")] == pytest.approx(lenders_loss - rvg, abs=1.0)
    equity = max(0.0, assets - debt)
    assert losses[("dc spv investors", "spv_equity")] == pytest.approx(0.8 * equity, abs=1.0)


def test_an_spv_with_an_unknown_tenant_is_refused():
    with pytest.raises(ValueError, match=r"spvs\[0\]\.tenant"):
        stack_world(spvs=[{**SPV, "tenant": "openai"}])


def test_an_spv_defaults_when_rent_falls_below_debt_service():
    """Half its lease handed back: rent = 0.5 x 1.25 x S < S, so the lenders get the rent
    and the SPV defaults; with 0.9 of it, rent = 1.125 S covers the debt service."""
    for share, defaults in ((0.9, False), (0.5, True)):
        m = MarketModel(spv_world(), seed=0)
        run(m, 5)
        v = m.spvs.spvs[0]
        v.lease_share = share
        rows = run(m, 1)[0]
        rent = sum(a for _, _, a, k in rows if k == "spv_rent")
        assert rent == pytest.approx(share * SPV["coverage"] * v.service, rel=1e-12)
        assert v.defaulted is defaults
        if defaults:
            assert v.why == "rent below debt service"
            assert sum(a for _, q, a, k in rows if q == EXTERNAL and k == "spv_interest") == (
                pytest.approx(rent, rel=1e-12)
            )
