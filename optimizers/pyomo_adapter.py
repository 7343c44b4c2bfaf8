"""Every read of Pyomo's private attributes, in one place.

The Pyomo backend needs three things Pyomo keeps private: the persistent HiGHS
solver's maps from Pyomo variables and constraints to HiGHS columns and rows,
its ``highspy.Highs`` instance, and a mutable Param's value slot (writing it
directly is ~20x faster than ``set_value``, which re-validates each number).
They are read here only; if a Pyomo release moves one, the error names it and
the Pyomo version the project is tested on (``pyproject.toml`` pins the minor
series). ``tests/optimizers/test_clearer_reuse.py`` checks the Params track the
book and the backends agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyomo

from optimizers.errors import ClearingError

TESTED_ON = "6.10"


def _private(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name)
    except AttributeError:
        raise ClearingError(
            f"Pyomo {pyomo.__version__} has no attribute '{name}' on "
            f"{type(obj).__name__}; the Pyomo backend reads it and was tested on Pyomo "
            f"{TESTED_ON}.x. Install that series or use Clearer(backend='highspy')."
        ) from None


def highs_instance(solver: Any) -> Any:
    """The ``highspy.Highs`` instance behind Pyomo's persistent HiGHS solver."""
    return _private(solver, "_solver_model")


def highs_columns(solver: Any, variables: list) -> np.ndarray:
    """The HiGHS column of each Pyomo variable."""
    var_map = _private(solver, "_pyomo_var_to_solver_var_map")
    return np.array([var_map[id(v)] for v in variables], dtype=np.int32)


def highs_rows(solver: Any, constraints: list) -> np.ndarray:
    """The HiGHS row of each Pyomo constraint."""
    con_map = _private(solver, "_pyomo_con_to_solver_con_map")
    return np.array([con_map[c] for c in constraints], dtype=np.int32)


def set_param_values(params: list, values: np.ndarray, idx: np.ndarray) -> None:
    """Write ``values[idx]`` into the mutable ParamData objects ``params[idx]``."""
    if len(idx) and not hasattr(params[int(idx[0])], "_value"):
        _private(params[int(idx[0])], "_value")
    vals = values[idx].tolist()
    for i, v in zip(idx.tolist(), vals):
        params[i]._value = v
