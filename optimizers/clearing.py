"""The clearing model in Pyomo, solved by HiGHS through Pyomo's persistent interface.

``Clearer`` keeps one model per book shape. The model has one mutable ``Param``
per number of the book (prices, quantities, capacities, costs, the shortfall
penalty), named after the domain (``bid_price``, ``route_upper``, ...), and is
handed once to ``pyomo.contrib.solver``'s persistent HiGHS solver. A new book of
the same shape only changes numbers: ``Clearer`` pushes the changed ones to the
HiGHS instance Pyomo loaded the model into, with vectorised calls (see
``InPlaceHighs.update``), keeping HiGHS's basis for a warm start, and runs that
instance. The Params catch up with the pushed numbers whenever the model is
read (``PyomoModel.model``), so the clearing path writes no Param.

Why not Pyomo's own ``update_parameters()``: it re-evaluates every mutable
expression in Python, one HiGHS call each, which costs about 4 us per
parameter (0.2 s per tick at 50k variables, 6x the warm simplex itself). The
bulk path uses the persistent solver's own variable and constraint maps, so
the Pyomo model stays the single description of the LP. Nor its ``solve()``:
with ``load_solutions=False`` it adds only a capture of HiGHS's log and a
results object (3-4 ms per tick).

Blocks make the model a MILP; after it is solved the acceptance switches are
fixed at their values in the HiGHS instance (bounds and integrality, not the
Pyomo model), the LP is re-solved, and its optimum is what the price rule
prices (as European power exchanges do). Acceptance maximises welfare, so a
block may be accepted although the resulting price is above its bid (a
"paradoxically accepted block"); a rejected block sets no price constraint.

The LP works in units scaled by ``Layout.scale`` (a power of two near the
book's median quantity), so HiGHS's absolute tolerances suit books of 1e-9 or
1e9 units alike; ``Clearing`` reports fills in the book's units. A book whose
prices are below $1/unit is solved in price units of ``price_unit`` (its median
cost, a power of two) for the same reason; prices come back in $/unit.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Literal, Protocol

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.solvers.highs import Highs

from optimizers.book import OrderBook, compile_book, validate
from optimizers.errors import ClearingError
from optimizers.form import KINDS, Data, Layout, build_data, build_layout, shape_key
from optimizers.inplace import InPlaceHighs, changed_indices
from optimizers.options import SolverOptions
from optimizers.prices import DualPriceRule, status_name
from optimizers.pyomo_adapter import (
    highs_columns,
    highs_instance,
    highs_rows,
    set_param_values,
)
from optimizers.reference import HighspyModel
from optimizers.result import Clearing, assemble
from optimizers.ties import TieRule

# Pyomo names of each column kind's variable, objective-coefficient Param and bound Params.
VAR_NAMES = {
    "bid": "bid_fill",
    "ask": "ask_fill",
    "recipe": "recipe_activity",
    "route": "route_flow",
    "delivery": "delivery",
    "dispose": "disposal",
    "ratio": "block_ratio",
    "accept": "block_accept",
}
# Objective coefficients ($/unit; asks, recipes and routes enter with a minus sign).
COST_NAMES = {
    "bid": "bid_price",
    "ask": "ask_price_neg",
    "recipe": "recipe_cost_neg",
    "route": "route_cost_neg",
    "delivery": "delivery_value",  # penalty avoided - route cost, $/unit delivered
    "ratio": "block_value",
}
# Upper bounds (units per tick; a closed route's is 0). Disposal is unbounded,
# block ratios and switches lie in [0, 1].
UPPER_NAMES = {
    "bid": "bid_quantity",
    "ask": "ask_quantity",
    "recipe": "recipe_capacity",
    "route": "route_upper",
    "delivery": "commitment_upper",
}


class LPModel(Protocol):
    """What ``Clearer`` needs from a backend holding the clearing LP."""

    name: str

    def update(self, data: Data) -> None: ...

    def set_integral(self, integral: bool) -> None: ...

    def solve(self) -> tuple[str, np.ndarray]: ...

    def row_duals(self) -> np.ndarray: ...


class PyomoModel(InPlaceHighs):
    """The clearing LP as a Pyomo ``ConcreteModel`` with mutable Params."""

    name = "pyomo"

    def __init__(self, layout: Layout, data: Data, options: SolverOptions) -> None:
        self.layout = layout
        self.options = options
        m = pyo.ConcreteModel(name="clearing")
        self._pyomo = m
        self.vars: dict[str, list] = {}
        self.cost_params: dict[str, list] = {}
        self.upper_params: dict[str, list] = {}
        c, hi = data.c.tolist(), data.col_hi.tolist()
        for kind in KINDS:
            sl = layout.cols[kind]
            n = sl.stop - sl.start
            index = pyo.RangeSet(0, n - 1) if n else pyo.Set(initialize=[])
            setattr(m, f"{kind}_index", index)
            # Params only where the book supplies numbers; within=Any skips Pyomo's
            # per-value domain check (validate() has checked every number already).
            if kind in COST_NAMES:
                param = pyo.Param(index, mutable=True, within=pyo.Any, initialize=c[sl])
                setattr(m, COST_NAMES[kind], param)
                self.cost_params[kind] = [param[i] for i in range(n)]
            if kind in UPPER_NAMES:
                param = pyo.Param(index, mutable=True, within=pyo.Any, initialize=hi[sl])
                setattr(m, UPPER_NAMES[kind], param)
                self.upper_params[kind] = [param[i] for i in range(n)]
                bounds = _upper_rule(param)
            else:
                bounds = (0.0, 1.0) if kind in ("ratio", "accept") else (0.0, None)
            domain = pyo.Binary if kind == "accept" else pyo.NonNegativeReals
            var = pyo.Var(index, domain=domain, bounds=bounds)
            setattr(m, VAR_NAMES[kind], var)
            self.vars[kind] = [var[i] for i in range(n)]

        columns = [v for kind in KINDS for v in self.vars[kind]]
        m.welfare = pyo.Objective(
            expr=pyo.quicksum(
                p * v
                for kind in COST_NAMES
                for p, v in zip(self.cost_params[kind], self.vars[kind])
            ),
            sense=pyo.maximize,
        )
        # Rows from the column-wise matrix: one pass over the non-zeros.
        terms: list[list] = [[] for _ in range(layout.num_rows)]
        for j, r, v in zip(layout.nz_col.tolist(), layout.index.tolist(), layout.value.tolist()):
            terms[r].append((v, columns[j]))
        nb = layout.num_balance
        ns = len(layout.shared_routes)
        m.node_index = pyo.RangeSet(0, nb - 1) if nb else pyo.Set(initialize=[])
        m.balance = pyo.Constraint(
            m.node_index, rule=lambda _m, n: pyo.quicksum(v * x for v, x in terms[n]) == 0
        )
        shared_hi = data.row_hi[nb : nb + ns].tolist()
        m.shared_index = pyo.RangeSet(0, ns - 1) if ns else pyo.Set(initialize=[])
        m.shared_capacity = pyo.Param(
            m.shared_index, mutable=True, initialize=dict(enumerate(shared_hi))
        )
        m.route_capacity = pyo.Constraint(
            m.shared_index,
            rule=lambda _m, k: pyo.inequality(
                None, pyo.quicksum(v * x for v, x in terms[nb + k]), _m.shared_capacity[k]
            ),
        )
        nk = len(range(layout.num_cols)[layout.cols["ratio"]])
        m.block_index = pyo.RangeSet(0, nk - 1) if nk else pyo.Set(initialize=[])
        m.block_link = pyo.Constraint(
            m.block_index,
            [0, 1],
            rule=lambda _m, b, s: (
                pyo.quicksum(v * x for v, x in terms[nb + ns + 2 * b + s]) <= 0
                if s == 0
                else pyo.quicksum(v * x for v, x in terms[nb + ns + 2 * b + s]) >= 0
            ),
        )
        self._shared_params = [m.shared_capacity[k] for k in range(ns)]
        self._shared = slice(nb, nb + ns)  # layout rows of the shared-capacity constraints

        self.solver = Highs()
        cfg = self.solver.config
        cfg.load_solutions = False
        cfg.raise_exception_on_nonoptimal_result = False
        cfg.solver_options = {"output_flag": False, **options.highs_options()}
        self.solver.set_instance(m)
        # Pyomo's solve() would set these before each run; ``solve`` runs HiGHS itself.
        for key, value in cfg.solver_options.items():
            highs_instance(self.solver).setOptionValue(key, value)
        auto = cfg.auto_updates
        for flag in (
            "check_for_new_or_removed_constraints",
            "check_for_new_or_removed_vars",
            "check_for_new_or_removed_params",
            "check_for_new_objective",
            "update_constraints",
            "update_vars",
            "update_parameters",
            "update_named_expressions",
            "update_objective",
        ):
            setattr(auto, flag, False)
        # The HiGHS column of each layout column and the HiGHS row of each layout row.
        self.col_of = highs_columns(self.solver, columns)
        rows = [m.balance[n] for n in range(nb)] + [m.route_capacity[k] for k in range(ns)]
        rows += [m.block_link[b, s] for b in range(nk) for s in (0, 1)]
        self.row_of = highs_rows(self.solver, rows)
        self.h = highs_instance(self.solver)
        self._data = data
        self._synced = data  # the numbers the Params hold
        self._integer_cols = self.col_of[layout.integer]

    @property
    def model(self) -> pyo.ConcreteModel:
        """The Pyomo model, its Params holding the numbers of the last book pushed."""
        self.sync_params()
        return self._pyomo

    def sync_params(self) -> None:
        """Write the numbers pushed to HiGHS since the last sync into the Params.

        A tick pushes the book's numbers to HiGHS straight from the data arrays
        (``update``), so no Param is written on the clearing path (~0.6 us per
        Param, 1.3 ms per tick at 10k columns); the Params catch up here, whenever
        the model is read.
        """
        old, data = self._synced, self._data
        if old is data:
            return
        for params, new, prev in (
            *((p, data.c[self.layout.cols[k]], old.c[self.layout.cols[k]])
              for k, p in self.cost_params.items()),
            *((p, data.col_hi[self.layout.cols[k]], old.col_hi[self.layout.cols[k]])
              for k, p in self.upper_params.items()),
            (self._shared_params, data.row_hi[self._shared], old.row_hi[self._shared]),
        ):  # fmt: skip
            idx = changed_indices(new, prev)
            if len(idx):
                set_param_values(params, new, idx)
        self._synced = data

    def solve(self) -> tuple[str, np.ndarray]:
        """Run the HiGHS instance Pyomo loaded the model into; columns' values in layout order.

        Pyomo's ``solve()`` would wrap the same ``run()`` in a file-descriptor
        level capture of HiGHS's log and build a results object that this class
        discards (``load_solutions=False``): 3-4 ms per tick, about half the warm
        simplex at 10k columns. The numbers reached HiGHS through ``update``.
        """
        h = self.h
        if not self.options.warm_start:
            h.clearSolver()
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return status_name(h), np.empty(0)
        return "Optimal", np.asarray(h.getSolution().col_value)[self.col_of]


def _upper_rule(upper):
    def rule(_m, i):
        return (0.0, upper[i])

    return rule


Backend = Literal["pyomo", "highspy"]
_BACKENDS = {"pyomo": PyomoModel, "highspy": HighspyModel}


class Clearer:
    """Clears order books tick after tick, keeping the model between calls.

    The model is rebuilt only when the book's shape changes (see
    ``form.shape_key``); otherwise its numbers are updated in place and HiGHS is
    warm-started. ``backend="highspy"`` uses the direct highspy formulation.
    """

    def __init__(self, options: SolverOptions | None = None, backend: Backend = "pyomo") -> None:
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {sorted(_BACKENDS)}, not {backend!r}")
        self.options = options or SolverOptions()
        self.backend = backend
        self._key: tuple | None = None
        self._names: tuple | None = None  # the last valid book's (agents, goods)
        self._layout: Layout | None = None
        self._model: LPModel | None = None
        self._prices = DualPriceRule(self.options)
        self._ties = TieRule(self.options)
        self.rebuilds = 0

    @property
    def layout(self) -> Layout | None:
        """The LP's layout for the last book's shape (columns, rows, node order), or None."""
        return self._layout

    def clear(self, book: OrderBook) -> Clearing:
        """Clear one tick's book; raises OrderBookError or ClearingError, never a partial result."""
        t0 = time.perf_counter()
        columns = compile_book(book)  # one walk over the book serves the steps below
        key = shape_key(book, columns)
        names = (book.agents, book.goods)
        compile_seconds = time.perf_counter() - t0
        # A book of the shape (and agents and goods) of one validated before needs only
        # its numbers, flags and ids checked.
        same = self._model is not None and key == self._key and names == self._names
        validate(book, columns, structure_checked=same)
        self._names = names
        # The build time counts the compile but not the validation (as before the compile).
        t0 = time.perf_counter() - compile_seconds
        rebuilt = key != self._key or self._model is None
        layout = build_layout(book, columns) if rebuilt else self._layout
        data = build_data(book, layout, self.options.shortfall_penalty, columns)
        unit = price_unit(data)
        data = _in_price_units(data, unit)
        if rebuilt:
            self._model = _BACKENDS[self.backend](layout, data, self.options)
            self._layout, self._key = layout, key
            self.rebuilds += 1
        else:
            self._model.update(data)
        model = self._model
        t1 = time.perf_counter()
        if layout.num_cols == 0:  # nothing to clear: an empty book
            return assemble(
                book,
                layout,
                data,
                np.zeros(0),
                np.zeros(0),
                status="optimal",
                build_seconds=t1 - t0,
                solve_seconds=0.0,
                price_seconds=0.0,
                rebuilt=rebuilt,
            )
        if layout.integer.any():
            model.set_integral(True)
            x = self._solve(model, "MILP")
            fixed = _fix_integers(data, layout, x)
            model.update(fixed)
            model.set_integral(False)
            x = self._solve(model, "LP with block decisions fixed")
            data = fixed
        else:
            x = self._solve(model, "LP")
        t2 = time.perf_counter()
        duals = self._prices.select_duals(layout, data, x, hint=model.row_duals())
        t3 = time.perf_counter()
        tie_status = "off"
        if self.options.split_ties:
            x = self._ties.split(layout, data, x, duals)
            tie_status = self._ties.last_status
        t4 = time.perf_counter()
        return assemble(
            book,
            layout,
            _in_price_units(data, 1.0 / unit),
            x,
            duals[: layout.num_balance] * unit,
            status="optimal",
            build_seconds=t1 - t0,
            solve_seconds=t2 - t1,
            price_seconds=t3 - t2,
            tie_seconds=t4 - t3,
            tie_status=tie_status,
            rebuilt=rebuilt,
        )

    def _solve(self, model: LPModel, what: str) -> np.ndarray:
        status, x = model.solve()
        if status.lower() != "optimal":
            raise ClearingError(
                f"HiGHS ({model.name} backend) ended the clearing {what} with status "
                f"'{status}'. The book passed validation, so this is numerical: try "
                "SolverOptions(algorithm='ipm') or presolve='off', rescale quantities or "
                "prices that span more than ~1e9, or report the book."
            )
        return x


def price_unit(data: Data) -> float:
    """$ per LP cost unit: 1 for a book whose median positive cost is at least $1/unit,
    else the power of two nearest that median (a book priced at 1e-9 $/unit is solved
    with costs near 1, so HiGHS's absolute 1e-7 optimality tolerance stays relative
    1e-7; books at ordinary prices are solved exactly as written)."""
    c = np.abs(data.c)
    c = c[np.isfinite(c) & (c > 0)]
    if len(c) == 0:
        return 1.0
    median = float(np.median(c))
    return 1.0 if median >= 1.0 else float(2.0 ** np.round(np.log2(median)))


def _in_price_units(data: Data, unit: float) -> Data:
    """``data`` with its costs, penalty and offset divided by ``unit`` (a power of two:
    exact; 1: ``data`` itself)."""
    if unit == 1.0:
        return data
    return replace(data, c=data.c / unit, offset=data.offset / unit, penalty=data.penalty / unit)


def _fix_integers(data: Data, layout: Layout, x: np.ndarray) -> Data:
    """A copy of ``data`` with the block-acceptance columns fixed at their rounded values."""
    sl = layout.cols["accept"]
    lo, hi = data.col_lo.copy(), data.col_hi.copy()
    lo[sl] = hi[sl] = np.round(x[sl])
    return replace(data, col_lo=lo, col_hi=hi)


def clear(book: OrderBook, options: SolverOptions | None = None) -> Clearing:
    """Clear one book with a fresh Pyomo model (see ``Clearer`` to reuse it)."""
    return Clearer(options).clear(book)
