"""One number formatter and plain-text tables (built with pandas) for every printed table."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def number(x: object, digits: int = 4) -> str:
    """``x`` in at most ``digits`` significant digits, for tables read by people.

    ``-`` for a missing value (None, NaN); ``0`` for zero; thousands and above with a
    suffix (``12.35k``, ``1.5M``, ``3.2B``, ``4T``); below 0.001 in e-notation.
    Units are the table's business (its row or column label).
    """
    if x is None or isinstance(x, str):
        return "-" if x is None else x
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    a = abs(v)
    if a < 1e-3 or a >= 1e15:
        return f"{v:.{digits - 1}e}"
    if a >= 1e4:
        scale, suffix = next((s, x) for s, x in _SUFFIXES if a >= s)
        return f"{v / scale:.{digits}g}{suffix}"
    text = f"{v:.{digits}g}"
    return f"{v:.0f}" if "e" in text else text


def text_table(df: pd.DataFrame, left: Iterable[str] = (), digits: int = 4) -> str:
    """``df`` as a plain-text table: numbers through :func:`number`, columns named in
    ``left`` left-aligned (labels), the others right-aligned; no index."""
    if df.empty:
        return "(no rows)"
    left = set(left)
    shown = pd.DataFrame(index=range(len(df)))
    for col in df.columns:
        values = df[col].tolist()
        cells = [v if isinstance(v, str) else number(v, digits) for v in values]
        if col in left:
            width = max(len(str(col)), *(len(c) for c in cells))
            cells = [c.ljust(width) for c in cells]
            col = str(col).ljust(width)
        shown[col] = cells
    return shown.to_string(index=False)


__all__ = ["number", "text_table"]
