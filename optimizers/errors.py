"""Errors raised by the clearing engine."""


class OrderBookError(ValueError):
    """A malformed order book; the message names the offending entry and field."""


class ClearingError(RuntimeError):
    """HiGHS did not return an optimal solution; the message gives its status and what to try."""
