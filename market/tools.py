"""Fab equipment: a capacity line's orders for tools (ODD 7.14).

New capacity on a line with ``tools_per_unit`` τ > 0 (tool units per unit/tick of
capacity; one tool unit = $1M of wafer-fab equipment at 2025 list prices,
``market.scenario.TOOL_UNIT``) is an order for τ x units of tools. The line bids for
them in the next ticks' books; capacity enters the pipeline only for the tools it
received, ``ready = max(t + 1, t - 1 + lead)`` with t the tick of receipt and lead the
(permitted) lead time fixed when the capacity was ordered, so tools received in the
tick after the order keep the old timing ``order tick + lead``. The capex of the
expansion is split: the tools are paid at their clearing price, the rest
``capex_per_unit - τ x TOOL_UNIT`` ($ per unit/tick, construction and installation)
when the tools arrive. Own orders unfilled after ``behaviour.tool_patience`` ticks are
cancelled; orders for capacity a customer reserved wait until filled.
"""

from __future__ import annotations

from dataclasses import dataclass

from market.scenario import TOOL_UNIT


@dataclass(slots=True)
class ToolOrder:
    """Capacity waiting for its tools: units per tick of capacity on one line."""

    placed: int  # tick the capacity was ordered
    units: float  # units/tick of capacity still waiting for tools
    capex_per_unit: float  # $ per unit/tick of the whole expansion, tools at list price
    lead: int  # ticks from ordering to use (the permitted lead time at the order)
    value: float  # its payback ratio rho (share of capex repaid in payback_ticks)
    reserved: bool = False  # financed by a customer's reservation: it never cancels
    customer: str = ""  # the customer that reserved (and prepaid part of) it, if any

    def non_tool_capex(self, tools_per_unit: float) -> float:
        """$ per unit/tick of the expansion that is not tools (construction, install)."""
        return self.capex_per_unit - tools_per_unit * TOOL_UNIT


def payback_ratio(
    margin: float, payback_ticks: float, capex_per_unit: float, prepaid: float = 0.0
) -> float:
    """Share of the expansion's capex it repays within ``payback_ticks``:
    ``rho = (margin x payback_ticks) / capex + prepaid``, with margin $ per unit sold
    (price - unit cost), capex $ per unit/tick and ``prepaid`` the share of capex a
    customer prepaid (a reservation). The supplier's own expansion test is rho >= 1."""
    if capex_per_unit <= 0:
        return max(0.0, prepaid)
    return max(0.0, margin * payback_ticks / capex_per_unit + prepaid)


def bid_price(orders: list[ToolOrder], list_price: float, premium: float) -> float:
    """$ per tool unit a line bids: ``list_price x (1 + premium x rho)`` with rho its best
    waiting order's payback ratio (0 if none waits), so tools go first to the expansions
    that repay most of their capex, and an expansion that just passes its payback test
    pays up to ``1 + premium`` times the tools' list price."""
    rho = max((o.value for o in orders), default=0.0)
    return list_price * (1.0 + premium * rho)
