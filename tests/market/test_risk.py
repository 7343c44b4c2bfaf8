"""Who bears the risk (ODD 7.18, market/risk.py): every expansion in the risk table with a
source and its capex, and realised losses that add up to the written-down capacity's value."""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
import pytest

from experiments.scenarios import load_scenario
from market.model import MarketModel
from market.risk import SOURCES, STRUCTURES, RiskBook

STRUCTURE_SOURCES = tuple(STRUCTURES.values())


def _run(name: str) -> tuple[MarketModel, dict[str, pd.DataFrame]]:
    m = MarketModel(load_scenario(name), seed=0)
    m.run()
    return m, {k: pd.DataFrame(v) for k, v in m.tables().items()}


@pytest.fixture(scope="module")
def baseline():
    return _run("baseline")


@pytest.fixture(scope="module")
def bust():
    return _run("agentic_bust")


def test_every_expansion_in_a_baseline_run_is_in_the_risk_table_with_its_capex(baseline):
    """The capex of the finance table (read from the ledger by ``metrics``) against the
    risk book's records, agent by agent and tick by tick; an SPV's purchases count for
    its tenant, whose capex they were."""
    m, tb = baseline
    risk, fin = tb["risk"], tb["finance"]
    assert set(risk.source) <= set(SOURCES)
    assert {"own_cash", "spv_debt", "spv_equity", "prepayment"} <= set(risk.source)
    tenant = {v.name: v.spec.tenant for v in m.spvs.spvs}
    # Vendor financing and backstops are stakes in a lab or a neocloud, not capex (below).
    risk = risk[~risk.source.isin(STRUCTURE_SOURCES)]
    risk = risk.assign(agent=risk.owner.map(lambda o: tenant.get(o, o)))
    recorded = risk.groupby(["tick", "agent"]).financed.sum()
    capex = fin[fin.capex > 0].set_index(["tick", "agent"]).capex
    assert capex.sum() > 1e11
    both = pd.concat([recorded.rename("risk"), capex.rename("capex")], axis=1).fillna(0.0)
    assert (both.risk - both.capex).abs().max() <= 1e-9 * capex.sum()
    # a project's exposure when it first appears is what was put into it
    first = risk[risk.tick == risk.groupby("project").tick.transform("min")]
    by = first.groupby("project")[["financed", "exposure"]].sum()
    assert (by.exposure - by.financed).abs().max() <= 1e-9 * by.financed.max()


def _write_downs(tb: dict[str, pd.DataFrame], m: MarketModel) -> dict[tuple, float]:
    """The write-downs of the rule of ODD 7.18 recomputed from the tables alone, per stake
    (project, party, source; each stake is written down to (1 - idle) x its own unimpaired
    value): capital put in (risk.financed), idle shares (capacity table), defaults (agents
    table)."""
    b = m.world.behaviour
    risk, cap, agents = tb["risk"], tb["capacity"], tb["agents"]
    life = {a.name: a.fleet_life for a in (*m.world.hyperscalers, *m.world.labs)}
    defaulted = set(
        agents[agents.defaulted.astype(bool)][["tick", "agent"]].itertuples(index=False)
    )
    cap = cap.assign(good=cap.good.where(cap.good != "compute", "fleet"))
    rows = {a: g for a, g in cap.groupby("agent")}
    spvs = {v.name for v in m.spvs.spvs}
    out = {}
    for (project, party, source), r in risk.groupby(["project", "party", "source"]):
        owner, asset = project.split(":", 1)
        if owner in spvs or source in STRUCTURE_SOURCES:  # checked on their own (below)
            continue
        put = r.groupby("tick").financed.sum()
        # a lab's own fleet has no capacity rows: nothing available, never idle
        c = rows.get(owner, cap.iloc[:0])
        if asset not in set(c.good):
            c = c.assign(good=asset)  # a DRAM wafer pool: all its maker's rows
        c = c[c.good == asset].groupby("tick")[["available", "sold"]].sum()
        c = c.reindex(range(m.world.meta.horizon), fill_value=0.0)
        keep = 1 - 1 / (life[owner] if asset == "fleet" else b.capacity_life)
        value = unimpaired = written = 0.0
        idles: list[float] = []
        for t in range(int(put.index.min()), m.world.meta.horizon):
            avail, sold = c.loc[t, "available"], c.loc[t, "sold"]
            idles.append(max(0.0, 1 - sold / avail) if avail > 0 else 0.0)
            idles = idles[-b.stranded_ticks :]
            gone = (t, owner) in defaulted
            idle = 1.0 if gone else sum(idles) / len(idles)
            value = value * keep + put.get(t, 0.0)
            unimpaired = unimpaired * keep + put.get(t, 0.0)
            if gone or (len(idles) == b.stranded_ticks and idle >= b.stranded_idle_share):
                new = min(value, (1 - idle) * unimpaired)
                written += value - new
                value = new
        out[(project, party, source)] = written
    return out


def test_realised_losses_add_up_to_the_written_down_capacity_in_a_demand_bust(bust):
    m, tb = bust
    risk = tb["risk"]
    expected = _write_downs(tb, m)
    losses = risk.groupby(["project", "party", "source"]).realised_loss.sum().to_dict()
    assert sum(expected.values()) > 1e9  # the bust strands capacity
    for stake, w in expected.items():
        assert losses.get(stake, 0.0) == pytest.approx(w, rel=1e-6, abs=1.0), stake
    # the SPVs' write-downs: max(assets, debt) - recovery x assets at default (spvs table)
    spv = tb["spvs"]
    b = m.world.behaviour
    for v in m.spvs.spvs:
        if not v.defaulted:
            continue
        before = spv[(spv.spv == v.name) & (spv.tick == v.default_tick - 1)].iloc[0]
        assets = before.assets * (1 - 1 / b.shell_life)
        written = max(assets, before.debt) - v.spec.recovery * assets
        spv_loss = sum(w for (project, *_), w in losses.items() if project == f"{v.name}:shell")
        assert spv_loss == pytest.approx(written, rel=1e-9)


def test_losses_fall_on_the_parties_that_financed_the_stranded_capacity(bust):
    """Party by party, a stake never loses more than was put into it, and the losses of
    its sources add up to the project's."""
    _, tb = bust
    r = tb["risk"]
    stake = r.groupby(["project", "party", "source"]).agg(
        put=("financed", "sum"), lost=("realised_loss", "sum")
    )
    guaranteed = stake.index.get_level_values("source") == "rvg"  # pays others' losses
    assert (stake.lost[~guaranteed] <= stake.put[~guaranteed] * (1 + 1e-9)).all()
    assert stake.lost.sum() == pytest.approx(r.realised_loss.sum())


def test_balance_sheet_spending_splits_into_own_cash_and_new_debt():
    """An owner whose cash goes from +2 to -3 this tick financed 3 of its 10 by debt."""
    m = MarketModel(load_scenario("baseline"), seed=0)
    book = RiskBook(m)
    tsmc = m.by_name["TSMC"]
    tsmc.cash = 2.0
    book.record_expansion("TSMC", "wafer", 10.0)

    class Ledger:
        rows = [("TSMC", "<external>", 5.0, "operating")]

        def net(self):
            return defaultdict(float, {"TSMC": -5.0})

    book.close_tick(Ledger())
    stakes = book.projects["TSMC:wafer"].stakes
    assert stakes[("TSMC", "debt")].financed == pytest.approx(3.0)
    assert stakes[("TSMC", "own_cash")].financed == pytest.approx(7.0)
    with pytest.raises(ValueError, match="risk source"):
        book.record_expansion("TSMC", "wafer", 1.0, source="gift")


def test_vendor_financing_and_backstops_are_stakes_of_their_payers():
    """Vendor financing (designer -> lab) is the designer's exposure in the lab, $ for $
    of the ledger; a called backstop is the guarantor's realised loss, $ for $. Both
    from the ledger rows of each tick, against the risk table."""
    m = MarketModel(load_scenario("demand_bust"), seed=0)
    paid: dict[tuple[str, str, str], float] = defaultdict(float)
    for _ in range(m.world.meta.horizon):
        m.step()
        for payer, payee, amount, kind in m.last_ledger.rows:
            if kind in STRUCTURES:
                paid[(f"{payee}:{STRUCTURES[kind]}", payer, STRUCTURES[kind])] += amount
    risk = pd.DataFrame(m.tables()["risk"])
    r = risk[risk.source.isin(STRUCTURE_SOURCES)]
    got = r.groupby(["project", "party", "source"]).agg(
        put=("financed", "sum"), lost=("realised_loss", "sum"), last=("exposure", "last")
    )
    assert {k[2] for k in paid} == set(STRUCTURE_SOURCES)  # both structures paid out
    assert set(got.index) == set(paid)
    for key, amount in paid.items():
        assert got.loc[key, "put"] == pytest.approx(amount, rel=1e-9)
        if key[2] == "backstop":  # paid for compute nobody rents: lost at once
            assert got.loc[key, "lost"] == pytest.approx(amount, rel=1e-9)
            assert got.loc[key, "last"] == 0.0
        elif not m.by_name[key[0].split(":")[0]].defaulted:  # still held in the lab
            assert got.loc[key, "last"] == pytest.approx(amount, rel=1e-9)
            assert got.loc[key, "lost"] == 0.0
