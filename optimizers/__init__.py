"""The clearing engine: order books in, allocations and nodal prices out.

Plain data only: nothing here knows of Mesa or of the market model.
"""

from optimizers.book import Ask, Bid, Block, Commitment, OrderBook, Recipe, Route, validate
from optimizers.clearing import Clearer, clear
from optimizers.errors import ClearingError, OrderBookError
from optimizers.options import SolverOptions
from optimizers.result import Clearing

__all__ = [
    "Ask",
    "Bid",
    "Block",
    "Clearer",
    "Clearing",
    "ClearingError",
    "Commitment",
    "OrderBook",
    "OrderBookError",
    "Recipe",
    "Route",
    "SolverOptions",
    "clear",
    "validate",
]
