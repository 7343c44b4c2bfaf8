"""HBM maker: sells GB of HBM; capacity expansion takes 4-8 quarters."""

from __future__ import annotations

from market.agents.supplier import SingleLineSupplier


class MemoryMaker(SingleLineSupplier):
    GOOD = "hbm"
