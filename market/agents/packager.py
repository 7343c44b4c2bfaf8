"""Advanced packager (OSAT): sells CoWoS wafer-equivalents; expansion takes 4-6 quarters."""

from __future__ import annotations

from market.agents.supplier import SingleLineSupplier


class Packager(SingleLineSupplier):
    GOOD = "cowos"
