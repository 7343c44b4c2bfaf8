"""The scenario-schema reference, generated from the pydantic models in ``market/scenario.py``.

    python -m experiments.schema_doc            # writes docs/scenario-schema.md
    python -m experiments.schema_doc --check    # exit 1 if the committed file is stale

Every section of a scenario file (``[meta]``, ``[[fabs]]``, ...) gets a table of
its fields: the name, the TOML type, the default (or "required"), the bounds the
validator enforces and the description, with its unit, taken from the field's
``description``. The schema is the single source: change a field there and
regenerate this file (a test fails while it is stale).
"""

from __future__ import annotations

import argparse
import inspect
import math
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from market.scenario import Scenario

__all__ = ["DOC", "REGENERATE", "field_rows", "render", "main"]

DOC = Path(__file__).parents[1] / "docs" / "scenario-schema.md"
"""Where the reference is written (``docs/scenario-schema.md`` in the repository)."""

REGENERATE = "python -m experiments.schema_doc"
"""The command that regenerates :data:`DOC`."""

# Fields whose schema entry has no description yet: what they mean, with units.
# (Better moved into ``Field(description=...)`` in market/scenario.py; a field that
# gets a description there takes it from the schema.)
NOTES: dict[tuple[str, str], str] = {
    ("Meta", "description"): "Free text shown in reports and the dashboard's title.",
    ("ContractSpec", "kind"): "The contract type (see docs/ODD.md, submodel 'Contracts').",
    ("ContractSpec", "seller"): "Name of the selling agent.",
    ("ContractSpec", "buyer"): "Name of the buying agent.",
    ("ContractSpec", "good"): "The good delivered (its unit sets the unit of quantity).",
    ("ContractSpec", "start"): "First tick of delivery.",
    ("RouteSpec", "seller"): "Name of the selling agent.",
    ("RouteSpec", "buyer"): "Name of the buying agent.",
    ("RouteSpec", "good"): "The good carried.",
    ("ShockSpec", "kind"): (
        "outage / capacity_drop: capacity of the target times factor; export_control: "
        "routes from_region -> to_region for goods capped to factor x capacity (0 closes "
        "them); tariff: adds factor $ per unit on those routes; demand_bust: labs' demand "
        "times factor; power_shortage: power providers' capacity times factor; subsidy: "
        "capex times factor (0.7 = 30% subsidy); contract_cap: no buyer may hold more than "
        "factor of a supplier's capacity under contract; carbon_price: the target "
        "hyperscalers (or all) pay factor $ per t CO2e on their emissions (at most 1e4), "
        "and add it to their compute ask (market/energy.py)."
    ),
    ("ShockSpec", "start"): "First tick the shock is active.",
    ("ShockSpec", "end"): "First tick it is no longer active (start <= t < end).",
    ("ShockSpec", "goods"): "Goods an export control or tariff applies to (empty = all).",
    ("ShockSpec", "from_region"): "Exporting region of an export control or tariff.",
    ("ShockSpec", "to_region"): "Importing region of an export control or tariff.",
    ("ShockSpec", "factor"): "The shock's size; its meaning depends on kind (see kind).",
}

SECTIONS = {"meta": "Name, calendar and horizon of the run."}
"""Summaries of sections whose model has no docstring."""

TOML_NAMES = {float: "number", int: "integer", str: "string", bool: "boolean"}


def _type_name(tp: Any) -> str:
    """The TOML-facing name of a Python type annotation."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin is tuple:
        inner = args[0] if args else Any
        if inspect.isclass(inner) and issubclass(inner, BaseModel):
            return f"array of `{inner.__name__}` tables"
        return f"array of {_type_name(inner)}"
    if origin is dict:
        return f"table of {_type_name(args[0])} -> {_type_name(args[1])}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if inspect.isclass(tp) and issubclass(tp, BaseModel):
        return f"`{tp.__name__}` table"
    return TOML_NAMES.get(tp, getattr(tp, "__name__", str(tp)))


def _bounds(info: FieldInfo) -> str:
    """The validator's bounds on a field, e.g. ``>= 0, <= 1, finite``."""
    out = []
    finite = False
    for m in info.metadata:
        for attr, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if isinstance(m, annotated_types.BaseMetadata) and hasattr(m, attr):
                bound = getattr(m, attr)
                out.append(f"{op} {bound:g}" if isinstance(bound, float) else f"{op} {bound}")
        if getattr(m, "allow_inf_nan", None) is False:
            finite = True
    if finite:
        out.append("finite")
    return ", ".join(out)


def _value(value: Any) -> str:
    """A default value as written in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{value:.1f}"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, BaseModel):
        return "(all defaults)"
    return str(value)


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        return _value(info.default_factory())
    if info.default is PydanticUndefined:
        return "required"
    return _value(info.default)


def field_rows(model: type[BaseModel]) -> list[tuple[str, str, str, str, str]]:
    """(field, type, default, bounds, description) for every field of ``model``, in order."""
    rows = []
    for name, info in model.model_fields.items():
        description = info.description or NOTES.get((model.__name__, name), "")
        rows.append((name, _type_name(info.annotation), _default(info), _bounds(info), description))
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _doc(model: type) -> str:
    """A model's own docstring (not one inherited from pydantic)."""
    doc = model.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if doc else ""


def _table(model: type[BaseModel]) -> list[str]:
    lines = ["| field | type | default | bounds | description (unit) |", "|---|---|---|---|---|"]
    for name, tp, default, bounds, description in field_rows(model):
        cells = [f"`{name}`", tp, f"`{default}`" if default != "required" else "required"]
        lines.append("| " + " | ".join(_cell(c) for c in [*cells, bounds, description]) + " |")
    return lines


def _section(name: str, info: FieldInfo) -> tuple[str, type[BaseModel] | None]:
    """The TOML header of a top-level field and the model of its entries (None: a plain table)."""
    tp = info.annotation
    if typing.get_origin(tp) is tuple:
        inner = typing.get_args(tp)[0]
        return f"[[{name}]]", inner
    if inspect.isclass(tp) and issubclass(tp, BaseModel):
        return f"[{name}]", tp
    return f"[{name}]", None


def render() -> str:
    """The whole reference as Markdown (deterministic: same schema, same text)."""
    out = [
        "# Scenario schema reference",
        "",
        f"Generated from the pydantic models in `market/scenario.py` by `{REGENERATE}`;",
        "do not edit by hand (a test fails when this file is stale).",
        "",
        inspect.cleandoc(sys.modules[Scenario.__module__].__doc__ or ""),
        "",
        "A scenario is one TOML file. Unknown keys are errors (a typo is named, with the",
        "closest known key), every number is checked against the bounds below, and a",
        "bad value gets one message naming the file and the field. Bounds: `>= 0` etc.",
        "are enforced on load; `finite` refuses NaN and infinity. Fields marked",
        "*required* have no default. Agents, contracts and shocks refer to each other",
        "by `name`; the cross-references are checked too (see the end of this page).",
        "",
        "## Sections",
        "",
    ]
    sections = []
    for name, info in Scenario.model_fields.items():
        header, model = _section(name, info)
        required = "required" if info.is_required() else "optional"
        summary = info.description or (_doc(model).split("\n")[0] if model else "")
        summary = summary or SECTIONS.get(name, "")
        out.append(f"- [`{header}`](#{name}) ({required}): {summary}")
        sections.append((name, header, model, info))
    out.append("")
    for name, header, model, info in sections:
        out += [
            f"## {name}",
            "",
            f"`{header}`" + (" (one table per entry)" if "[[" in header else ""),
            "",
        ]
        if model is None:
            out += [
                f"Type: {_type_name(info.annotation)}; default `{_default(info)}`. "
                f"{info.description or ''}",
                "",
            ]
            continue
        doc = _doc(model)
        bases = [b.__name__ for b in model.__mro__[1:] if b.__name__ not in ("Strict", "BaseModel")]
        bases = [b for b in bases if b not in ("object", "Generic")]
        if doc:
            out += [doc, ""]
        if bases:
            names = ", ".join(f"`{b}`" for b in bases)
            out += [f"Model `{model.__name__}` (fields of {names} included).", ""]
        else:
            out += [f"Model `{model.__name__}`.", ""]
        out += [*_table(model), ""]
    out += [
        "## Checks across sections",
        "",
        "Applied after every field is valid (`Scenario._cross_references`):",
        "",
        "- agent names are unique across all agent sections;",
        "- `designers[].captive_to` names hyperscalers, `hyperscalers[].fleet` names designers;",
        "- contracts and routes name existing agents, and seller differs from buyer;",
        "- a contract starts inside the horizon; `equity_for_compute` needs a hyperscaler",
        "  seller and a lab buyer;",
        "- a shock's window lies inside the horizon and ends after it starts; its `target` is",
        "  an agent or a region, and `from_region` / `to_region` are regions of some agent.",
        "- history (`check_history`): a capacity schedule names a supplier and a line it has,",
        "  a budget path a hyperscaler (one path each), a product schedule a designer, all",
        '  inside the horizon. Dates `"YYYYQn"` become ticks from `meta.start_year` first.',
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Write the reference (default) or check that the committed one is current."""
    parser = argparse.ArgumentParser(prog="python -m experiments.schema_doc", description=__doc__)
    parser.add_argument("--out", type=Path, default=DOC, help=f"file to write (default {DOC})")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run `{REGENERATE}`", file=sys.stderr)
            return 1
        print(f"{args.out} is current")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
