"""A one-tick clearing demo: wafer + HBM + CoWoS -> accelerators -> hyperscalers.

Numbers are rough 2025 quarterly figures from ``docs/data-sources.md``
(CoWoS ~165k TSMC + ~50k OSAT wafers per quarter, HBM ~0.28 bn GB split
57/22/21, ~$15/GB, CoWoS ~$12k per wafer, ~12 effective packages per CoWoS
wafer, accelerator prices $16-43k). It clears the book twice, as is and with
TSMC's CoWoS halved, and prints quantities and nodal prices, so the scarcity
rent can be seen moving into the CoWoS price. The market model replaces this
as the main job.
"""

from __future__ import annotations

import math
from dataclasses import replace

from optimizers import Ask, Bid, Clearing, OrderBook, Recipe, Route, clear


def demo_book(cowos_scale: float = 1.0) -> OrderBook:
    """The demo market; ``cowos_scale`` multiplies TSMC's CoWoS capacity."""
    asks = [
        # AI share of N3/N5 wafers: ~1.3x what CoWoS can package (not binding), $/wafer
        Ask("TSMC-N3", "wafer", 110_000, 18_000.0),
        # HBM: the broker figure, 3.2 bn GB in 2025, ~0.8 bn GB per quarter (the
        # chip-implied figure is ~3x lower; docs/data-sources.md leaves it unresolved).
        Ask("SK hynix", "hbm", 0.57 * 800e6, 15.0),  # GB per quarter, $/GB
        Ask("Samsung", "hbm", 0.22 * 800e6, 16.0),
        Ask("Micron", "hbm", 0.21 * 800e6, 15.5),
        Ask("TSMC-CoWoS", "cowos", 165_000 * cowos_scale, 12_000.0),  # wafers per quarter
        Ask("OSAT", "cowos", 50_000, 14_000.0),
    ]
    designers = {
        # designer: (GB of HBM per chip, chips per quarter it can ship, cost $/chip)
        "Nvidia": (192.0, 1_800_000, 1_500.0),
        "AMD": (288.0, 150_000, 1_500.0),
        "Broadcom": (95.0, 700_000, 1_000.0),  # TPU v5p-class
    }
    recipes = [
        Recipe(d, "accelerator", {"wafer": 1 / 30, "hbm": gb, "cowos": 1 / 12}, cap, cost)
        for d, (gb, cap, cost) in designers.items()
    ]
    suppliers = [(a.agent, a.good) for a in asks]
    routes = [Route(s, d, g) for s, g in suppliers for d in designers]
    buyers = {"Microsoft": 40_000.0, "Meta": 38_000.0, "Amazon": 36_000.0, "Google": 30_000.0}
    routes += [Route(d, b, "accelerator", math.inf, 200.0) for d in designers for b in buyers]
    bids = [Bid(b, "accelerator", 700_000, p) for b, p in buyers.items()]
    # A second, cheaper step of demand on each buyer (spot / enterprise resale).
    bids += [replace(bid, quantity=600_000, price=bid.price * 0.5) for bid in bids]
    return OrderBook(bids=bids, asks=asks, recipes=recipes, routes=routes)


def _summary(title: str, book: OrderBook, c: Clearing) -> None:
    made = {r.agent: q for r, q in zip(book.recipes, c.recipe_activity)}
    print(f"\n{title}")
    print(f"  welfare ${c.welfare / 1e9:,.1f} bn per quarter; status {c.status}")
    print(
        f"  accelerators made: {sum(made.values()):,.0f} ({
            ', '.join(f'{d} {q:,.0f}' for d, q in made.items())
        })"
    )
    for good, unit in (("wafer", "wafer"), ("hbm", "GB"), ("cowos", "CoWoS wafer")):
        sold = sum(q for a, q in zip(book.asks, c.ask_fills) if a.good == good)
        cap = sum(a.quantity for a in book.asks if a.good == good)
        price = max(c.prices[(a.agent, good)] for a in book.asks if a.good == good)
        print(f"  {good:6} sold {sold:14,.0f} of {cap:14,.0f}  price ${price:>10,.2f} per {unit}")
    served = {b.agent: 0.0 for b in book.bids}
    for b, q in zip(book.bids, c.bid_fills):
        served[b.agent] += q
    for agent, q in served.items():
        p = c.prices[(agent, "accelerator")]
        print(f"  {agent:10} receives {q:10,.0f} H100e-class chips at ${p:,.0f}")


def run_demo() -> None:
    """Clear the demo market as is and with TSMC CoWoS halved; print both."""
    base = demo_book()
    _summary("Baseline quarter", base, clear(base))
    short = demo_book(cowos_scale=0.5)
    _summary("TSMC CoWoS capacity halved", short, clear(short))
