"""The tie rule: one allocation when several are optimal.

The clearing LP often has many optimal allocations: two sellers asking the same
price with demand below their sum, two equal-cost routes, two designers with
the same unit cost. The simplex method returns one vertex, and which one
depends on the order in which the book lists its orders. So the allocation is
not "whatever vertex HiGHS returned" but a rule:

    **Among the optimal allocations, the clearing takes the one minimising
    sum_j x_j^2 / u_j, first over the order and production columns (bids,
    asks, recipes, contracted deliveries, block ratios), then, with those
    fixed, over the flow columns (routes, disposal).** ``u_j`` is the column's
    upper bound (units), or, where that is unlimited, the largest finite
    bound in the book (a symmetric reference quantity).

Consequences: tied offers fill pro rata to their quantity, as exchanges do at
the marginal price (two sellers of 3 and 1 units at the same ask, facing a
demand of 2, sell 1.5 and 0.5); equal-cost parallel routes carry flow in
proportion to their capacity; and because the objective is strictly convex in
every column that can move and names no position, the allocation does not
depend on the order of the book's lists.

The optimal face is built by complementary slackness with the prices the price
rule chose (any optimal dual serves): a column whose reduced cost
``d_j = c_j - A_j^T y`` is non-zero (beyond ``bound_tolerance`` relative to
the column's cost and the prices it touches, ``dual_tolerance``) stays at the bound the LP put it
on; a capacity or block row with a non-zero dual stays tight. Only the
remaining ("tied") columns enter the two quadratic programs, which Clarabel
(an interior-point conic solver) solves to 1e-10.
Welfare moves by at most ``dual_tolerance`` times the reduced costs of the
tied columns times the quantities moved, plus the interior-point solver's
accuracy; on exact ties it equals the LP optimum to ``WELFARE_RTOL`` (1e-7)
relative. Every row (money and flow conservation, capacities) holds to HiGHS's
primal tolerance relative to the row's flows, or the split is rejected and the
LP's vertex kept (``Clearing.tie_status`` says which). Flows carry a small
weight (``FLOW_WEIGHT``) in the same program, so the pro-rata split of orders is
exact to about 1e-6 relative.
"""

from __future__ import annotations

import clarabel
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from optimizers.form import Data, Layout, row_activity
from optimizers.options import SolverOptions
from optimizers.prices import column_scale

# Column kinds of the first stage (who trades, who makes); the rest are flows.
FLOW_KINDS = ("route", "dispose")
# The welfare of the tie rule's allocation equals the LP optimum to this relative
# tolerance (interior-point accuracy and the flow weight below; see the docstring).
WELFARE_RTOL = 1e-7
# Weight of the flow columns relative to the orders: small, so that flows follow
# the orders' pro-rata split (to about this relative precision) instead of bending it.
FLOW_WEIGHT = 1e-6
# A value within this fraction of its column's reference quantity u_j of a bound is on it.
SNAP = 1e-9


def reduced_costs(layout: Layout, c: np.ndarray, duals: np.ndarray) -> tuple[np.ndarray, ...]:
    """``d = c - A^T y`` and a scale per column, ``max(1, |c_j|, sum_i |A_ij y_i|)``."""
    terms = layout.value * duals[layout.index]
    aty = np.bincount(layout.nz_col, weights=terms, minlength=layout.num_cols)
    mag = np.bincount(layout.nz_col, weights=np.abs(terms), minlength=layout.num_cols)
    return c - aty, np.maximum(np.maximum(1.0, np.abs(c)), mag)


class TieRule:
    """Splits ties among optimal allocations (see the module docstring)."""

    def __init__(self, options: SolverOptions) -> None:
        self.options = options
        self.last_tied = 0  # columns in the last tie problem (for benchmarks)
        self.last_status = "none"

    def split(self, layout: Layout, data: Data, x: np.ndarray, duals: np.ndarray) -> np.ndarray:
        """The rule's allocation, given an optimal ``x`` and optimal row ``duals``.

        ``data`` holds the bounds ``x`` was solved under (integer columns fixed).
        Returns ``x`` itself (clipped) when no column is tied or HiGHS fails; see
        ``last_status``.
        """
        tol = self.options.dual_tolerance
        lo, hi = data.col_lo, data.col_hi
        x = np.clip(x, lo, hi)
        d, scale = reduced_costs(layout, data.c, duals)
        tied = (np.abs(d) <= tol * scale) & (hi > lo)
        self.last_tied = int(tied.sum())
        self.last_status = "none"
        if not tied.any():
            self.last_status = "none"
            return x
        nb = layout.num_balance
        u = column_scale(data, nb)
        # Snap the columns that stay where they are onto their bounds.
        span = self.options.bound_tolerance * u
        x = np.where(~tied & (x - lo <= span), lo, x)
        x = np.where(~tied & np.isfinite(hi) & (hi - x <= span), hi, x)
        # Row bounds: a capacity or block row with a non-zero dual stays tight.
        row_lo, row_hi = data.row_lo.copy(), data.row_hi.copy()
        row_scale = np.ones(layout.num_rows)
        np.maximum.at(row_scale, layout.index, np.abs(data.c[layout.nz_col]))
        y = duals.copy()
        y[:nb] = 0.0
        upper = y > tol * row_scale
        lower = y < -tol * row_scale
        row_lo[upper] = row_hi[upper]
        row_hi[lower] = row_lo[lower]
        flow = np.zeros(layout.num_cols, dtype=bool)
        for k in FLOW_KINDS:
            flow[layout.cols[k]] = True
        # Stage 1: orders (flows lightly weighted, which keeps the program strictly
        # convex). Stage 2: flows alone, every row held where stage 1 left it.
        first = np.where(flow, FLOW_WEIGHT, 1.0)
        sol = self._solve(layout, data, x, tied, first, u, row_lo, row_hi)
        if sol is None:
            return x
        out = x.copy()
        out[tied] = sol
        out = _snap(out, lo, hi, u)
        moving = tied & flow
        if moving.any():
            act = row_activity(layout, out)
            eq = row_lo == row_hi
            lo2 = np.where(eq, act, np.minimum(row_lo, act))
            hi2 = np.where(eq, act, np.maximum(row_hi, act))
            sol = self._solve(layout, data, out, moving, np.ones(layout.num_cols), u, lo2, hi2)
            if sol is not None:
                out[moving] = sol
                out = _snap(out, lo, hi, u)
        # Accept the split only if it keeps every row within HiGHS's primal tolerance
        # (relative to the row's flows): conservation must not pay for symmetry.
        act, mag = row_activity(layout, out), _row_magnitude(layout, out)
        worst = np.maximum(row_lo - act, act - row_hi) / np.maximum(1.0, mag)
        if worst.max(initial=0.0) > self.options.primal_tolerance:
            self.last_status = f"rejected: row violated by {worst.max():.1e} of its flows"
            return x
        self.last_status = "split"
        return np.clip(out, lo, hi)

    def _solve(
        self,
        layout: Layout,
        data: Data,
        x: np.ndarray,
        free: np.ndarray,
        stage: np.ndarray,
        u: np.ndarray,
        row_lo: np.ndarray,
        row_hi: np.ndarray,
    ) -> np.ndarray | None:
        """Minimise sum of x_j^2 / u_j over the ``stage`` columns, moving the ``free``
        columns and keeping the rest at ``x``.

        Solved by Clarabel (an interior-point method: unlike an active-set QP it
        is indifferent to the semidefinite objective of the first stage).
        """
        act = row_activity(layout, np.where(free, 0.0, x))
        in_free = free[layout.nz_col]
        cols = np.flatnonzero(free)
        n = len(cols)
        col_pos = np.full(layout.num_cols, -1, dtype=np.int64)
        col_pos[cols] = np.arange(n)
        nz_col = col_pos[layout.nz_col[in_free]]
        rows, nz_row = np.unique(layout.index[in_free], return_inverse=True)
        # Solve in scaled units: z_j = x_j / u_j (each column's fill fraction), each
        # row divided by its largest coefficient, so Clarabel sees numbers near 1.
        uc = u[cols]
        sc = np.maximum(np.abs(x[cols]), 1e-3 * np.minimum(uc, np.abs(x[cols]).max(initial=1.0)))
        sc = np.maximum(sc, 1e-300)
        vals = layout.value[in_free] * sc[nz_col]
        row_max = np.zeros(len(rows))
        np.maximum.at(row_max, nz_row, np.abs(vals))
        vals = vals / row_max[nz_row]
        a = sp.csc_matrix((vals, (nz_row, nz_col)), shape=(len(rows), n))
        rlo = (row_lo[rows] - act[rows]) / row_max
        rhi = (row_hi[rows] - act[rows]) / row_max
        eq = rlo == rhi
        up = ~eq & np.isfinite(rhi)
        dn = ~eq & np.isfinite(rlo)
        clo, chi = data.col_lo[cols] / sc, data.col_hi[cols] / sc
        has_hi = np.isfinite(chi)
        eye = sp.identity(n, format="csr")
        big_a = sp.vstack([a[eq], a[up], -a[dn], -eye, eye[has_hi]], format="csc")
        b = np.concatenate([rhi[eq], rhi[up], -rlo[dn], -clo, chi[has_hi]])
        # sum_j x_j^2 / u_j = sum_j u_j z_j^2, normalised to a largest term of 1.
        w = stage[cols] * sc**2 / uc
        top = w.max()
        p = sp.diags(2.0 * w / top if top > 0 else w, format="csc")
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        settings.max_threads = 1
        settings.tol_feas = settings.tol_gap_abs = settings.tol_gap_rel = 1e-12
        settings.tol_ktratio = 1e-10
        settings.max_iter = 400
        ne = int(eq.sum())
        cones = [clarabel.ZeroConeT(ne), clarabel.NonnegativeConeT(len(b) - ne)]
        solver = clarabel.DefaultSolver(p, np.zeros(n), big_a, b, cones, settings)
        sol = solver.solve()
        if sol.status not in (clarabel.SolverStatus.Solved, clarabel.SolverStatus.AlmostSolved):
            self.last_status = f"failed: {sol.status}"
            return None
        z = _polish(np.asarray(sol.x), p.diagonal(), a, rlo, rhi, clo, chi)
        return z * sc


def _polish(
    z: np.ndarray,
    p: np.ndarray,
    a: sp.csc_matrix,
    rlo: np.ndarray,
    rhi: np.ndarray,
    clo: np.ndarray,
    chi: np.ndarray,
    delta: float = 1e-7,
    rounds: int = 12,
) -> np.ndarray:
    """Solve the QP exactly on the active set the interior-point solution ``z`` shows.

    Columns within ``delta`` of a bound go onto it, rows within ``delta`` of a
    side hold with equality, and min 1/2 z'Pz over the rest is a linear (KKT)
    system, solved by sparse LU with iterative refinement. A column the solution
    pushes past a bound joins the active set and the system is solved again (at
    most ``rounds`` times). Returns ``z`` unchanged if no round gives a point
    inside every bound and row.
    """
    at_lo, at_hi = z - clo <= delta, chi - z <= delta
    act = a @ z
    eq = rlo == rhi
    top = ~eq & (rhi - act <= delta)
    bottom = ~eq & (act - rlo <= delta)
    for _ in range(rounds):
        zb = np.where(at_lo, clo, np.where(at_hi, chi, z))
        inner = ~(at_lo | at_hi)
        if not inner.any():
            return zb
        tight = eq | top | bottom
        target = np.where(bottom, rlo, rhi)[tight]
        a_t = a[tight]
        a_in = a_t[:, inner]
        r = target - a_t[:, ~inner] @ zb[~inner]
        inv_p = 1.0 / p[inner]
        m = (a_in @ sp.diags(inv_p) @ a_in.T).tocsc()
        reg = 1e-13 * max(1.0, float(np.abs(m.diagonal()).max(initial=0.0)))
        try:
            lu = spla.splu((m + reg * sp.identity(m.shape[0], format="csc")).tocsc())
        except RuntimeError:
            return z
        lam = lu.solve(r)
        for _ in range(3):
            lam = lam + lu.solve(r - m @ lam)
        out = zb.copy()
        out[inner] = inv_p * (a_in.T @ lam)
        act = a @ out
        below, above = out < clo - delta, out > chi + delta
        over, under = ~tight & (act > rhi + delta), ~tight & (act < rlo - delta)
        if not (below.any() or above.any() or over.any() or under.any()):
            if np.abs(a_t @ out - target).max(initial=0.0) > delta:
                return z  # rows inconsistent on this active set
            return np.clip(out, clo, chi)
        at_lo |= below
        at_hi |= above
        top |= over
        bottom |= under
    return z


def _snap(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Interior-point values approach a bound without reaching it: put them on it."""
    near = SNAP * u
    x = np.where(x - lo <= near, lo, x)
    x = np.where(hi - x <= near, hi, x)
    return np.clip(x, lo, hi)


def _row_magnitude(layout: Layout, x: np.ndarray) -> np.ndarray:
    """sum_j |A_ij x_j| per row: the flows a row balances (units)."""
    terms = np.abs(layout.value * x[layout.nz_col])
    return np.bincount(layout.index, weights=terms, minlength=layout.num_rows)
