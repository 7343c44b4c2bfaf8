"""The Mesa market model: goods, network, agents, contracts, the tick, metrics.

No file I/O and no command line here: ``experiments`` loads scenarios and writes results.
"""

from market.model import MarketModel
from market.scenario import Scenario

__all__ = ["MarketModel", "Scenario"]
