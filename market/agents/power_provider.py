"""Power provider: sells newly energised MW per tick (its queue); 8-20 quarters to expand."""

from __future__ import annotations

from market.agents.supplier import SingleLineSupplier


class PowerProvider(SingleLineSupplier):
    GOOD = "power"
