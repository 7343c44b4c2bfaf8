"""Test helpers for the clearing engine, shipped with it: an independent LP oracle.

Used by ``tests/optimizers`` and available to any code that wants to check a
clearing (``Face``, ``assert_fills_on_face``, ``fills``, ``close``).

``Face`` writes a book's LP from the book's meaning (not from ``optimizers/form.py``),
solves it with highspy, and can report the range of every fill over the optimal face,
so a test can tell which fills are unique.
"""

from __future__ import annotations

import itertools
import math

import highspy
import numpy as np

from optimizers import Clearing, OrderBook


def close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


class Face:
    """The book's LP (no blocks), built here from its meaning; fill ranges on the optimal face.

    Columns: bids, asks, recipes, routes, deliveries, then disposal at each contract
    buyer's node. Rows: one balance row per (agent, good) (demand = supply), one
    capacity row per route carrying contracts (spot flow + deliveries <= capacity).
    Objective: bid value - ask cost - recipe cost - route cost (spot flows and deliveries)
    + penalty * deliveries.
    """

    def __init__(self, book: OrderBook, penalty: float) -> None:
        assert not book.blocks
        nodes = {n: k for k, n in enumerate(itertools.product(book.agents, book.goods))}
        cols: list[tuple[float, float, float, dict]] = []
        for b in book.bids:
            cols.append((b.price, 0.0, b.quantity, {nodes[b.agent, b.good]: 1.0}))
        for s in book.asks:
            cols.append((-s.price, 0.0, s.quantity, {nodes[s.agent, s.good]: -1.0}))
        for r in book.recipes:
            coef = {nodes[r.agent, g]: float(u) for g, u in r.inputs.items()}
            coef[nodes[r.agent, r.output]] = -1.0
            cols.append((-r.cost, 0.0, r.capacity, coef))
        carried = {(c.seller, c.buyer, c.good) for c in book.commitments}
        cap_row = {}
        for rt in book.routes:
            if (rt.seller, rt.buyer, rt.good) in carried:
                cap_row[rt.seller, rt.buyer, rt.good] = len(nodes) + len(cap_row)
        for rt in book.routes:
            key = (rt.seller, rt.buyer, rt.good)
            coef = {nodes[rt.seller, rt.good]: 1.0, nodes[rt.buyer, rt.good]: -1.0}
            if key in cap_row:
                coef[cap_row[key]] = 1.0
            cols.append((-rt.cost, 0.0, rt.capacity if rt.allowed else 0.0, coef))
        route_of = {(rt.seller, rt.buyer, rt.good): rt for rt in book.routes}
        for c in book.commitments:
            key = (c.seller, c.buyer, c.good)
            coef = {nodes[c.seller, c.good]: 1.0, nodes[c.buyer, c.good]: -1.0, cap_row[key]: 1.0}
            upper = c.quantity if route_of[key].allowed else 0.0
            # A delivery avoids the shortfall penalty and pays its route's cost per unit.
            cols.append((penalty - route_of[key].cost, 0.0, upper, coef))
        disposal = list(dict.fromkeys((c.buyer, c.good) for c in book.commitments))
        self.n_fills = len(cols)
        for n in disposal:
            cols.append((0.0, 0.0, math.inf, {nodes[n]: 1.0}))
        self.offset = penalty * sum(c.quantity for c in book.commitments)
        nrow = len(nodes) + len(cap_row) + 1  # last row: the welfare floor
        row_lo, row_hi = np.zeros(nrow), np.zeros(nrow)
        for key, row in cap_row.items():
            row_lo[row], row_hi[row] = -math.inf, route_of[key].capacity
        row_lo[-1], row_hi[-1] = -math.inf, math.inf
        self.c = np.array([col[0] for col in cols])
        starts, index, value = [0], [], []
        for j, col in enumerate(cols):
            for row, v in sorted(col[3].items()):
                index.append(row)
                value.append(v)
            if self.c[j] != 0.0:
                index.append(nrow - 1)
                value.append(self.c[j])
            starts.append(len(index))
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = len(cols), nrow
        lp.col_cost_ = self.c
        lp.col_lower_ = np.array([col[1] for col in cols])
        lp.col_upper_ = np.array([col[2] for col in cols])
        lp.row_lower_, lp.row_upper_ = row_lo, row_hi
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.asarray(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.asarray(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.asarray(value, dtype=np.float64)
        lp.sense_ = highspy.ObjSense.kMaximize
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.passModel(lp)
        self.nrow = nrow
        self.welfare = self._run() - self.offset

    def _run(self) -> float:
        self.h.run()
        assert self.h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        return float(self.h.getInfo().objective_function_value)

    def ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """Min and max of every fill column over {welfare >= optimum - tiny}."""
        h = self.h
        best = self.welfare + self.offset
        h.changeRowBounds(self.nrow - 1, best - 1e-9 * max(1.0, abs(best)), math.inf)
        n = len(self.c)
        lo, hi = np.zeros(self.n_fills), np.zeros(self.n_fills)
        for j in range(self.n_fills):
            for sense, out in ((highspy.ObjSense.kMinimize, lo), (highspy.ObjSense.kMaximize, hi)):
                cost = np.zeros(n)
                cost[j] = 1.0
                h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
                h.changeObjectiveSense(sense)
                out[j] = self._run()
        return lo, hi


def fills(r: Clearing) -> np.ndarray:
    return np.concatenate(
        [r.bid_fills, r.ask_fills, r.recipe_activity, r.route_flows, r.commitment_deliveries]
    )


def assert_fills_on_face(face: Face, results: dict[str, Clearing], tag: object) -> np.ndarray:
    """Every result's fills lie on the optimal face, and agree wherever the face pins
    them down; returns the mask of those unique fills."""
    lo, hi = face.ranges()
    for name, res in results.items():
        x = fills(res)
        assert np.all(x >= lo - 1e-6) and np.all(x <= hi + 1e-6), (tag, name, x, lo, hi)
    unique = hi - lo <= 1e-7 * np.maximum(1.0, np.abs(hi))
    first, *rest = results.values()
    for other in rest:
        np.testing.assert_allclose(fills(first)[unique], fills(other)[unique], atol=1e-6)
    return unique
