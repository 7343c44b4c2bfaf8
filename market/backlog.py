"""Backlogs and quoted lead times (issue 8 part 3).

Unfilled install orders wait in each hyperscaler's backlog (``Hyperscaler.backlog``:
served first, cancelled after ``behaviour.backlog_patience`` ticks). Each tick the
backlog is traced upstream to the sellers it waits on:

- a hyperscaler's backlog B_h (H100e) goes to designers in proportion to their
  share of its installed fleet (the ecosystem its orders wait on; this tick's
  deliveries would send it to whoever is not short), and B_h x mw_per_h100e MW to
  power providers by their share of its MW deliveries;
- a designer's accelerator backlog B_d goes to its input suppliers: B_d x units of
  good g per H100e, by each supplier's share of its deliveries of g.

Delivery shares are moving averages (weight ``behaviour.foresight`` on the newest
tick with deliveries), so a seller that delivers nothing during an outage keeps
the backlog waiting on it.

A seller's quoted lead time for good g, in weeks, is
``backlog(s, g) / delivered(s, g) x weeks per tick``, with its capacity as the rate
when it delivered nothing this tick (an outage); the market's lead time per good
is the same ratio over all sellers, with the moving average of the good's
deliveries as the rate in a tick when nothing was delivered (NaN only if nothing
ever was). It is the queue's wait, on top of the
production cycle (which the model does not represent).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from market.agents import ChipDesigner, Hyperscaler

if TYPE_CHECKING:
    from market.model import MarketModel

#: Goods whose lead times are quoted (the ones a backlog waits on).
QUOTED = ("wafer", "hbm", "cowos", "accelerator", "power")
NAN = float("nan")


class LeadTimes:
    """Traces backlogs upstream and quotes lead times; keeps each buyer's last sources."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        self._sources: dict[tuple[str, str], dict[str, float]] = {}
        self.by_good: dict[str, float] = dict.fromkeys(QUOTED, 0.0)  # weeks
        self.backlog_by_good: dict[str, float] = dict.fromkeys(QUOTED, 0.0)  # units
        self._rate: dict[str, float] = {}  # EMA of units delivered per tick, by good

    def _shares(self, buyer: str, good: str) -> dict[str, float]:
        got = self.model.outcome.inflows(buyer, good)
        total = sum(got.values())
        old = self._sources.get((buyer, good))
        if total > 0:
            now = {s: q / total for s, q in got.items()}
            if old is None:
                new = now
            else:
                w = self.model.world.behaviour.foresight
                new = {
                    s: (1 - w) * old.get(s, 0.0) + w * now.get(s, 0.0)
                    for s in sorted(set(old) | set(now))
                }
            self._sources[(buyer, good)] = old = new
        return old or {}

    def quote(self) -> None:
        """Set every seller's ``backlog`` and ``lead_times`` and the market's ``by_good``."""
        m = self.model
        out = m.outcome
        backlog: dict[tuple[str, str], float] = defaultdict(float)
        for h in m.agents_of(Hyperscaler):
            total = h.fleet_size
            to_designers = {d: q / total for d, q in sorted(h.units.items())} if total else {}
            to_power = self._shares(h.name, "power")
            b = h.backlog_total
            if b > 0:
                for d, share in to_designers.items():
                    backlog[(d, "accelerator")] += b * share
                for p, share in to_power.items():
                    backlog[(p, "power")] += b * h.spec.mw_per_h100e * share
        for d in m.agents_of(ChipDesigner):
            sources = {g: self._shares(d.name, g) for g in d.inputs}
            b = backlog.get((d.name, "accelerator"), 0.0)
            if b > 0:
                for g, units in d.inputs.items():
                    for s, share in sources[g].items():
                        backlog[(s, g)] += b * units * share
        weeks = 52.0 / m.world.meta.ticks_per_year
        for a in m.by_name.values():
            a.backlog, a.lead_times = 0.0, {}
        waiting: dict[str, float] = defaultdict(float)
        for (s, g), q in backlog.items():
            seller = m.by_name[s]
            rate = sum(out.outflows(s, g).values()) or seller.capacity_for(g)
            seller.backlog += q
            seller.lead_times[g] = q / rate * weeks if rate > 0 else NAN
            waiting[g] += q
        delivered: dict[str, float] = defaultdict(float)
        for (_, _, g), q in out.flows.items():
            delivered[g] += q
        w = m.world.behaviour.foresight
        for g in QUOTED:
            q = waiting.get(g, 0.0)
            now = delivered.get(g, 0.0)
            if now > 0:
                old = self._rate.get(g)
                self._rate[g] = now if old is None else (1 - w) * old + w * now
            # A tick with no deliveries (a total outage) quotes the backlog against the
            # usual delivery rate (its moving average); NaN only before any delivery.
            rate = now if now > 0 else self._rate.get(g, 0.0)
            self.backlog_by_good[g] = q
            self.by_good[g] = 0.0 if q <= 0 else (q / rate * weeks if rate > 0 else NAN)
