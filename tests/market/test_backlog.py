"""Backlogs and lead times: unfilled install orders carry over, are served first, and a
shortage shows as a quoted lead time (issue 8 part 3)."""

from __future__ import annotations

import pytest
from worlds import small_world

from market.agents import Hyperscaler
from market.model import MarketModel

#: TSMC (wafers and most CoWoS) and ASE (the rest of the CoWoS) offline for ticks 3-6:
#: TPUs run short for Alphabet's captive fleet.
CUT = [
    {"kind": "capacity_drop", "start": 3, "end": 7, "target": name, "factor": 0.0}
    for name in ("tsmc", "ase")
]


def test_an_order_unfilled_in_one_tick_is_served_in_the_next_before_new_orders():
    m = MarketModel(small_world(shocks=CUT), seed=1)
    served_from_backlog = 0.0
    for _ in range(12):
        waiting = {h.name: dict(h.waiting) for h in m.agents_of(Hyperscaler)}
        m.step()
        for h in m.agents_of(Hyperscaler):
            fills = m.outcome.fills[h.name]
            bids = h.install_bids
            new_filled = fills[0] + fills[1]
            old = sum(bids[2:])
            assert old == pytest.approx(sum(waiting[h.name].values()))  # carried over
            if new_filled > 1e-6 * max(1.0, bids[0]):  # any new order served...
                for q, f in zip(bids[2:], fills[2:]):  # ...so every waiting one was
                    assert f == pytest.approx(q, rel=1e-9, abs=1e-6)
            served_from_backlog += sum(fills[2:])
            # The higher new step is served before the lower one.
            if fills[1] > 1e-6:
                assert fills[0] == pytest.approx(bids[0], rel=1e-9, abs=1e-6)
    assert served_from_backlog > 0  # the cut did leave orders waiting


def test_orders_are_cancelled_after_the_patience():
    # TSMC and ASE offline for good: Alphabet's TPU orders can never be served.
    never = [{"kind": "outage", "start": 0, "end": 12, "target": "TW", "factor": 0.0}]
    m = MarketModel(small_world(shocks=never, behaviour={"backlog_patience": 2}), seed=1)
    cancelled = 0.0
    for _ in range(8):
        m.step()
        google = m.by_name["google"]
        assert set(google.waiting) <= {1, 2}  # nothing waits longer than the patience
        cancelled += google.cancelled
    assert cancelled > 0


def _lead_times(shocks) -> list[float]:
    m = MarketModel(small_world(shocks=shocks), seed=1)
    m.run()
    return m.tables()["ticks"]["lead_time_accelerator"]


def test_quoted_lead_time_rises_during_a_capacity_cut_and_falls_after_it():
    cut, base = _lead_times(CUT), _lead_times([])
    before, during, after = max(cut[:3]), max(cut[3:7]), max(cut[9:])
    assert during > before + 1.0  # weeks
    assert during > max(base[3:7]) + 1.0  # the cut, not the season, makes the wait
    assert after < 0.5 * during


def test_a_sellers_lead_time_is_its_backlog_over_its_deliveries():
    m = MarketModel(small_world(shocks=CUT), seed=1)
    m.run(7)
    tpu = m.by_name["tpu"]
    assert tpu.backlog > 0
    delivered = sum(m.outcome.outflows("tpu", "accelerator").values())
    rate = delivered or tpu.capacity_for("accelerator")
    assert tpu.lead_times["accelerator"] == pytest.approx(tpu.backlog / rate * 13.0)
