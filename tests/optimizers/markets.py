"""Random order books for property tests of the clearing engine (not a test module).

Every number is a small integer (or a dyadic / simple fraction for recipe
ratios) so that ties between asks, bids and route costs happen often and
networkx's integer min-cost-flow solver can serve as an independent oracle.
Quantities handed to the engine are plain Python ``int``/``float`` (validation
rejects numpy integer scalars).

Usage: ``random_single_good_market(np.random.default_rng(seed))``.
"""

from __future__ import annotations

import math

import numpy as np

from optimizers import Ask, Bid, OrderBook, Recipe, Route

GOOD = "h100e"
INPUTS = ("cowos", "hbm", "wafer")
OUTPUT = "accelerator"


def _capacity(rng: np.random.Generator, p_inf: float, lo: int = 0, hi: int = 12) -> float:
    """inf with probability ``p_inf``, else an integer in [lo, hi] (as float)."""
    if rng.random() < p_inf:
        return math.inf
    return float(rng.integers(lo, hi + 1))


def _route(
    rng: np.random.Generator,
    seller: str,
    buyer: str,
    good: str,
    *,
    p_inf: float = 0.4,
    max_cost: int = 4,
    p_closed: float = 0.12,
) -> Route:
    return Route(
        seller,
        buyer,
        good,
        capacity=_capacity(rng, p_inf),
        cost=float(rng.integers(0, max_cost + 1)),
        allowed=bool(rng.random() >= p_closed),
    )


def random_single_good_market(rng: np.random.Generator) -> OrderBook:
    """A network market for one good.

    1-4 sellers (``S*``) with 1-3 step asks each, 1-4 buyers (``B*``) with 1-3
    step bids each, 0-2 order-less transit hubs (``H*``); routes seller->buyer,
    buyer->buyer, seller->seller and through the hubs, with finite or infinite
    capacities, integer costs, and some closed (``allowed=False``). Occasionally
    a seller also bids or a buyer also asks. ``agents`` is given explicitly
    because hub agents appear only in routes.
    """
    sellers = [f"S{i}" for i in range(int(rng.integers(1, 5)))]
    buyers = [f"B{i}" for i in range(int(rng.integers(1, 5)))]
    hubs = [f"H{i}" for i in range(int(rng.integers(0, 3)))]

    asks: list[Ask] = []
    bids: list[Bid] = []
    for s in sellers:
        for _ in range(int(rng.integers(1, 4))):
            asks.append(Ask(s, GOOD, float(rng.integers(1, 11)), float(rng.integers(1, 16))))
        if rng.random() < 0.15:
            bids.append(Bid(s, GOOD, float(rng.integers(1, 6)), float(rng.integers(1, 21))))
    for b in buyers:
        for _ in range(int(rng.integers(1, 4))):
            bids.append(Bid(b, GOOD, float(rng.integers(1, 11)), float(rng.integers(1, 26))))
        if rng.random() < 0.15:
            asks.append(Ask(b, GOOD, float(rng.integers(1, 6)), float(rng.integers(5, 21))))

    routes: list[Route] = []
    for s in sellers:
        for b in buyers:
            if rng.random() < 0.7:
                routes.append(_route(rng, s, b, GOOD))
    for group in (buyers, sellers):
        for a in group:
            for b in group:
                if a != b and rng.random() < 0.25:
                    routes.append(_route(rng, a, b, GOOD))
    for h in hubs:
        for s in sellers:
            if rng.random() < 0.6:
                routes.append(_route(rng, s, h, GOOD))
        for b in buyers:
            if rng.random() < 0.6:
                routes.append(_route(rng, h, b, GOOD))
    order = rng.permutation(len(routes))
    routes = [routes[i] for i in order]
    return OrderBook(
        bids=tuple(bids),
        asks=tuple(asks),
        routes=tuple(routes),
        agents=tuple(sellers + buyers + hubs),
    )


# Recipe ratios per input (units of input per accelerator) and ask price ranges.
_RATIOS = {
    "wafer": (1 / 20, 1 / 16, 1 / 8, 1 / 4),
    "hbm": (1.0, 2.0, 4.0, 8.0, 80.0),
    "cowos": (1 / 16, 1 / 8, 1 / 2),
}
_ASK_PRICE = {"wafer": (60, 200), "hbm": (1, 4), "cowos": (20, 80)}
_ASK_QTY = {"wafer": (1, 4), "hbm": (20, 400), "cowos": (1, 3)}
_SUPPLIER = {"wafer": "fab", "hbm": "mem", "cowos": "pkg"}


def random_chain_market(rng: np.random.Generator) -> OrderBook:
    """A supply chain: wafer, hbm and cowos suppliers -> designers -> buyers.

    Suppliers (``fab*``, ``mem*``, ``pkg*``) ask for their input; each designer
    (``D*``) has a Recipe making ``accelerator`` from all three inputs with
    random ratios, capacity and cost; routes carry inputs to designers and
    accelerators to buyers (``C*``, with step bids). Some routes are closed;
    sometimes a designer also asks accelerators from stock, and sometimes a
    buyer resells to another buyer.
    """
    suppliers: dict[str, list[str]] = {
        g: [f"{_SUPPLIER[g]}{i}" for i in range(int(rng.integers(1, 3)))] for g in INPUTS
    }
    designers = [f"D{i}" for i in range(int(rng.integers(1, 4)))]
    buyers = [f"C{i}" for i in range(int(rng.integers(1, 4)))]

    asks: list[Ask] = []
    for g in INPUTS:
        lo_p, hi_p = _ASK_PRICE[g]
        lo_q, hi_q = _ASK_QTY[g]
        for s in suppliers[g]:
            for _ in range(int(rng.integers(1, 3))):
                asks.append(
                    Ask(s, g, float(rng.integers(lo_q, hi_q + 1)), float(rng.integers(lo_p, hi_p)))
                )

    recipes: list[Recipe] = []
    unit_costs: list[float] = []
    for d in designers:
        ratios = {g: float(rng.choice(_RATIOS[g])) for g in INPUTS}
        cost = float(rng.integers(0, 30))
        recipes.append(Recipe(d, OUTPUT, ratios, capacity=_capacity(rng, 0.4, 0, 40), cost=cost))
        unit_costs.append(cost + sum(ratios[g] * np.mean(_ASK_PRICE[g]) for g in INPUTS))
        if rng.random() < 0.2:
            price = float(round(unit_costs[-1] * rng.uniform(0.5, 1.5)))
            asks.append(Ask(d, OUTPUT, float(rng.integers(1, 6)), price))

    # Bids around the typical unit cost so that some books trade and some do not.
    typical = float(np.median(unit_costs))
    bids: list[Bid] = []
    for c in buyers:
        for _ in range(int(rng.integers(1, 4))):
            price = float(round(typical * rng.uniform(0.5, 2.0)))
            bids.append(Bid(c, OUTPUT, float(rng.integers(1, 40)), price))

    routes: list[Route] = []
    for g in INPUTS:
        for s in suppliers[g]:
            for d in designers:
                if rng.random() < 0.85:
                    routes.append(_route(rng, s, d, g, p_inf=0.5, max_cost=3, p_closed=0.1))
    for d in designers:
        for c in buyers:
            if rng.random() < 0.8:
                routes.append(_route(rng, d, c, OUTPUT, p_inf=0.5, max_cost=10, p_closed=0.1))
    for a in buyers:
        for b in buyers:
            if a != b and rng.random() < 0.15:
                routes.append(_route(rng, a, b, OUTPUT, max_cost=5))
    order = rng.permutation(len(routes))
    routes = [routes[i] for i in order]
    agents = [s for g in INPUTS for s in suppliers[g]] + designers + buyers
    return OrderBook(
        bids=tuple(bids),
        asks=tuple(asks),
        recipes=tuple(recipes),
        routes=tuple(routes),
        agents=tuple(agents),
    )
