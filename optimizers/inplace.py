"""The shared in-place HiGHS layer: one persistent instance, numbers pushed as they change.

Both backends (the Pyomo model in ``clearing.py`` and the direct highspy model
in ``reference.py``) hold the clearing LP in one ``highspy.Highs`` instance and
update it between ticks through this class, so HiGHS keeps its basis.
"""

from __future__ import annotations

import highspy
import numpy as np

from optimizers.form import Data


def changed_indices(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    # NaN-free by validation; inf == inf is True, as wanted.
    return np.flatnonzero(new != old)


class InPlaceHighs:
    """A persistent HiGHS instance holding the clearing LP, updated in place.

    Both backends keep one: ``col_of[j]`` / ``row_of[i]`` are the HiGHS column /
    row of layout column j / row i (the identity for the direct formulation, the
    persistent solver's maps for Pyomo). ``update`` pushes only the numbers that
    changed, in vectorised calls, so HiGHS keeps its basis for a warm start.
    """

    h: highspy.Highs
    col_of: np.ndarray
    row_of: np.ndarray
    _data: Data
    _integer_cols: np.ndarray
    _integral: bool = True

    def update(self, data: Data) -> None:
        """Push changed costs, column bounds and row bounds to HiGHS."""
        old, h = self._data, self.h
        idx = changed_indices(data.c, old.c)
        if len(idx):
            h.changeColsCost(len(idx), self.col_of[idx], data.c[idx])
        idx = np.flatnonzero((data.col_lo != old.col_lo) | (data.col_hi != old.col_hi))
        if len(idx):
            h.changeColsBounds(len(idx), self.col_of[idx], data.col_lo[idx], data.col_hi[idx])
        idx = np.flatnonzero((data.row_lo != old.row_lo) | (data.row_hi != old.row_hi))
        if len(idx):
            h.changeRowsBounds(len(idx), self.row_of[idx], data.row_lo[idx], data.row_hi[idx])
        self._data = data

    def set_integral(self, integral: bool) -> None:
        """Treat block-acceptance columns as integer (MILP) or continuous (fixed LP)."""
        cols = self._integer_cols
        if len(cols) == 0 or integral == self._integral:
            return
        kind = highspy.HighsVarType.kInteger if integral else highspy.HighsVarType.kContinuous
        self.h.changeColsIntegrality(len(cols), cols, np.array([kind] * len(cols)))
        self._integral = integral

    def row_duals(self) -> np.ndarray:
        """The last solve's row duals ($/unit of each row), in layout order."""
        return np.asarray(self.h.getSolution().row_dual)[self.row_of]
