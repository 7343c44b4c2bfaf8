"""The clearing LP passed straight to highspy: the speed reference and an oracle.

It reads the same layout and data as the Pyomo model (``form.py``) and hands
them to HiGHS as one column-wise matrix, then updates costs and bounds in place
with vectorised calls. ``Clearer(backend="highspy")`` clears through it.
"""

from __future__ import annotations

import highspy
import numpy as np

from optimizers.form import Data, Layout
from optimizers.inplace import InPlaceHighs
from optimizers.options import SolverOptions
from optimizers.prices import new_highs, status_name


class HighspyModel(InPlaceHighs):
    """The clearing LP passed to one persistent ``highspy.Highs`` instance as arrays."""

    name = "highspy"

    def __init__(self, layout: Layout, data: Data, options: SolverOptions) -> None:
        self.layout = layout
        self.options = options
        lp = highspy.HighsLp()
        lp.num_col_ = layout.num_cols
        lp.num_row_ = layout.num_rows
        lp.col_cost_ = data.c
        lp.col_lower_ = data.col_lo
        lp.col_upper_ = data.col_hi
        lp.row_lower_ = data.row_lo
        lp.row_upper_ = data.row_hi
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = layout.start
        lp.a_matrix_.index_ = layout.index
        lp.a_matrix_.value_ = layout.value
        lp.sense_ = highspy.ObjSense.kMaximize
        if layout.integer.any():
            lp.integrality_ = [
                highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                for i in layout.integer
            ]
        self.h = new_highs(options)
        self.h.passModel(lp)
        self.col_of = np.arange(layout.num_cols, dtype=np.int32)
        self.row_of = np.arange(layout.num_rows, dtype=np.int32)
        self._data = data
        self._integer_cols = np.flatnonzero(layout.integer)

    def solve(self) -> tuple[str, np.ndarray]:
        """Run HiGHS; return its model status and the columns' values in layout order."""
        h = self.h
        if not self.options.warm_start:
            h.clearSolver()
        h.run()
        status = status_name(h)
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return status, np.empty(0)
        return status, np.asarray(h.getSolution().col_value)
