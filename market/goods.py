"""The goods of the market and their units (a registry a scenario could extend)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GoodInfo:
    name: str
    unit: str
    durable: bool  # becomes a stock the buyer carries between ticks


GOODS: dict[str, GoodInfo] = {
    g.name: g
    for g in (
        GoodInfo("wafer", "leading-edge logic wafers (N5/N4/N3 class)", False),
        GoodInfo("hbm", "GB of HBM", False),
        GoodInfo("cowos", "CoWoS wafer-equivalents", False),
        GoodInfo("accelerator", "H100-equivalents (H100e)", True),
        GoodInfo("power", "MW of energised data-centre capacity", True),
        GoodInfo("compute", "H100e-quarters of rentable accelerator time", False),
        # premium inference traffic (ODD 7.19): time on premium-eligible (newest) hardware
        GoodInfo("compute_premium", "H100e-quarters of premium-eligible accelerator time", False),
        # networking: consumed by an install, it lives on in the fleet (capital spending)
        GoodInfo("networking", "switches, NICs and optics for one installed H100e", True),
        GoodInfo("shell", "MW of built data-centre shell with its cooling", True),
        GoodInfo("dram", "GB of conventional DRAM (DDR/LPDDR)", False),
        GoodInfo("tools", "tool units: $1M of wafer-fab equipment at 2025 list prices", True),
    )
}

#: The hyperscaler-internal good: H100e installed this tick (accelerator + MW together,
#: with its networking and MW of shell where the scenario models them).
INSTALL = "install"

#: The build-to-forecast designer's internal good: H100e it makes for its own stock this
#: tick (sold from the stock from the next tick; ``agents.chip_designer``).
STOCK = "stock"
