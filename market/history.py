"""History: replays a scenario's exogenous paths (issue 9) as the run goes.

Three schedules of ``market.scenario`` (their dates already converted to ticks):

- ``capacity_schedules``: units per tick added to a supplier's line at a tick
  (announced or reported additions, e.g. TSMC's CoWoS path). They arrive through
  the line's pipeline at the start of their tick, on top of the supplier's own
  expansion decisions (which still follow utilisation and margins);
- ``budget_paths``: a hyperscaler's capex per tick; its install budget that tick is
  ``share`` x the capex of the latest tick given (after the last one, growing at the
  hyperscaler's ``capex_growth``; before the first, its own ``capex_budget`` path).
  It reaches the hyperscaler as a factor on its budget in the tick's policy state
  (``PolicyState.capex``), so shocks that scale capex still multiply it;
- ``product_schedules``: a designer's product mix (dies per wafer, GB of HBM,
  packages per CoWoS wafer, H100e per chip, unit cost) from a tick on: its recipe
  per H100e, unit cost and chip capacity change that tick.

``MarketModel`` calls :meth:`History.apply` once per tick, right after the tick's
shocks are set and before suppliers add capacity (``prepare``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from market.scenario import PRODUCT_FIELDS, DesignerSpec, Scenario

if TYPE_CHECKING:
    from market.model import MarketModel


def product_at(scenario: Scenario, designer: str, tick: int) -> dict[str, float]:
    """The product fields of ``designer`` in force at ``tick``: its spec, updated by every
    product schedule dated at or before ``tick`` (in date order; equal dates in file order)."""
    spec = next(d for d in scenario.designers if d.name == designer)
    out = {f: getattr(spec, f) for f in PRODUCT_FIELDS}
    steps = sorted(
        (p for p in scenario.product_schedules if p.designer == designer and p.date <= tick),
        key=lambda p: p.date,
    )
    for p in steps:
        out.update({f: getattr(p, f) for f in PRODUCT_FIELDS if getattr(p, f) is not None})
    return out


def budget_at(scenario: Scenario, hyperscaler: str, tick: int) -> float | None:
    """$ a hyperscaler may spend on installs at ``tick`` under its budget path, or None
    where no path applies (no path, or before its first tick)."""
    path = next((b for b in scenario.budget_paths if b.hyperscaler == hyperscaler), None)
    if path is None:
        return None
    known = [t for t in path.capex if t <= tick]
    if not known:
        return None
    last = max(known)
    spec = next(h for h in scenario.hyperscalers if h.name == hyperscaler)
    years = (tick - last) / scenario.meta.ticks_per_year
    return path.share * path.capex[last] * (1 + spec.capex_growth) ** years


def own_budget(scenario: Scenario, hyperscaler: str, tick: int) -> float:
    """$ the hyperscaler's own rule budgets at ``tick``: capex_budget grown at capex_growth
    (as ``Hyperscaler._wanted_installs``)."""
    spec = next(h for h in scenario.hyperscalers if h.name == hyperscaler)
    years = tick / scenario.meta.ticks_per_year
    return spec.capex_budget * (1 + spec.capex_growth) ** years


def capacity_added(scenario: Scenario, agent: str, good: str, tick: int) -> float:
    """Units per tick the schedules add to ``agent``'s ``good`` line at ``tick``."""
    return sum(
        c.add.get(tick, 0.0)
        for c in scenario.capacity_schedules
        if c.agent == agent and c.good == good
    )


class History:
    """Applies a scenario's schedules to a model, tick by tick."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        w = model.world
        self.active = bool(w.capacity_schedules or w.budget_paths or w.product_schedules)

    def apply(self, tick: int) -> None:
        """This tick's capacity additions, budget factors and product changes."""
        if not self.active:
            return
        m = self.model
        w = m.world
        for c in w.capacity_schedules:
            units = c.add.get(tick, 0.0)
            if units > 0:
                # Arrives in this tick's ``prepare`` (ready tick <= now).
                m.by_name[c.agent].line(c.good).pipeline.append((tick, units))
        for b in w.budget_paths:
            wanted = budget_at(w, b.hyperscaler, tick)
            if wanted is None:
                continue
            own = own_budget(w, b.hyperscaler, tick)
            factor = wanted / own if own > 0 else 0.0
            capex = m.policy.capex
            capex[b.hyperscaler] = capex.get(b.hyperscaler, 1.0) * factor
        for p in w.product_schedules:
            if p.date == tick:
                set_product(m.by_name[p.designer], product_at(w, p.designer, tick))


def set_product(designer, product: dict[str, float]) -> None:
    """Give a ``ChipDesigner`` the recipe, unit cost and capacity of ``product`` (the
    fields of ``PRODUCT_FIELDS``), as its constructor derives them from its spec."""
    h = product["h100e_per_chip"] * product["performance"]  # realised H100e per chip
    designer.inputs = {
        "wafer": 1.0 / (product["chips_per_wafer"] * h),
        "hbm": product["hbm_per_chip"] / h,
        "cowos": 1.0 / (product["chips_per_cowos_wafer"] * h),
    }
    designer.unit_cost = product["unit_cost"] / h
    spec: DesignerSpec = next(d for d in designer.model.world.designers if d.name == designer.name)
    designer.capacity = spec.capacity * h


__all__ = ["History", "budget_at", "capacity_added", "own_budget", "product_at", "set_product"]
