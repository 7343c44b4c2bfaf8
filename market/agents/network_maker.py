"""Network maker: sells networking (the switches, NICs and optical transceivers of one
installed H100e) per tick; a group of firms in one region, one capacity line."""

from __future__ import annotations

from market.agents.supplier import SingleLineSupplier


class NetworkMaker(SingleLineSupplier):
    GOOD = "networking"
