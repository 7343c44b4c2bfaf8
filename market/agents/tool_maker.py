"""Wafer-fab equipment maker: sells tool units ($M of equipment at 2025 list prices) to
the fabs, memory makers and packagers whose new capacity needs them (ODD 7.14).

Its line is an ordinary capacity line (ask at unit cost x (1 + markup), markup and
expansion rules of ODD 7.5, its own lead time to expand); its own expansion needs no
tools. Tools settle at the clearing's nodal price unless ``behaviour.sold_at_offer``
names them, so when they are scarce their price is the dual of the tool constraint.
"""

from __future__ import annotations

from market.agents.supplier import SingleLineSupplier


class ToolMaker(SingleLineSupplier):
    GOOD = "tools"
