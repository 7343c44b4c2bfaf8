"""Data-centre developer: sells MW of built shell with its cooling per tick (one capacity
line; its lead time is the construction time of new capacity). Its cooling type sets
the PUE and WUE of the MW it builds (``pue``, ``wue``), which the hyperscalers that buy
its shells take on (``Hyperscaler.pue``)."""

from __future__ import annotations

from market.agents.supplier import SingleLineSupplier


class DCDeveloper(SingleLineSupplier):
    GOOD = "shell"

    def __init__(self, model, spec) -> None:
        super().__init__(model, spec)
        self.cooling = spec.cooling
        self.pue = spec.pue  # facility energy / IT energy of the shells it builds
        self.wue = spec.wue  # L of water per kWh of IT energy
