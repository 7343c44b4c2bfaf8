"""Leading-edge foundry: sells wafers and, where it packages (TSMC), CoWoS.

Its CoWoS line shares the fab's lead time halved, and its capex per CoWoS unit
scales with the ratio of CoWoS to wafer unit cost (a rough, documented proxy).
New wafer capacity needs ``tools_per_unit`` and new CoWoS capacity
``cowos_tools_per_unit`` tool units per unit/tick (ODD 7.14).
"""

from __future__ import annotations

from market.agents.supplier import Line, Supplier
from market.scenario import FabSpec


class Fab(Supplier):
    def __init__(self, model, spec: FabSpec) -> None:
        lines = [Line.from_spec("wafer", spec)]
        if spec.cowos_capacity > 0:
            ratio = spec.cowos_unit_cost / max(spec.unit_cost, 1.0)
            cowos = Line(
                "cowos",
                spec.cowos_capacity,
                spec.cowos_unit_cost,
                spec.capex_per_unit * ratio,
                max(1, spec.lead_time // 2),
                spec.markup,
                spec.depreciation,
                markup_step=spec.markup_step,
                min_markup=spec.min_markup,
                tools_per_unit=spec.cowos_tools_per_unit,
            )
            lines.append(cowos)
        super().__init__(model, spec.name, spec.region, spec.cash, lines)
