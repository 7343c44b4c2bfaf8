"""Allocation of sold-out inputs: designers plan output from the inputs they have secured.

In a shortage, foundries, memory makers and packagers allocate capacity to their
customers rather than auction it (the 2023-24 CoWoS allocations). Here a buyer's
pool for a good is the set of suppliers with an open route to it (buyers with
the same set share a pool). When a pool is (nearly) sold out (utilisation at
least ``allocation_utilisation``; it stays in allocation until utilisation falls
below ``allocation_exit_utilisation``; every pool starts in allocation, with no cap until
spot purchases have been seen), its capacity not under contract this tick is allotted
to the pool's buyers by their share of its recent spot purchases (moving
average, weight ``foresight``). A designer's output this tick is capped at

    min over inputs g of (contracted g due this tick + its allotment of g) / (g per H100e)

(no cap from an input whose pool is not in allocation). Power
providers allocate newly energised MW the same way (the interconnection queue):
a hyperscaler's installs are capped at (spare MW + secured MW) / MW per H100e. The
allotments of a line sum to its free capacity, so the inputs at most just bind
and the scarcity rent shows at the designer's node (its output cap), where the
pricing power sits, instead of in the input's price. ``input_allocation = false``
switches this off (inputs then clear by price alone).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING

from market.tolerance import exceeds

if TYPE_CHECKING:
    from market.model import MarketModel

#: Inputs allocated in a shortage (the designers' recipe inputs).
ALLOCATED = ("wafer", "hbm", "cowos", "power")


class Allocation:
    """Which pools are in allocation, and each buyer's share of its pool's spot sales."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        sellers: dict[tuple[str, str], list[str]] = defaultdict(list)
        for s, b, g, capacity, *_ in model._route_table:
            if g in ALLOCATED and capacity > 0:  # a closed route supplies nothing
                sellers[(b, g)].append(s)
        self.pool: dict[tuple[str, str], tuple[str, ...]] = {
            k: tuple(sorted(v)) for k, v in sorted(sellers.items())
        }
        self.members: dict[tuple[tuple[str, ...], str], list[str]] = defaultdict(list)
        for (b, g), pool in self.pool.items():
            self.members[(pool, g)].append(b)
        # (pool, good) in allocation: every pool starts in it (a pool that is not tight
        # leaves after the first tick), so a shortage at the start cannot slip through.
        self.on: set[tuple[tuple[str, ...], str]] = set(self.members)
        self.bought: dict[tuple[str, str], float] = {}  # (buyer, good): spot units, EMA

    def learn(self) -> None:
        """After the clearing: update spot purchases and which pools are in allocation."""
        m = self.model
        b = m.world.behaviour
        now: dict[tuple[str, str], float] = defaultdict(float)
        for _, buyer, g, q, _ in m.outcome.spot:
            if g in ALLOCATED:
                now[(buyer, g)] += q
        w = b.foresight
        for key in sorted(set(self.bought) | set(now)):
            old = self.bought.get(key)
            self.bought[key] = now[key] if old is None else (1 - w) * old + w * now.get(key, 0.0)
        for pool, g in sorted(self.members):
            lines = [m.by_name[s].line(g) for s in pool]
            available = sum(line.available for line in lines if line is not None)
            if available <= 0:
                continue
            util = sum(line.sold for line in lines if line is not None) / available
            if util >= b.allocation_utilisation:
                self.on.add((pool, g))
            elif util < b.allocation_exit_utilisation:
                self.on.discard((pool, g))

    def catch_up(self, outcome) -> bool:
        """Pools out of allocation that this tick's clearing sold out while the input's
        price rose above every ask in the pool (the dual took the chain's rent) go into
        allocation at once; True if any did, and the tick is cleared again with the caps
        (a supplier sees its order book before it confirms orders)."""
        m = self.model
        b = m.world.behaviour
        if not b.input_allocation:
            return False
        caught = False
        for pool, g in sorted(self.members):
            if (pool, g) in self.on:
                continue
            lines = [(s, m.by_name[s].line(g)) for s in pool]
            lines = [(s, ln) for s, ln in lines if ln is not None and ln.available > 0]
            available = sum(ln.available for _, ln in lines)
            if available <= 0:
                continue
            sold = sum(outcome.sold.get((s, g), 0.0) for s, _ in lines)
            if sold / available < b.allocation_utilisation:
                continue
            top_ask = max(ln.price() for _, ln in lines) * (1 + b.ask_top_premium)
            prices = [outcome.node_price(buyer, g) for buyer in self.members[(pool, g)]]
            if any(p is not None and exceeds(p, top_ask) for p in prices):
                self.on.add((pool, g))
                caught = True
        return caught

    def start_tick(self, due) -> None:
        """Contracted units due this tick, by (buyer, good) and by (seller, good)."""
        self._contracted: dict[tuple[str, str], float] = defaultdict(float)
        self._under_contract: dict[tuple[str, str], float] = defaultdict(float)
        for c in due:
            if c.good in ALLOCATED:
                self._contracted[(c.buyer, c.good)] += c.nominated
                self._under_contract[(c.seller, c.good)] += c.nominated

    def secured(self, buyer: str, good: str) -> float:
        """Units of ``good`` the buyer has secured this tick: contracted units due plus its
        allotment of its pool's free capacity; inf while the pool is not in allocation
        (or allocation is off)."""
        m = self.model
        pool = self.pool.get((buyer, good))
        if not m.world.behaviour.input_allocation or not pool or (pool, good) not in self.on:
            return math.inf
        free = 0.0
        for s in pool:
            line = m.by_name[s].line(good)
            free += max(0.0, line.available - self._under_contract[(s, good)])
        total = sum(self.bought.get((b, good), 0.0) for b in self.members[(pool, good)])
        if total <= 0:  # no spot purchases seen yet: nothing to allot by
            return math.inf
        share = self.bought.get((buyer, good), 0.0) / total
        return self._contracted[(buyer, good)] + free * share

    def pool_supply(self, buyer: str, good: str) -> float:
        """Units of ``good`` all of the buyer's pool can supply this tick."""
        m = self.model
        return sum(m.by_name[s].line(good).available for s in self.pool.get((buyer, good), ()))

    def output_cap(self, designer) -> float:
        """H100e the designer can make this tick from its secured inputs. Always finite:
        with no allocation it is what its pools could supply (a bound that does not bind),
        so the clearing model's bounds never flip between finite and infinite."""
        caps = []
        for g, units in designer.inputs.items():
            secured = self.secured(designer.name, g)
            if math.isinf(secured):
                secured = self.pool_supply(designer.name, g)
            caps.append(secured / units)
        return min(caps, default=0.0)
