"""Fab equipment (ODD 7.14): new capacity waits for tools, tools bind as an input should,
export controls on tools stop a region's expansion, and money is conserved."""

from __future__ import annotations

import pandas as pd
import pytest
from worlds import small_world, step_with_money_check

from market.model import MarketModel
from market.scenario import TOOL_UNIT, Scenario

TAU = 0.2  # tool units per wafer/tick of new capacity: $200k of the fab's $250k capex


def tool_world(tool_capacity: float, shocks: tuple = (), cn_fab: bool = False) -> Scenario:
    """The small world with one tool maker (NL) and fabs whose new wafer capacity needs
    TAU tool units per wafer/tick; own expansions never pay back (payback_ticks tiny),
    so the only capacity ordered is what a test orders."""
    base = small_world().model_dump(mode="python")
    fabs = [dict(f, tools_per_unit=TAU) for f in base["fabs"]]
    if cn_fab:
        fabs.append(dict(fabs[0], name="smic", region="CN", cowos_capacity=0.0))
    tool_makers = [
        {"name": "asml", "region": "NL", "capacity": tool_capacity, "unit_cost": 5e5,
         "capex_per_unit": 2e6, "lead_time": 8, "markup": 1.0, "min_markup": 1.0},
    ]  # fmt: skip
    behaviour = {"payback_ticks": 1e-6, "tool_bid_premium": 1.0, "contracting": False}
    return small_world(fabs=fabs, tool_makers=tool_makers, behaviour=behaviour, shocks=list(shocks))


def order(m: MarketModel, fab: str, units: float) -> None:
    """``fab`` orders ``units`` wafers/tick of new capacity as if a customer reserved it
    (it waits until its tools come, however long)."""
    s = m.by_name[fab]
    line = s.line("wafer")
    s.expand(line, units, line.capex_per_unit, price=line.price())


def pipeline_units(m: MarketModel, fab: str) -> float:
    """Wafers/tick of capacity ordered and in the pipeline or arrived since tick 0 (no
    depreciation in the small world)."""
    line = m.by_name[fab].line("wafer")
    start = {f.name: f.capacity for f in m.world.fabs}[fab]
    return line.capacity - start + sum(u for _, u in line.pipeline)


def tools_shipped(m: MarketModel, buyer: str) -> float:
    return sum(q for (s, b, g), q in m.flows.items() if g == "tools" and b == buyer)


def test_new_capacity_is_exactly_the_tools_shipped_over_tools_per_unit_when_tools_bind():
    cap = 50.0  # tool units per tick; the order needs 2,000 x 0.2 = 400: eight ticks
    m = MarketModel(tool_world(cap), seed=0)
    m.step()
    order(m, "tsmc", 2000.0)
    ordered_at = m.tick - 1  # it was decided in the last tick's decide step
    line = m.by_name["tsmc"].line("wafer")
    received = 0.0
    waited = 0
    while line.tool_orders:
        before = pipeline_units(m, "tsmc")
        m.step()
        shipped = tools_shipped(m, "tsmc")
        # A binding input: exactly its capacity is used, and capacity follows it.
        assert shipped == pytest.approx(min(cap, 400.0 - received), rel=1e-6)
        assert pipeline_units(m, "tsmc") - before == pytest.approx(shipped / TAU, rel=1e-9)
        # Capacity whose tools came k ticks late is ready k ticks late.
        assert line.pipeline[-1][0] == ordered_at + line.lead_time + waited
        received += shipped
        waited += 1
        assert waited <= 10, "the order should be filled in 8 ticks"
    assert waited == 8
    assert received == pytest.approx(2000.0 * TAU, rel=1e-9)


def test_with_ample_tools_an_expansion_enters_the_pipeline_at_once_at_its_old_ready_tick():
    m = MarketModel(tool_world(1e6), seed=0)
    m.step()
    order(m, "tsmc", 2000.0)
    ordered_at = m.tick - 1
    m.step()
    line = m.by_name["tsmc"].line("wafer")
    assert not line.tool_orders
    assert line.pipeline == [(ordered_at + line.lead_time, pytest.approx(2000.0))]
    assert tools_shipped(m, "tsmc") == pytest.approx(2000.0 * TAU, rel=1e-9)


def test_an_own_order_waits_at_most_tool_patience_ticks_then_is_cancelled():
    m = MarketModel(tool_world(10.0), seed=0)
    m.step()
    s = m.by_name["tsmc"]
    line = s.line("wafer")
    s.expand(line, 2000.0, line.capex_per_unit)  # its own: cancelled after the patience
    patience = m.world.behaviour.tool_patience
    got = 0.0
    for _ in range(patience + 2):
        m.step()
        got += tools_shipped(m, "tsmc")
    assert not line.tool_orders
    # What it received became capacity; the rest was cancelled, nothing is lost.
    assert got + line.tools_cancelled == pytest.approx(2000.0 * TAU, rel=1e-9)
    assert pipeline_units(m, "tsmc") == pytest.approx(got / TAU, rel=1e-9)


def test_an_export_control_on_tools_stops_that_regions_expansion_and_not_others():
    ban = {"kind": "export_control", "start": 0, "end": 12, "from_region": "NL",
           "to_region": "CN", "goods": ["tools"], "factor": 0.0}  # fmt: skip
    for shocks, cn_gets_tools in (((), True), ((ban,), False)):
        m = MarketModel(tool_world(1e6, shocks=shocks, cn_fab=True), seed=0)
        m.step()
        order(m, "smic", 1000.0)
        order(m, "tsmc", 1000.0)
        for _ in range(3):
            m.step()
        # The TW fab gets its tools either way; the CN fab only without the ban.
        assert pipeline_units(m, "tsmc") == pytest.approx(1000.0)
        assert pipeline_units(m, "smic") == pytest.approx(1000.0 if cn_gets_tools else 0.0)
        waiting = m.by_name["smic"].line("wafer").tools_on_order()
        assert waiting == pytest.approx(0.0 if cn_gets_tools else 1000.0 * TAU)
        assert all(q == 0 or b != "smic" for (s, b, g), q in m.flows.items() if g == "tools")


def test_money_is_conserved_and_tools_are_capex_for_the_buyer():
    m = MarketModel(tool_world(50.0), seed=3)
    m.step()
    order(m, "tsmc", 1000.0)
    order(m, "intel", 500.0)
    for _ in range(6):
        capex_before = {a.name: a.capex_total for a in m.by_name.values()}
        step_with_money_check(m)
        for name in ("tsmc", "intel"):
            a = m.by_name[name]
            rows = m.last_ledger.rows
            tools_paid = sum(x for p, _, x, k in rows if p == name and k == "spot:tools")
            built = sum(x for p, _, x, k in rows if p == name and k == "capex")
            # Its capex grows by the tools at their price and the rest of the capex...
            assert a.capex_total - capex_before[name] == pytest.approx(
                tools_paid + built, rel=1e-9, abs=1e-3
            )
            # ... which is capex - TAU x $1M per unit of capacity that got its tools.
            units = tools_shipped(m, name) / TAU
            rest = (a.line("wafer").capex_per_unit - TAU * TOOL_UNIT) * units
            assert built == pytest.approx(rest, rel=1e-9, abs=1e-3)
            # Tool purchases are not operating costs: profit leaves them out.
            operating = sum(
                (x if q == name else 0.0) - (x if p == name else 0.0)
                for p, q, x, k in rows
                if k not in ("capex", "prepayment", "spot:tools")
            )
            assert a.profit == pytest.approx(operating, rel=1e-9, abs=1e-3)
        maker = m.by_name["asml"]
        sold = sum(q for (s, b, g), q in m.flows.items() if s == "asml" and g == "tools")
        assert sold <= 50.0 * (1 + 1e-9)
        assert maker.line("tools").sold == pytest.approx(sold, rel=1e-9, abs=1e-9)


def test_lines_that_need_tools_without_a_tool_maker_are_refused_with_the_field_named():
    base = small_world().model_dump(mode="python")
    fabs = [dict(f, tools_per_unit=TAU) for f in base["fabs"]]
    with pytest.raises(ValueError, match=r"fabs\[0\]\.tools_per_unit.*tool_makers"):
        small_world(fabs=fabs)
    fabs[0]["tools_per_unit"] = 1.0  # $1M of tools in a $250k expansion
    with pytest.raises(ValueError, match="exceeds capex_per_unit"):
        tool_world(10.0).model_validate({**tool_world(10.0).model_dump(), "fabs": fabs})


def test_a_tool_maker_counts_the_tools_its_customers_did_not_get_as_demand():
    m = MarketModel(tool_world(50.0), seed=0)
    m.step()
    order(m, "tsmc", 2000.0)  # 400 tool units wanted, 50 a tick to be had
    m.step()
    maker = m.by_name["asml"]
    line = maker.line("tools")
    bids = [(b.quantity, q) for b, q in zip(m.book.bids, m.outcome.bid_fills) if b.good == "tools"]
    unfilled = sum(b - q for b, q in bids)
    assert unfilled == pytest.approx(350.0, rel=1e-6)
    # One maker: all of the unfilled tools are its own unserved orders.
    assert maker.utilisation(line) == pytest.approx((line.sold + unfilled) / line.available)
    assert maker.utilisation(line) == pytest.approx(8.0, rel=1e-6)


def test_memory_makers_with_a_wafer_pool_get_the_tools_their_hbm_expansions_wait_for():
    # Their own submit_orders once left out the tool bid, so their HBM expansions waited
    # for tools forever and HBM capacity never grew (found by the China-stack work).
    from experiments.scenarios import load_scenario

    m = MarketModel(load_scenario("baseline"), seed=0)
    m.run()
    t = m.tables()
    agents, flows = pd.DataFrame(t["agents"]), pd.DataFrame(t["flows"])
    makers = agents[(agents.type == "MemoryMaker") & (agents.wafers > 0)]
    waiting = makers.groupby("agent").tools_on_order.max()
    assert (waiting > 0).any()
    got = flows[flows.good == "tools"].groupby("buyer").quantity.sum()
    for name in waiting[waiting > 0].index:
        assert got.get(name, 0.0) > 0, f"{name} waited for tools and got none"
    hbm = pd.DataFrame(t["capacity"]).query("good == 'hbm'").groupby("tick").capacity.sum()
    assert hbm.iloc[-1] > hbm.iloc[0] * (1 + 1e-6)
