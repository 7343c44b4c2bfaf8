"""One tick's results as the market reads them: a frozen ``TickOutcome``.

Built once per tick from the order book and the clearing (``TickOutcome.of``):
quantities are snapped to exact zeros within ``market.tolerance.REL_QUANTITY`` of
each good's market size, contract deliveries are split back to their contracts,
and the views agents and metrics need (units sold per (seller, good), accelerators
made per designer, fills per bidder, flows per (seller, buyer, good), spot trades
with the buyer's nodal price) are indexed. Nothing changes it after it is built.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from market import contracts as ct
from market.goods import GOODS, STOCK
from market.tolerance import market_scales, snap_array
from optimizers import Clearing, OrderBook

MADE = ("accelerator", STOCK)  # recipe outputs that count as a designer's output

Key = tuple[str, str, str]  # (seller, buyer, good)


@dataclass(frozen=True, slots=True)
class TickOutcome:
    """The tick's trades. Quantities are per tick in the good's unit; prices $/unit.

    ``spot``: (seller, buyer, good, units, $/unit paid) per route that carried spot
    units: the buyer's nodal price, or for a good sold at offer the seller's offer plus
    the route's cost if lower;
    ``deliveries``: (contract, units delivered, units short);
    ``spot_price``: volume-weighted spot price per good that traded.
    """

    tick: int
    book: OrderBook
    clearing: Clearing
    ask_fills: tuple[float, ...]
    bid_fills: tuple[float, ...]
    recipe_activity: tuple[float, ...]
    route_flows: tuple[float, ...]
    deliveries: tuple[tuple[ct.Contract, float, float], ...]
    sold: dict[tuple[str, str], float]
    made: dict[str, float]
    activities: dict[str, tuple[float, ...]]  # agent: its recipes' activities, in its order
    ask_fills_of: dict[str, tuple[float, ...]]  # agent: its asks' fills, in its order
    fills: dict[str, tuple[float, ...]]
    flows: dict[Key, float]
    spot: tuple[tuple[str, str, str, float, float], ...]
    asks_first: dict[tuple[str, str], float]
    into: dict[tuple[str, str], dict[str, float]]
    out_of: dict[tuple[str, str], dict[str, float]]
    spot_price: dict[str, float]
    receipts: dict[tuple[str, str], tuple[float, float]]  # (seller, good): (units, $)
    spent: dict[tuple[str, str], float]  # (buyer, good): $ paid for spot units

    @classmethod
    def of(
        cls,
        tick: int,
        book: OrderBook,
        c: Clearing,
        groups: list,
        at_offer: frozenset[str] = frozenset(),
    ) -> TickOutcome:
        """The outcome of clearing ``book``. A spot trade in a good of ``at_offer`` settles
        at the lower of the buyer's nodal price and the seller's offer plus the route's
        cost (transport and switching, which the seller pays): see ``offers``."""
        scale = market_scales(book)

        def snapped(goods, values) -> tuple[float, ...]:
            q = np.asarray(values, dtype=float)
            if not q.size:
                return ()
            s = np.array([scale.get(g, 0.0) for g in goods], dtype=float)
            return tuple(snap_array(q, s).tolist())

        asks = snapped([o.good for o in book.asks], c.ask_fills)
        bids = snapped([o.good for o in book.bids], c.bid_fills)
        activity = snapped([r.output for r in book.recipes], c.recipe_activity)
        route_flows = snapped([r.good for r in book.routes], c.route_flows)
        delivered = snapped([k.good for k in book.commitments], c.commitment_deliveries)
        deliveries = tuple(ct.split(groups, list(delivered)))

        sold: dict[tuple[str, str], float] = defaultdict(float)
        asks_first: dict[tuple[str, str], float] = {}
        ask_fills_of: dict[str, list[float]] = defaultdict(list)
        for a, q in zip(book.asks, asks):
            sold[(a.agent, a.good)] += q
            ask_fills_of[a.agent].append(q)
            asks_first.setdefault((a.agent, a.good), a.price)
        made: dict[str, float] = defaultdict(float)
        acts: dict[str, list[float]] = defaultdict(list)
        for r, q in zip(book.recipes, activity):
            acts[r.agent].append(q)
            if r.output in MADE:
                made[r.agent] += q
        fills: dict[str, list[float]] = defaultdict(list)
        for b, q in zip(book.bids, bids):
            fills[b.agent].append(q)
        offer = offers(book, c, asks, activity, at_offer)
        flows: dict[Key, float] = defaultdict(float)
        spot = []
        for r, q in zip(book.routes, route_flows):
            if q > 0:
                flows[(r.seller, r.buyer, r.good)] += q
                p = c.prices[(r.buyer, r.good)]
                if (r.seller, r.good) in offer:  # the seller nets at most its offer
                    p = min(p, offer[(r.seller, r.good)] + r.cost)
                spot.append((r.seller, r.buyer, r.good, q, p))
        for k, q, _ in deliveries:
            if q > 0:
                flows[(k.seller, k.buyer, k.good)] += q
        into: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
        out_of: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
        for (s, b, g), q in flows.items():
            into[(b, g)][s] = q
            out_of[(s, g)][b] = q
        volume: dict[str, float] = defaultdict(float)
        value: dict[str, float] = defaultdict(float)
        for _, _, g, q, p in spot:
            volume[g] += q
            value[g] += q * p
        spot_price = {g: value[g] / volume[g] for g in GOODS if volume.get(g, 0.0) > 0}
        receipts: dict[tuple[str, str], tuple[float, float]] = {}
        sales = [(s, g, q, p) for s, _, g, q, p in spot]
        sales += [(k.seller, k.good, d, k.price) for k, d, _ in deliveries if d > 0]
        for s, g, q, p in sales:
            units, paid = receipts.get((s, g), (0.0, 0.0))
            receipts[(s, g)] = (units + q, paid + q * p)
        spent: dict[tuple[str, str], float] = defaultdict(float)
        for _, b, g, q, p in spot:
            spent[(b, g)] += q * p
        return cls(
            tick, book, c, asks, bids, activity, route_flows, deliveries, dict(sold),
            dict(made), {k: tuple(v) for k, v in acts.items()},
            {k: tuple(v) for k, v in ask_fills_of.items()},
            {k: tuple(v) for k, v in fills.items()}, dict(flows), tuple(spot),
            asks_first, dict(into), dict(out_of), spot_price, receipts, dict(spent),
        )  # fmt: skip

    def node_price(self, agent: str, good: str) -> float | None:
        """This tick's nodal price ($/unit), or None if the node is not in the book."""
        return self.clearing.prices.get((agent, good))

    def received_price(self, seller: str, good: str) -> float | None:
        """$/unit ``seller`` was paid on average for ``good`` this tick: spot units at their
        settlement price and contract units at the contract price; None if it sold none."""
        units, value = self.receipts.get((seller, good), (0.0, 0.0))
        return value / units if units > 0 else None

    def made_into(self, agent: str, good: str) -> float:
        """Units of ``good`` the agent's recipes made this tick."""
        return sum(
            q
            for r, q in zip(self.book.recipes, self.recipe_activity)
            if r.agent == agent and r.output == good
        )

    def ask_price(self, agent: str, good: str) -> float | None:
        """The agent's first (cheapest) ask price for ``good`` this tick."""
        return self.asks_first.get((agent, good))

    def inflows(self, agent: str, good: str) -> dict[str, float]:
        """Units of ``good`` each seller delivered to ``agent`` this tick (spot + contract)."""
        return self.into.get((agent, good), {})

    def outflows(self, agent: str, good: str) -> dict[str, float]:
        """Units of ``good`` ``agent`` delivered to each buyer this tick (spot + contract)."""
        return self.out_of.get((agent, good), {})


def offers(
    book: OrderBook, c: Clearing, ask_fills, recipe_activity, goods: frozenset[str]
) -> dict[tuple[str, str], float]:
    """$/unit each seller of a good in ``goods`` is paid at most this tick: its highest
    accepted ask (suppliers sell at their list price, the top step at its premium), or
    for a recipe (designers) its cost plus its inputs at its node's prices (it passes
    its inputs on and keeps its margin). Scarcity above that stays in the nodal price
    (the shadow price) and moves the seller's markup over the next ticks."""
    offer: dict[tuple[str, str], float] = {}
    for a, q in zip(book.asks, ask_fills):
        if q > 0 and a.good in goods:
            key = (a.agent, a.good)
            offer[key] = max(offer.get(key, a.price), a.price)
    for r, q in zip(book.recipes, recipe_activity):
        if q > 0 and r.output in goods:
            supply = r.cost + sum(u * c.prices[(r.agent, g)] for g, u in r.inputs.items())
            key = (r.agent, r.output)
            offer[key] = max(offer.get(key, supply), supply)
    return offer
