"""One object holding every solver option that can change a clearing result."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class SolverOptions:
    """Options for HiGHS and the price rule; a run records ``as_dict()`` in its manifest.

    - ``algorithm``: HiGHS ``solver`` option for the clearing LP: ``"simplex"``
      (warm-startable, default), ``"ipm"`` (interior point with crossover) or ``"choose"``.
    - ``presolve``: HiGHS presolve, ``"on"``, ``"off"`` or ``"choose"``.
    - ``warm_start``: reuse the previous basis between ticks (``Clearer`` only).
    - ``threads``: HiGHS threads; 1 keeps parallel sweeps from oversubscribing.
    - ``primal_tolerance`` / ``dual_tolerance``: HiGHS feasibility tolerances.
    - ``mip_rel_gap``: relative gap for block (MILP) clearings.
    - ``bound_tolerance``: distance, relative to the column's own range (or, when
      unbounded, to the book's largest finite bound), within which a primal value
      counts as at its bound when the price rule builds the optimal face. Small, so
      that a shortage of 1e-6 of a bid's quantity still prices at the bid.
    - ``split_ties``: when several allocations are optimal, take the tie rule's
      (pro rata, independent of the book's order; see ``ties.py``) instead of
      the simplex vertex HiGHS happened to return. Off by default for now: on
      the market's books (~2k tied columns) the quadratic program takes 0.15-1 s
      and often misses the row tolerance, falling back to the vertex anyway.
    - ``shortfall_penalty``: $ per unit of commitment shortfall; ``None`` derives
      one from the book that exceeds any value a unit can have (see ``form.py``).
    - ``seed``: HiGHS random seed.
    """

    algorithm: Literal["simplex", "ipm", "choose"] = "simplex"
    presolve: Literal["on", "off", "choose"] = "choose"
    warm_start: bool = True
    threads: int = 1
    primal_tolerance: float = 1e-7
    dual_tolerance: float = 1e-7
    mip_rel_gap: float = 1e-9
    bound_tolerance: float = 1e-9
    split_ties: bool = False
    shortfall_penalty: float | None = None
    seed: int = 0

    def highs_options(self) -> dict[str, object]:
        """The HiGHS option names and values these settings map to."""
        return {
            "solver": self.algorithm,
            "presolve": self.presolve,
            "threads": self.threads,
            "primal_feasibility_tolerance": self.primal_tolerance,
            "dual_feasibility_tolerance": self.dual_tolerance,
            "mip_rel_gap": self.mip_rel_gap,
            "random_seed": self.seed,
        }

    def as_dict(self) -> dict[str, object]:
        """Plain dict for a run manifest."""
        return asdict(self)
