"""Fuzzing sweep plans: a mutated plan file ends in a named error or a plan whose design
points are finite, inside their ranges, and as many as the size check announced.

Mutations set one field of a shipped plan to an awkward value (zero, negative,
huge, NaN, infinite, empty, a string, a boolean, a path that does not exist, a
path listed twice). No runs are started: the property is about reading, checking
and sampling the plan, which is where a bad plan must be stopped.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments.errors import StudyError
from experiments.samplers import point_count, sample
from experiments.scenarios import ScenarioError
from experiments.studies.plan import check_size, load_sweep

ROOT = Path(__file__).parents[2]
BASE = ROOT / "experiments" / "scenarios" / "baseline.toml"

PLAN: dict[str, Any] = {
    "name": "fuzz",
    "base": str(BASE),
    "sampler": "lhs",
    "samples": 4,
    "seeds": 2,
    "root_seed": 0,
    "outputs": ["unmet_share", "price_accelerator"],
    "parameters": [
        {"path": "labs[OpenAI].inference_growth", "range": [0.4, 1.6]},
        {"path": "behaviour.contract_share", "range": [0.1, 0.6]},
    ],
}
AWKWARD: list[Any] = [0, -1, 1, 3, 2**62, 1e300, math.nan, math.inf, "", "x", True, [], [1.0],
                      [2.0, 1.0], [0.0, math.inf], "grid", "sobol", "morris", "random"]  # fmt: skip
FIELDS = ["sampler", "samples", "seeds", "root_seed", "levels", "ticks", "outputs", "name"]
PARAM_FIELDS = ["path", "range", "values"]
PATHS = ["labs[OpenAI].inference_growth", "labs[Nobody].training", "behaviour.nothing",
         "memory_makers[SK hynix].capacity", "labs[0].training"]  # fmt: skip


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "[" + ", ".join(_toml_value(x) for x in v) + "]"


def to_toml(plan: dict[str, Any]) -> str:
    lines = [f"{k} = {_toml_value(v)}" for k, v in plan.items() if k != "parameters"]
    for p in plan["parameters"]:
        lines += ["", "[[parameters]]"] + [f"{k} = {_toml_value(v)}" for k, v in p.items()]
    return "\n".join(lines) + "\n"


@st.composite
def plans(draw) -> dict[str, Any]:
    plan = {**PLAN, "parameters": [dict(p) for p in PLAN["parameters"]]}
    for _ in range(draw(st.integers(1, 3))):
        what = draw(st.sampled_from(["field", "parameter", "path", "duplicate"]))
        if what == "field":
            plan[draw(st.sampled_from(FIELDS))] = draw(st.sampled_from(AWKWARD))
        elif what == "parameter":
            p = draw(st.sampled_from(plan["parameters"]))
            p[draw(st.sampled_from(PARAM_FIELDS))] = draw(st.sampled_from(AWKWARD))
        elif what == "path":
            draw(st.sampled_from(plan["parameters"]))["path"] = draw(st.sampled_from(PATHS))
        else:
            plan["parameters"].append(dict(plan["parameters"][0]))
    return plan


@settings(max_examples=80, suppress_health_check=list(HealthCheck), deadline=None)
@given(plans())
def test_a_mutated_plan_is_refused_by_name_or_samples_inside_its_ranges(tmp_path_factory, plan):
    path = tmp_path_factory.mktemp("plan") / "plan.toml"
    path.write_text(to_toml(plan))
    try:
        loaded, base = load_sweep(path)
        check_size(loaded, base, str(path), workers=1, confirm=False)
    except (ScenarioError, StudyError) as exc:
        assert str(path) in str(exc), str(exc)
        return
    assert len({p.path for p in loaded.parameters}) == len(loaded.parameters)
    if loaded.ticks is not None:
        assert loaded.ticks <= base["meta"]["horizon"]
    n = point_count(loaded)
    if n > 4096:  # the count is announced; sampling a huge design is not the point here
        return
    points = sample(loaded)
    assert len(points) == n
    for row in points:
        for value, p in zip(row, loaded.parameters):
            if p.range is not None:
                assert math.isfinite(value) and p.range[0] <= value <= p.range[1]
            else:
                assert value in p.values
    assert not isinstance(points, np.ndarray) or np.all(np.isfinite(points))
