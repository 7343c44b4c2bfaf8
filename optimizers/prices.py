"""The dual-to-price rule: one deterministic price vector per cleared book.

The clearing LP is often dual-degenerate: when supply exactly meets demand at
a node, any price between the marginal ask and the marginal bid supports the
same allocation, and a warm solve, a cold solve or the interior-point method
each return a different valid dual. So the price is not "whatever HiGHS
returned" but a rule:

    **The price vector is the point of the optimal dual face that is closest to
    zero in the weighted L1 norm sum_n w_n |p_n|, with w_n = 1 + h(n) / 4, where
    h(n) in [0, 1) is a stable hash of node n's identity (the BLAKE2b digest of
    its (agent, good) key, read as a fraction; see ``node_weight``).**

The weights depend on what a node is, never on where the book lists it, so
listing orders, routes or agents in another order gives the same prices.

Consequences a user can rely on:

- Where the dual is unique (no degeneracy) the price is simply that dual.
- Where supply exactly meets demand, the price is the lowest one that clears:
  the marginal ask (a buyer-optimal, "minimum Walrasian" price; in a pure
  network it is the componentwise least clearing price, whatever the weights).
- A node with nothing traded and an unsold ask gets price 0 (the good is free
  there); a node with unserved bids only gets the best unserved bid.
- When a rent could be split between several inputs of one recipe that all bind
  together, the weights decide the split: it is arbitrary but deterministic.

The optimal face is built from complementary slackness with the cleared
quantities ``x``: each column strictly between its bounds has zero reduced
cost, a column at its lower (upper) bound has reduced cost <= 0 (>= 0), and
each non-balance row's dual is signed by which side of the row is tight. That
set of duals is the same for every optimal ``x``, so the rule does not depend
on which optimal allocation the solver returned. A second LP selects the point;
``Clearer`` solves it through its LP dual (``DualPriceRule``: the clearing LP's
own matrix), over a working set of the columns whose constraints can bind
(checked against every column after each solve, so the optimum is the same),
kept between ticks and warm-started; ``PriceRule`` writes the price LP directly
and serves as its test oracle. When several allocations are optimal, ``ties.py``
(``SolverOptions(split_ties=True)``) picks one that does not depend on the
book's order; prices do not change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterable
from numbers import Integral

import highspy
import numpy as np
import scipy.sparse as sp

from optimizers.errors import ClearingError
from optimizers.form import Data, Layout, row_activity
from optimizers.options import SolverOptions


def _identity(key: Hashable) -> str:
    """A text form of an agent id or good that is the same in every process.

    Python's ``hash`` is salted per process and ``repr`` of a numpy integer
    differs from that of the equal ``int``, so integers, strings and tuples are
    spelled out; anything else falls back to ``repr``.
    """
    if isinstance(key, str):
        return "s" + key
    if isinstance(key, Integral) and not isinstance(key, bool):
        return "i" + str(int(key))
    if isinstance(key, tuple):
        return "t(" + ",".join(_identity(k) for k in key) + ")"
    return "r" + repr(key)


def node_weight(node: Hashable) -> float:
    """The price rule's weight of a node, 1 + h / 4 with h in [0, 1) from BLAKE2b."""
    digest = hashlib.blake2b(_identity(node).encode(), digest_size=8).digest()
    return 1.0 + int.from_bytes(digest, "big") / 2.0**64 / 4.0


def price_weights(nodes: Iterable[Hashable]) -> np.ndarray:
    """The price rule's weights of ``nodes`` (each an (agent, good) key), in their order."""
    return np.fromiter((node_weight(n) for n in nodes), dtype=np.float64)


def new_highs(options: SolverOptions) -> highspy.Highs:
    """A silent HiGHS instance with the options' settings."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for key, value in options.highs_options().items():
        h.setOptionValue(key, value)
    return h


def status_name(h: highspy.Highs) -> str:
    return h.modelStatusToString(h.getModelStatus())


def reference_quantity(data: Data, nb: int) -> float:
    """The largest finite upper bound of any column or capacity row (units), or 1."""
    finite = data.col_hi[np.isfinite(data.col_hi) & (data.col_hi > 0)]
    rows = data.row_hi[nb:]
    rows = rows[np.isfinite(rows) & (rows > 0)]
    top = max(finite.max(initial=0.0), rows.max(initial=0.0))
    return float(top) if top > 0 else 1.0


def column_scale(data: Data, nb: int) -> np.ndarray:
    """Each column's own quantity scale: its range, or the reference quantity if unbounded."""
    hi, lo = data.col_hi, data.col_lo
    with np.errstate(invalid="ignore"):
        width = np.where(np.isfinite(hi), hi - lo, reference_quantity(data, nb))
    return np.where(width > 0, width, np.maximum(np.abs(lo), 1e-300))


def _face_error(h: highspy.Highs, options: SolverOptions) -> ClearingError:
    """The error when the price rule's LP over the optimal dual face does not solve."""
    return ClearingError(
        f"the price rule's LP over the optimal dual face ended with HiGHS status "
        f"'{status_name(h)}'. The cleared quantities are not a clean optimum at "
        f"bound_tolerance={options.bound_tolerance}; try a tighter "
        "primal_tolerance/dual_tolerance or a larger bound_tolerance in SolverOptions."
    )


def _simplex_on(lp: highspy.HighsLp, options: SolverOptions) -> highspy.Highs:
    """A HiGHS instance holding ``lp``, set to the simplex (kept warm between ticks)."""
    h = new_highs(options)
    h.setOptionValue("solver", "simplex")
    h.passModel(lp)
    return h


class PriceRule:
    """Selects prices over the optimal dual face (see the module docstring).

    Keep one per ``Clearer``: the price LP is rebuilt only when the layout changes.
    """

    def __init__(self, options: SolverOptions) -> None:
        self.options = options
        self._layout: Layout | None = None
        self._h: highspy.Highs | None = None

    def _build(self, layout: Layout) -> None:
        nb = layout.num_balance
        nrows, ncols = layout.num_rows, layout.num_cols
        # Transpose: each primal row becomes a price-LP column, each primal column a row.
        pcol_of_nz = layout.index.astype(np.int64)
        prow_of_nz = layout.nz_col
        val = layout.value
        bal = pcol_of_nz < nb
        # Columns: p_plus (nb), p_minus (nb), then one dual per non-balance row.
        col = np.where(bal, pcol_of_nz, pcol_of_nz + nb)
        cols_all = np.concatenate([col, pcol_of_nz[bal] + nb])
        rows_all = np.concatenate([prow_of_nz, prow_of_nz[bal]])
        vals_all = np.concatenate([val, -val[bal]])
        order = np.lexsort((rows_all, cols_all))
        cols_all, rows_all, vals_all = cols_all[order], rows_all[order], vals_all[order]
        nvar = 2 * nb + (nrows - nb)
        start = np.searchsorted(cols_all, np.arange(nvar + 1))
        w = price_weights(layout.nodes)
        lp = highspy.HighsLp()
        lp.num_col_ = nvar
        lp.num_row_ = ncols
        lp.col_cost_ = np.concatenate([w, w, np.zeros(nrows - nb)])
        lp.col_lower_ = np.concatenate([np.zeros(2 * nb), np.zeros(nrows - nb)])
        lp.col_upper_ = np.concatenate([np.full(2 * nb, np.inf), np.zeros(nrows - nb)])
        lp.row_lower_ = np.full(ncols, -np.inf)
        lp.row_upper_ = np.full(ncols, np.inf)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = start.astype(np.int32)
        lp.a_matrix_.index_ = rows_all.astype(np.int32)
        lp.a_matrix_.value_ = vals_all
        lp.sense_ = highspy.ObjSense.kMinimize
        self._h = _simplex_on(lp, self.options)
        self._layout = layout

    def _bounds(
        self, layout: Layout, data: Data, x: np.ndarray, tol: float
    ) -> tuple[np.ndarray, ...]:
        """Row bounds (per primal column) and dual-variable bounds (per non-balance row)."""
        lo, hi, c = data.col_lo, data.col_hi, data.c
        # "At a bound" is relative to the column's own bound (its range, or for an
        # unbounded column the book's largest finite bound), never absolute, so a
        # book scaled by 1e-9 or 1e9 prices the same.
        span = tol * column_scale(data, layout.num_balance)
        at_lo = x - lo <= span
        with np.errstate(invalid="ignore"):
            at_hi = np.isfinite(hi) & (hi - x <= span)
        # Reduced cost d = c - A^T y: interior -> d = 0; at lower -> d <= 0; at upper -> d >= 0.
        row_lo = np.where(at_lo & ~at_hi, c, np.where(at_hi & ~at_lo, -np.inf, c))
        row_hi = np.where(at_hi & ~at_lo, c, np.where(at_lo & ~at_hi, np.inf, c))
        fixed = at_lo & at_hi
        row_lo[fixed] = -np.inf
        row_hi[fixed] = np.inf
        nb = layout.num_balance
        act = row_activity(layout, x)[nb:]
        rlo, rhi = data.row_lo[nb:], data.row_hi[nb:]
        # Capacity rows against their own bound; block link rows (bound 0) against 1.
        rscale = np.where(np.isfinite(rhi) & (rhi != 0), np.abs(rhi), 1.0)
        tight_hi = np.isfinite(rhi) & (rhi - act <= tol * rscale)
        tight_lo = np.isfinite(rlo) & (act - rlo <= tol * rscale)
        # Row a.x <= hi tight -> dual >= 0; a.x >= lo tight -> dual <= 0; slack -> 0.
        y_lo = np.where(tight_lo, -np.inf, 0.0)
        y_hi = np.where(tight_hi, np.inf, 0.0)
        return row_lo, row_hi, y_lo, y_hi

    def select(self, layout: Layout, data: Data, x: np.ndarray) -> np.ndarray:
        """Prices ($/unit) per balance row of ``layout`` for the cleared quantities ``x``.

        ``data`` must hold the bounds ``x`` was solved under (integer columns fixed).
        """
        return self.select_duals(layout, data, x)[: layout.num_balance]

    def select_duals(self, layout: Layout, data: Data, x: np.ndarray) -> np.ndarray:
        """The rule's dual of every row of ``layout``: node prices, then the duals of
        the capacity and block rows ($/unit of each row)."""
        if self._layout is not layout:
            self._build(layout)
        h = self._h
        assert h is not None
        nb = layout.num_balance
        tol = self.options.bound_tolerance
        for attempt in range(2):
            row_lo, row_hi, y_lo, y_hi = self._bounds(layout, data, x, tol)
            h.changeRowsBounds(layout.num_cols, np.arange(layout.num_cols), row_lo, row_hi)
            ny = layout.num_rows - nb
            if ny:
                h.changeColsBounds(ny, np.arange(2 * nb, 2 * nb + ny), y_lo, y_hi)
            if not self.options.warm_start or attempt:
                h.clearSolver()
            h.run()
            if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                v = np.asarray(h.getSolution().col_value)
                return np.concatenate([v[:nb] - v[nb : 2 * nb], v[2 * nb :]])
            tol *= 100.0
        raise _face_error(h, self.options)


class DualPriceRule(PriceRule):
    """The same rule, computed by solving the price LP's dual (the default).

    The price LP has one row per primal column (50k at 50k columns) and a few
    thousand variables; its LP dual has the clearing LP's own matrix, one row
    per node or capacity row, and one variable ``mu_j`` per primal column:

        maximise    sum_j c_j mu_j
        subject to  -w_n <= (A mu)_n <= w_n        for each node n
                    (A mu)_i <= 0, >= 0, = 0 or free for each other row i
                    mu_j free (column j interior), >= 0 (at its lower bound),
                    <= 0 (at its upper bound), = 0 (fixed)

    (the clearing LP's directions of change, with free supply and disposal at
    each node at price ``w_n``). Its basis is as small as the clearing LP's, so
    a warm solve costs about as much as the clearing LP's own, and the row duals
    of its optimum are the price LP's optimum: the same price vector, with the
    same definition. ``PriceRule`` (the direct form) is kept as its test oracle.
    """

    def _build(self, layout: Layout) -> None:
        nb = layout.num_balance
        w = price_weights(layout.nodes)
        lp = highspy.HighsLp()
        lp.num_col_ = layout.num_cols
        lp.num_row_ = layout.num_rows
        lp.col_cost_ = np.zeros(layout.num_cols)
        lp.col_lower_ = np.zeros(layout.num_cols)
        lp.col_upper_ = np.zeros(layout.num_cols)
        lp.row_lower_ = np.concatenate([-w, np.zeros(layout.num_rows - nb)])
        lp.row_upper_ = np.concatenate([w, np.zeros(layout.num_rows - nb)])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = layout.start
        lp.a_matrix_.index_ = layout.index
        lp.a_matrix_.value_ = layout.value
        lp.sense_ = highspy.ObjSense.kMaximize
        self._h = _simplex_on(lp, self.options)
        self._layout = layout
        self._cost = np.zeros(layout.num_cols)

    def select_full(self, layout: Layout, data: Data, x: np.ndarray) -> np.ndarray:
        """The rule's duals from the whole dual LP (one variable per primal column).

        ``select_duals`` restricts it to a working set of columns and falls back
        to this when the restricted solve does not settle.
        """
        if self._layout is not layout:
            self._build(layout)
        h = self._h
        assert h is not None
        nb, n, m = layout.num_balance, layout.num_cols, layout.num_rows
        tol = self.options.bound_tolerance
        cols = np.arange(n, dtype=np.int32)
        for attempt in range(2):
            row_lo, row_hi, y_lo, y_hi = self._bounds(layout, data, x, tol)
            # mu = mu+ - mu-: mu+ exists where the price-LP row has a finite lower
            # side, mu- where it has a finite upper side.
            mu_lo = np.where(np.isfinite(row_hi), -np.inf, 0.0)
            mu_hi = np.where(np.isfinite(row_lo), np.inf, 0.0)
            h.changeColsBounds(n, cols, mu_lo, mu_hi)
            changed = np.flatnonzero(data.c != self._cost)
            if len(changed):
                h.changeColsCost(len(changed), changed.astype(np.int32), data.c[changed])
                self._cost = data.c.copy()
            if m > nb:
                # A dual y_i >= 0 allowed -> (A mu)_i <= 0 needs no lower side, etc.
                r_lo = np.where(np.isfinite(y_lo), -np.inf, 0.0)
                r_hi = np.where(np.isfinite(y_hi), np.inf, 0.0)
                h.changeRowsBounds(m - nb, np.arange(nb, m, dtype=np.int32), r_lo, r_hi)
            if not self.options.warm_start or attempt:
                h.clearSolver()
            h.run()
            if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                return np.asarray(h.getSolution().row_dual)
            tol *= 100.0
        raise _face_error(h, self.options)

    def __init__(self, options: SolverOptions) -> None:
        super().__init__(options)
        self._ws: _WorkingSet | None = None
        self.last_rounds = 0  # restricted solves in the last select_duals (0: full LP used)

    def select_duals(
        self, layout: Layout, data: Data, x: np.ndarray, hint: np.ndarray | None = None
    ) -> np.ndarray:
        """The rule's dual of every row, from the dual LP over a working set of columns.

        Column ``j``'s variable ``mu_j`` is the multiplier of the price LP's
        constraint on ``j``'s reduced cost. Only constraints that bind at the
        optimum shape it, so the LP is solved over a working set: every column
        strictly inside its bounds (an equality), every column kept from earlier
        ticks, and every column whose constraint the previous prices violate.
        The prices ``y`` of that restricted LP are optimal for a relaxation of
        the price LP; every constraint left out is then checked at ``y``
        (``d_j = c_j - A_j^T y`` on the right side of zero, to
        ``dual_tolerance`` relative to the column's cost) and any violated one
        joins the set and the LP is re-solved. When none is violated, ``y`` is
        feasible for the whole price LP and optimal for a relaxation of it: the
        same optimum, by the same definition. Typically one or two rounds of a
        few hundred columns instead of one LP over every column.

        ``hint``, any optimal dual of the clearing LP (HiGHS's), only guesses
        the constraints that bind; it does not change the result.
        """
        if self._ws is None or self._ws.layout is not layout:
            self._ws = _WorkingSet(layout, self.options)
        ws = self._ws
        tol = self.options.bound_tolerance
        for _attempt in range(2):
            row_lo, row_hi, y_lo, y_hi = self._bounds(layout, data, x, tol)
            y = ws.solve(data.c, row_lo, row_hi, y_lo, y_hi, hint)
            if y is not None:
                self.last_rounds = ws.rounds
                return y
            tol *= 100.0
        self.last_rounds = 0
        return self.select_full(layout, data, x)


# A working set larger than this many times the number of rows is rebuilt from
# the columns the current tick needs (it grows by the constraints that bind).
_WORKING_SET_ROWS = 4
# Restricted solves per tick before the whole dual LP is solved instead.
_MAX_ROUNDS = 25
# A constraint within this fraction of (1 + |cost|) of binding at the previous
# tick's prices joins the set before the first solve: a guess that saves a
# re-solve when prices move a little; the check after each solve decides.
_NEAR = 0.05


class _WorkingSet:
    """The dual LP of the price rule over a subset of the clearing LP's columns.

    Holds one HiGHS instance with every row of the clearing LP and the working
    set's columns, kept between ticks (warm-started) while the layout holds.
    """

    def __init__(self, layout: Layout, options: SolverOptions) -> None:
        self.layout = layout
        self.options = options
        nb, m, n = layout.num_balance, layout.num_rows, layout.num_cols
        self.at = sp.csc_matrix((layout.value, layout.index, layout.start), shape=(m, n)).T.tocsr()
        self._w = price_weights(layout.nodes)
        self._y: np.ndarray | None = None
        self.rounds = 0
        self._reset()
        self._nb = nb

    def _reset(self) -> None:
        layout = self.layout
        nb, m = layout.num_balance, layout.num_rows
        lp = highspy.HighsLp()
        lp.num_col_ = 0
        lp.num_row_ = m
        lp.row_lower_ = np.concatenate([-self._w, np.zeros(m - nb)])
        lp.row_upper_ = np.concatenate([self._w, np.zeros(m - nb)])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.zeros(1, dtype=np.int32)
        lp.sense_ = highspy.ObjSense.kMaximize
        self.h = _simplex_on(lp, self.options)
        self.cols = np.zeros(0, dtype=np.int64)  # global column of each local column
        self.member = np.zeros(layout.num_cols, dtype=bool)
        self._cost = np.zeros(0)
        self._lo = np.zeros(0)
        self._hi = np.zeros(0)
        self._rlo = np.zeros(m - nb)
        self._rhi = np.zeros(m - nb)

    def _add(self, cols: np.ndarray, c: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        """Append primal columns ``cols`` (global ids) as dual variables."""
        layout = self.layout
        begin, end = layout.start[cols], layout.start[cols + 1]
        counts = (end - begin).astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int32)
        # Every non-zero of the chosen columns, column by column.
        nz = np.repeat(begin - starts, counts) + np.arange(counts.sum())
        self.h.addCols(
            len(cols),
            c[cols],
            lo[cols],
            hi[cols],
            int(counts.sum()),
            starts,
            layout.index[nz].astype(np.int32),
            layout.value[nz],
        )
        self.cols = np.concatenate([self.cols, cols])
        self.member[cols] = True
        self._cost = np.concatenate([self._cost, c[cols]])
        self._lo = np.concatenate([self._lo, lo[cols]])
        self._hi = np.concatenate([self._hi, hi[cols]])

    def _push(self, c: np.ndarray, lo: np.ndarray, hi: np.ndarray, rlo, rhi) -> None:
        """Send the working set's changed costs and bounds, and the signed rows' bounds."""
        h, cols = self.h, self.cols
        new_c, new_lo, new_hi = c[cols], lo[cols], hi[cols]
        idx = np.flatnonzero(new_c != self._cost).astype(np.int32)
        if len(idx):
            h.changeColsCost(len(idx), idx, new_c[idx])
            self._cost = new_c
        idx = np.flatnonzero((new_lo != self._lo) | (new_hi != self._hi)).astype(np.int32)
        if len(idx):
            h.changeColsBounds(len(idx), idx, new_lo[idx], new_hi[idx])
            self._lo, self._hi = new_lo, new_hi
        idx = np.flatnonzero((rlo != self._rlo) | (rhi != self._rhi))
        if len(idx):
            h.changeRowsBounds(len(idx), (idx + self._nb).astype(np.int32), rlo[idx], rhi[idx])
            self._rlo, self._rhi = rlo, rhi

    def _violated(
        self, y: np.ndarray, c: np.ndarray, lo: np.ndarray, hi: np.ndarray, slack: float
    ) -> np.ndarray:
        """Columns outside the set whose reduced-cost constraint ``y`` breaks by more
        than ``slack`` (1 + |c_j|); a negative ``slack`` also names nearly binding ones."""
        d = c - self.at @ y
        slack = slack * (1.0 + np.abs(c))
        # mu_j >= 0 allowed (a^T y >= c, d <= 0); mu_j <= 0 allowed (d >= 0).
        bad = ((hi > 0) & (d > slack)) | ((lo < 0) & (d < -slack))
        return np.flatnonzero(bad & ~self.member)

    def solve(
        self,
        c: np.ndarray,
        row_lo: np.ndarray,
        row_hi: np.ndarray,
        y_lo: np.ndarray,
        y_hi: np.ndarray,
        hint: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """The restricted optimum's duals once no constraint outside the set is violated
        (None if the restricted LP does not solve or does not settle).

        ``row_lo``/``row_hi`` bound ``A_j^T y`` per column and ``y_lo``/``y_hi`` the
        non-balance rows' duals (``PriceRule._bounds``); ``hint`` is any dual of the
        clearing LP, used only to guess which constraints bind."""
        lo = np.where(np.isfinite(row_hi), -np.inf, 0.0)
        hi = np.where(np.isfinite(row_lo), np.inf, 0.0)
        # A dual y_i >= 0 allowed -> (A mu)_i <= 0 needs no lower side, etc.
        rlo = np.where(np.isfinite(y_lo), -np.inf, 0.0)
        rhi = np.where(np.isfinite(y_hi), np.inf, 0.0)
        if len(self.cols) > _WORKING_SET_ROWS * self.layout.num_rows:
            self._reset()
        required = np.flatnonzero((lo < 0) & (hi > 0) & ~self.member)  # interior columns
        self._push(c, lo, hi, rlo, rhi)
        # Guesses of the binding constraints: those nearly binding at the previous
        # tick's prices and at the clearing LP's own dual (a point of this face).
        extra = required[:0]
        for y in (self._y, hint):
            if y is not None:
                extra = np.union1d(extra, self._violated(y, c, lo, hi, -_NEAR))
        new = np.union1d(required, extra)
        h = self.h
        for rounds in range(1, _MAX_ROUNDS + 1):
            if len(new):
                self._add(new, c, lo, hi)
            if not self.options.warm_start:
                h.clearSolver()
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                h.clearSolver()
                h.run()
                if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                    self._y = None
                    return None
            y = np.asarray(h.getSolution().row_dual)
            new = self._violated(y, c, lo, hi, self.options.dual_tolerance)
            if not len(new):
                self._y = y
                self.rounds = rounds
                return y
        self._y = None
        return None
