"""Synthetic order books shaped like the AI supply chain, for benchmarks and tests.

Tiers (k scales them): k fabs (wafer), k memory makers (HBM, GB), k packagers
(CoWoS), k designers (recipe: accelerator from wafer + HBM + CoWoS), 2k
hyperscalers (recipe: compute from accelerators + power), k power providers
(MW) and 4k labs (compute bids). Routes connect every supplier to every
designer, every designer and power provider to every hyperscaler, and every
hyperscaler to every lab, so the book has about 15 k^2 route columns.
"""

from __future__ import annotations

import math

import numpy as np

from optimizers.book import Ask, Bid, OrderBook, Recipe, Route

STEPS = 3  # price steps per supply or demand curve


def scale_for(num_vars: int) -> int:
    """The tier size k whose book has about ``num_vars`` columns."""
    # columns ~ 15 k^2 (routes) + 25 k (orders and recipes)
    return max(2, round((-25 + math.sqrt(625 + 60 * num_vars)) / 30))


def synthetic_book(k: int, rng: np.random.Generator) -> OrderBook:
    """A book with tier size ``k`` and random prices, quantities and costs."""
    fabs = [f"fab{i}" for i in range(k)]
    mems = [f"mem{i}" for i in range(k)]
    packs = [f"pack{i}" for i in range(k)]
    designers = [f"designer{i}" for i in range(k)]
    hypers = [f"hyper{i}" for i in range(2 * k)]
    powers = [f"power{i}" for i in range(k)]
    labs = [f"lab{i}" for i in range(4 * k)]

    asks: list[Ask] = []

    def supply(agents: list[str], good: str, qty: float, price: float) -> None:
        for a in agents:
            for s in range(STEPS):
                q = qty * rng.uniform(0.5, 1.5) / STEPS
                asks.append(Ask(a, good, q, price * (1 + 0.3 * s) * rng.uniform(0.8, 1.2)))

    # Per-tier totals chosen so that several tiers bind in turn.
    n_acc = 1.0e6 / k  # accelerators per designer per tick
    supply(fabs, "wafer", n_acc / 20, 15_000.0)
    supply(mems, "hbm", n_acc * 150, 15.0)
    supply(packs, "cowos", n_acc / 14, 12_000.0)
    supply(powers, "power", n_acc * 2 * 1.5e-3 / 2, 400_000.0)

    recipes = [
        Recipe(
            d,
            "accelerator",
            {"wafer": 1 / 20, "hbm": float(rng.choice([80, 141, 192])), "cowos": 1 / 16},
            capacity=n_acc * rng.uniform(0.8, 1.2),
            cost=rng.uniform(500, 2_000),
        )
        for d in designers
    ]
    recipes += [
        Recipe(h, "compute", {"accelerator": 1.0, "power": 1.5e-3}, cost=rng.uniform(50, 200))
        for h in hypers
    ]
    routes: list[Route] = []
    for supplier_tier, good in ((fabs, "wafer"), (mems, "hbm"), (packs, "cowos")):
        for s in supplier_tier:
            for d in designers:
                cap = math.inf if rng.random() < 0.5 else n_acc * rng.uniform(0.05, 0.5)
                routes.append(Route(s, d, good, cap, rng.uniform(0, 50)))
    for d in designers:
        for h in hypers:
            routes.append(Route(d, h, "accelerator", math.inf, rng.uniform(0, 500)))
    for p in powers:
        for h in hypers:
            routes.append(Route(p, h, "power", math.inf, rng.uniform(0, 20_000)))
    for h in hypers:
        for lab in labs:
            cap = math.inf if rng.random() < 0.5 else n_acc * rng.uniform(0.02, 0.2)
            routes.append(Route(h, lab, "compute", cap, rng.uniform(0, 300)))
    bids = [
        Bid(lab, "compute", n_acc * k / len(labs) / STEPS * rng.uniform(0.5, 1.5), p)
        for lab in labs
        for p in sorted(rng.uniform(5_000, 60_000, STEPS), reverse=True)
    ]
    return OrderBook(bids=bids, asks=asks, recipes=recipes, routes=routes)


def perturb(book: OrderBook, rng: np.random.Generator, spread: float = 0.05) -> OrderBook:
    """The same shape with prices, quantities and costs moved by up to ``spread``."""

    def f() -> float:
        return float(rng.uniform(1 - spread, 1 + spread))

    return OrderBook(
        bids=[Bid(b.agent, b.good, b.quantity * f(), b.price * f()) for b in book.bids],
        asks=[Ask(a.agent, a.good, a.quantity * f(), a.price * f()) for a in book.asks],
        recipes=[
            Recipe(r.agent, r.output, r.inputs, r.capacity * f(), r.cost * f())
            for r in book.recipes
        ],
        routes=[
            Route(r.seller, r.buyer, r.good, r.capacity * f(), r.cost * f(), r.allowed)
            for r in book.routes
        ],
        commitments=book.commitments,
        blocks=book.blocks,
    )
