"""A three-tier accelerator supply chain with answers worked out by hand.

    fab --wafer--> designer <--hbm-- mem
                      ^
    pkg --cowos-------+     designer --accelerator--> hyper (bid)

The designer's recipe makes one accelerator from 1/20 wafer, 80 GB of HBM and
1/16 CoWoS wafer; each route has a per-unit cost. With every route uncapacitated,
the delivered unit cost of an accelerator at the hyperscaler is

    u = (pw + tw)/20 + 80 (ph + th) + (pc + tc)/16 + k + ta

and the output is limited by min(demand, recipe capacity, supply_g / ratio_g). The
scarcity rent v - u of whatever binds is priced into the binding resource; every
slack input is priced at its ask (at the supplier) plus the route cost (at the designer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pytest

from optimizers import Ask, Bid, OrderBook, Recipe, Route, clear

RATIO = {"wafer": 1 / 20, "hbm": 80.0, "cowos": 1 / 16}
SUPPLIER = {"wafer": "fab", "hbm": "mem", "cowos": "pkg"}
ACC = "accelerator"


@dataclass(frozen=True)
class Chain:
    # Ask prices ($/wafer, $/GB, $/CoWoS wafer) and quantities.
    pw: float = 16_000.0
    ph: float = 10.0
    pc: float = 4_800.0
    wafers: float = 1_000.0  # supports 20_000 accelerators
    hbm_gb: float = 400_000.0  # supports 5_000
    cowos: float = 400.0  # supports 6_400
    # Route costs ($/unit of the good moved).
    tw: float = 320.0
    th: float = 0.5
    tc: float = 160.0
    ta: float = 100.0
    # Recipe cost ($/accelerator) and capacity; the accelerator bid.
    k: float = 500.0
    recipe_cap: float = math.inf
    route_cap: float = math.inf  # designer -> hyper
    v: float = 25_000.0
    demand: float = 10_000.0

    def book(self) -> OrderBook:
        return OrderBook(
            asks=(
                Ask("fab", "wafer", self.wafers, self.pw),
                Ask("mem", "hbm", self.hbm_gb, self.ph),
                Ask("pkg", "cowos", self.cowos, self.pc),
            ),
            recipes=(Recipe("designer", ACC, RATIO, capacity=self.recipe_cap, cost=self.k),),
            routes=(
                Route("fab", "designer", "wafer", cost=self.tw),
                Route("mem", "designer", "hbm", cost=self.th),
                Route("pkg", "designer", "cowos", cost=self.tc),
                Route("designer", "hyper", ACC, capacity=self.route_cap, cost=self.ta),
            ),
            bids=(Bid("hyper", ACC, self.demand, self.v),),
        )

    def ask_price(self, g: str) -> float:
        return {"wafer": self.pw, "hbm": self.ph, "cowos": self.pc}[g]

    def route_cost(self, g: str) -> float:
        return {"wafer": self.tw, "hbm": self.th, "cowos": self.tc}[g]

    def supply(self, g: str) -> float:
        return {"wafer": self.wafers, "hbm": self.hbm_gb, "cowos": self.cowos}[g]

    def landed(self, g: str) -> float:
        """$/unit of input g delivered to the designer when g is slack."""
        return self.ask_price(g) + self.route_cost(g)

    def designer_cost(self) -> float:
        """$/accelerator at the designer: slack inputs at landed prices plus the recipe cost."""
        return sum(RATIO[g] * self.landed(g) for g in RATIO) + self.k

    def unit_cost(self) -> float:
        """$/accelerator delivered to the hyperscaler."""
        return self.designer_cost() + self.ta


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-6)


def assert_quantities(chain: Chain, result, made: float) -> None:
    assert close(result.bid_fills[0], made)
    assert close(result.recipe_activity[0], made)
    assert close(result.route_flows[3], made)
    for i, g in enumerate(("wafer", "hbm", "cowos")):
        assert close(result.ask_fills[i], RATIO[g] * made), g
        assert close(result.route_flows[i], RATIO[g] * made), g


def assert_slack_input_prices(chain: Chain, result, binding: str | None) -> None:
    for g in RATIO:
        if g == binding:
            continue
        assert close(result.price(SUPPLIER[g], g), chain.ask_price(g)), g
        assert close(result.price("designer", g), chain.landed(g)), g


@pytest.mark.parametrize("binding", ["cowos", "wafer", "hbm"])
def test_binding_input_takes_the_scarcity_rent(binding: str) -> None:
    """(a) CoWoS binds, (c) wafer binds, and HBM for symmetry."""
    # Make `binding` the only scarce input: supports 1_600 accelerators, the others more.
    base = Chain()
    scarce = {g: base.supply(g) for g in RATIO}
    scarce[binding] = 1_600 * RATIO[binding]
    chain = replace(base, wafers=scarce["wafer"], hbm_gb=scarce["hbm"], cowos=scarce["cowos"])
    made = chain.supply(binding) / RATIO[binding]
    others = [chain.supply(g) / RATIO[g] for g in RATIO if g != binding]
    assert made < min(*others, chain.demand)  # the premise of this case
    assert chain.v > chain.unit_cost()

    result = clear(chain.book())

    assert_quantities(chain, result, made)
    # The bid is partly filled, so it sets the accelerator price.
    assert close(result.price("hyper", ACC), chain.v)
    assert close(result.price("designer", ACC), chain.v - chain.ta)
    assert_slack_input_prices(chain, result, binding)
    # Zero recipe profit at the designer leaves the rent to the binding input.
    slack_cost = sum(RATIO[g] * chain.landed(g) for g in RATIO if g != binding)
    rent_price = (chain.v - chain.ta - chain.k - slack_cost) / RATIO[binding]
    assert close(result.price("designer", binding), rent_price)
    supplier_price = rent_price - chain.route_cost(binding)
    assert close(result.price(SUPPLIER[binding], binding), supplier_price)
    assert supplier_price > chain.ask_price(binding)
    welfare = made * (chain.v - chain.unit_cost())
    assert close(result.welfare, welfare)
    # All surplus is the binding supplier's rent (buyer pays its bid, the rest earn cost).
    assert close(chain.supply(binding) * (supplier_price - chain.ask_price(binding)), welfare)


def test_cowos_binds_with_free_routes_matches_the_simple_formula() -> None:
    """(a) in the brief's words: cowos price = (bid - wafer/20 - 80 hbm - recipe cost) * 16."""
    chain = Chain(tw=0.0, th=0.0, tc=0.0, ta=0.0, cowos=100.0)
    result = clear(chain.book())
    assert close(result.bid_fills[0], 16 * chain.cowos)
    assert close(result.price("hyper", ACC), chain.v)
    assert close(result.price("fab", "wafer"), chain.pw)
    assert close(result.price("mem", "hbm"), chain.ph)
    expected = (chain.v - chain.pw / 20 - 80 * chain.ph - chain.k) * 16
    assert close(result.price("pkg", "cowos"), expected)
    assert close(result.price("designer", "cowos"), expected)
    assert close(result.welfare, 16 * chain.cowos * (chain.v - chain.unit_cost()))


def test_demand_binds_prices_at_unit_cost() -> None:
    """(b) Demand is below every capacity: inputs at their asks, accelerators at unit cost."""
    chain = Chain(demand=700.0)
    assert chain.demand < min(chain.supply(g) / RATIO[g] for g in RATIO)
    result = clear(chain.book())
    assert_quantities(chain, result, chain.demand)
    assert_slack_input_prices(chain, result, None)
    assert close(result.price("designer", ACC), chain.designer_cost())
    assert close(result.price("hyper", ACC), chain.unit_cost())
    assert result.price("hyper", ACC) < chain.v
    assert close(result.welfare, chain.demand * (chain.v - chain.unit_cost()))


@pytest.mark.parametrize("tie", ["recipe_cap", "cowos"])
def test_exact_tie_takes_the_least_clearing_price(tie: str) -> None:
    """(b) with supply exactly meeting demand: any price between cost and bid clears;
    the rule picks the least one, the unit cost (the tied input's price is its ask)."""
    chain = Chain(demand=700.0)
    chain = (
        replace(chain, recipe_cap=chain.demand)
        if tie == "recipe_cap"
        else replace(chain, cowos=chain.demand * RATIO["cowos"])
    )
    result = clear(chain.book())
    assert_quantities(chain, result, chain.demand)
    assert_slack_input_prices(chain, result, None)  # includes the exhausted cowos ask
    assert close(result.price("designer", ACC), chain.designer_cost())
    assert close(result.price("hyper", ACC), chain.unit_cost())
    assert close(result.welfare, chain.demand * (chain.v - chain.unit_cost()))


def test_recipe_capacity_binds_rent_stays_with_the_designer() -> None:
    chain = Chain(recipe_cap=900.0)
    result = clear(chain.book())
    assert_quantities(chain, result, chain.recipe_cap)
    assert_slack_input_prices(chain, result, None)
    assert close(result.price("hyper", ACC), chain.v)
    assert close(result.price("designer", ACC), chain.v - chain.ta)
    margin = result.price("designer", ACC) - chain.designer_cost()
    assert close(chain.recipe_cap * margin, result.welfare)
    assert close(result.welfare, chain.recipe_cap * (chain.v - chain.unit_cost()))


def test_delivery_route_binds_rent_goes_to_the_route() -> None:
    chain = Chain(route_cap=1_200.0)
    result = clear(chain.book())
    assert_quantities(chain, result, chain.route_cap)
    assert_slack_input_prices(chain, result, None)
    assert close(result.price("designer", ACC), chain.designer_cost())
    assert close(result.price("hyper", ACC), chain.v)
    spread = result.price("hyper", ACC) - result.price("designer", ACC)
    assert spread > chain.ta
    assert close(chain.route_cap * (spread - chain.ta), result.welfare)


def test_bid_below_unit_cost_trades_nothing() -> None:
    chain = Chain()
    chain = replace(chain, v=math.floor(chain.unit_cost()) - 1.0)
    result = clear(chain.book())
    assert_quantities(chain, result, 0.0)
    assert close(result.welfare, 0.0)
    # The unserved bid sets the price where it stands (its best unserved bid).
    assert close(result.price("hyper", ACC), chain.v)
    # Shipping it idle costs ta, so the designer's price is the least compatible one.
    assert close(result.price("designer", ACC), chain.v - chain.ta)
    # The idle recipe must not be worth running at these prices (how the inputs share
    # the value is left to the rule's weights, so only the sum is checked).
    inputs = sum(RATIO[g] * result.price("designer", g) for g in RATIO)
    assert result.price("designer", ACC) - inputs <= chain.k + 1e-6
