"""Scenario files: load TOML, validate against the schema, hash, override by dotted path.

``experiments`` owns all I/O, so this is the only place a scenario file is read.
Every failure (missing file, invalid TOML, a schema violation, a cross-reference
the schema's validator refuses) raises one :class:`ScenarioError` whose message
names the file and the field and says how to fix it, e.g.::

    baseline.toml: fabs[0].capacity: must be > 0 (got -5.0)
    baseline.toml: fabs[0].capcity: unknown key (did you mean 'capacity'?)
    baseline.toml: line 12: invalid TOML (Invalid value, column 9)

A scenario may inherit: ``base = "baseline.toml"`` (relative to its own file, or a
shipped scenario's name), then ``[meta]``, ``[overrides]`` (dotted paths) and
appended ``[[shocks]]``, ``[[contracts]]``, ``[[routes]]`` or agents (``[[designers]]``,
...); see :func:`load_scenario`. Shipped
scenarios (``experiments/scenarios/*.toml``, package data) load by name:
``load_scenario("baseline")``.

Field paths are dotted, with ``[i]`` for list indices: ``labs[0].training``.
The same syntax addresses fields in :func:`with_overrides`, which parameter
sweeps use; there a list item may also be picked by its ``name``:
``labs[OpenAI].training``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from market.agents import SECTIONS
from market.scenario import Scenario

__all__ = [
    "ScenarioError",
    "read_toml",
    "validate_model",
    "format_path",
    "load_scenario",
    "resolve_scenario",
    "resolve_sweep_plan",
    "shipped_scenarios",
    "shipped_sweeps",
    "parse_path",
    "scenario_hash",
    "validate_scenario",
    "with_overrides",
]

PathPart = str | int
"""One step of a field path: a key (str) or a list index (int)."""


class ScenarioError(ValueError):
    """A scenario could not be read or is invalid.

    ``str(error)`` is one line per problem, each ``"<source>: <field>: <what and how to fix>"``.

    Attributes
    ----------
    source:
        The file (as given) or other origin (``"overrides"``) of the scenario.
    problems:
        The problems, one message each, without the ``source`` prefix.
    """

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{source}: {p}" for p in self.problems))


# --------------------------------------------------------------------------- paths


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def format_path(loc: Sequence[PathPart]) -> str:
    """Format a field location as a dotted path with ``[i]`` for list indices.

    >>> format_path(("fabs", 0, "capacity"))
    'fabs[0].capacity'
    >>> format_path(("hyperscalers", 1, "fleet", "Other custom"))
    'hyperscalers[1].fleet["Other custom"]'
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


_TOKEN = re.compile(
    r"""(?:^|\.)(?P<key>[^.\[\]"]+)      # key, after the start or a dot
      | \[(?P<index>-?\d+)\]             # [3]
      | \["(?P<quoted>[^"]*)"\]          # ["key with spaces"]
      | \[(?P<name>[^\]"]+)\]            # [OpenAI]: the list item with this name
    """,
    re.VERBOSE,
)


def parse_path(path: str) -> list[PathPart | tuple[str, str]]:
    """Split a dotted path into keys (str), indices (int) and ``("name", value)`` selectors.

    >>> parse_path("labs[0].training")
    ['labs', 0, 'training']
    >>> parse_path("labs[OpenAI].training")
    ['labs', ('name', 'OpenAI'), 'training']

    Raises ``ValueError`` if the path is not well formed.
    """
    parts: list[PathPart | tuple[str, str]] = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"malformed path {path!r} at character {pos}")
        if m.group("key") is not None:
            parts.append(m.group("key").strip())
        elif m.group("index") is not None:
            parts.append(int(m.group("index")))
        elif m.group("quoted") is not None:
            parts.append(m.group("quoted"))
        else:
            parts.append(("name", m.group("name").strip()))
        pos = m.end()
    if not parts or not isinstance(parts[0], str):
        raise ValueError(f"malformed path {path!r}: it must start with a field name")
    return parts


# ---------------------------------------------------------------- error messages


def _model_at(loc: Sequence[PathPart], root: type[BaseModel] = Scenario) -> type[BaseModel] | None:
    """The pydantic model class that the location ``loc`` points into, if any."""
    tp: Any = root
    for part in loc:
        tp = _step_type(tp, part)
        if tp is None:
            return None
    return _as_model(tp)


def _as_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    return None


def _step_type(tp: Any, part: PathPart) -> Any:
    """The type reached from type ``tp`` by one step ``part`` of a location."""
    model = _as_model(tp)
    if model is not None:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        return None if field is None else field.annotation
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _step_type(args[0], part)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            found = _step_type(arg, part)
            if found is not None:
                return found
        return None
    if origin in (tuple, list) and isinstance(part, int) and args:
        return args[0]
    if origin is dict and isinstance(part, str) and len(args) == 2:
        return args[1]
    return None


def _show(value: Any) -> str:
    """A short repr of an offending input value."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any) -> str:
    """``0`` for 0.0, ``0.5`` for 0.5, ``1e15`` for 1e15: a bound as one would write it."""
    if isinstance(value, int | float) and abs(value) >= 1e6:
        return f"{value:g}".replace("e+", "e")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_TYPE_WORDS = {
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "string_type": "expected a string in quotes",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "tuple_type": "expected an array",
    "list_type": "expected an array",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
}

_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_BOUND_TYPES = {
    "greater_than": "gt",
    "greater_than_equal": "ge",
    "less_than": "lt",
    "less_than_equal": "le",
}


def _describe(error: Mapping[str, Any], root: type[BaseModel] = Scenario) -> str:
    """One pydantic error as ``"<field path>: <what is wrong and how to fix it>"``."""
    kind: str = error["type"]
    loc: tuple[PathPart, ...] = tuple(error["loc"])
    value = error.get("input")
    ctx = error.get("ctx") or {}
    where = format_path(loc)

    if kind == "value_error" and not loc:
        # The schema's cross-reference validator: its message already names the field.
        return str(ctx.get("error", error["msg"].removeprefix("Value error, ")))
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1], root)
        allowed = sorted(model.model_fields) if model else []
        key = str(loc[-1])
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if close:
            return f"{where}: unknown key (did you mean {close[0]!r}?)"
        return f"{where}: unknown key; allowed keys are {', '.join(allowed)}"
    if kind == "missing":
        model = _model_at(loc[:-1], root)
        field = model.model_fields.get(str(loc[-1])) if model else None
        hint = f" ({field.description})" if field is not None and field.description else ""
        if field is not None and _as_model(field.annotation) is not None:
            return f"{where}: required table is missing; add a [{loc[-1]}] table{hint}"
        return f"{where}: required key is missing; add `{loc[-1]} = ...`{hint}"
    if loc and loc[-1] == "[key]":  # a dict key, e.g. transport_cost's goods
        where = format_path(loc[:-1])
        if kind == "literal_error":
            allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
            close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return f"{where}: unknown key; keys must be one of {', '.join(allowed)}{hint}"
    if kind in _BOUND_TYPES and isinstance(value, float) and not math.isfinite(value):
        return f"{where}: must be a {'number' if math.isnan(value) else 'finite number'} " + (
            f"(got {_show(value)})"
        )
    if kind in _BOUND_TYPES:
        bound = _BOUND_TYPES[kind]
        return f"{where}: must be {_BOUNDS[bound]} {_number(ctx.get(bound))} (got {_show(value)})"
    if kind == "finite_number":
        return f"{where}: must be a finite number (got {_show(value)})"
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{where}: must be one of {', '.join(map(repr, allowed))} (got {_show(value)}){hint}"
    if kind in _TYPE_WORDS:
        return f"{where}: {_TYPE_WORDS[kind]} (got {type(value).__name__} {_show(value)})"
    msg = str(error["msg"]).removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    return f"{where}: {msg} (got {_show(value)})" if where else msg


def _problems(error: ValidationError, root: type[BaseModel] = Scenario) -> list[str]:
    return [_describe(e, root) for e in error.errors(include_url=False)]


def validate_model(model: type[BaseModel], data: Mapping[str, Any], source: str) -> BaseModel:
    """Validate plain data against any of the project's file schemas (scenario, sweep).

    Raises :class:`ScenarioError` naming ``source`` and each offending field.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, _problems(exc, model)) from None


# ------------------------------------------------------------------ load, validate


def validate_scenario(data: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate plain data (as parsed from TOML) against :class:`Scenario`.

    Raises :class:`ScenarioError` naming ``source`` and each offending field.
    """
    return validate_model(Scenario, data, source)


_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def _toml_problem(exc: tomllib.TOMLDecodeError, text: str) -> str:
    """``"line N: invalid TOML (reason, column C)"`` from tomllib's message."""
    message = str(exc)
    m = _TOML_POSITION.search(message)
    reason = message[: m.start()] if m else message
    if m and m.group(1):
        where, reason = f"line {m.group(1)}", f"{reason}, column {m.group(2)}"
    else:
        where = f"line {max(1, text.count(chr(10)) + 1)} (end of file)"
    return f"{where}: invalid TOML ({reason}); fix the syntax there (see https://toml.io)"


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML file; :class:`ScenarioError` (naming the file and line) if it can't."""
    source = os.fspath(path)
    file = Path(path)
    if file.exists() and not file.is_file() and not file.is_dir():
        # A named pipe or device would block or never end: refuse before opening it.
        raise ScenarioError(
            source, ["is not a regular file (a pipe or a device); give the path of a .toml file"]
        ) from None
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(
            source, [f"file not found (looked for {file.resolve()}); check the path"]
        ) from None
    except IsADirectoryError:
        raise ScenarioError(source, ["is a directory; give the path of a .toml file"]) from None
    except OSError as exc:
        raise ScenarioError(source, [f"cannot read the file ({exc.strerror})"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            source, [f"line {line}: invalid TOML (not UTF-8 text); save the file as UTF-8"]
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [_toml_problem(exc, text)]) from None
    return data


SHIPPED_SCENARIOS = Path(__file__).with_name("scenarios")
"""The scenarios shipped with the package (``experiments/scenarios/*.toml``, package data)."""
SHIPPED_SWEEPS = Path(__file__).with_name("sweeps")
"""The example sweep plans shipped with the package (``experiments/sweeps/*.toml``)."""


def shipped_scenarios() -> list[str]:
    """Names of the shipped scenarios (file stems), sorted."""
    return sorted(p.stem for p in SHIPPED_SCENARIOS.glob("*.toml"))


def shipped_sweeps() -> list[str]:
    """Names of the shipped sweep plans (file stems), sorted."""
    return sorted(p.stem for p in SHIPPED_SWEEPS.glob("*.toml"))


def _is_bare_name(text: str) -> bool:
    """Whether ``text`` is a bare name like ``baseline`` or ``baseline.toml`` (no folder)."""
    return bool(text) and "/" not in text and os.sep not in text and text not in (".", "..")


def _shipped_file(name: str, folder: Path = SHIPPED_SCENARIOS) -> Path | None:
    """The shipped file called ``name`` (with or without ``.toml``) in ``folder``, if any."""
    stem = name.removesuffix(".toml")
    file = folder / f"{stem}.toml"
    return file if stem in sorted(p.stem for p in folder.glob("*.toml")) else None


def _unknown_name(name: str, folder: Path = SHIPPED_SCENARIOS) -> str:
    what = "scenario" if folder == SHIPPED_SCENARIOS else "sweep plan"
    known = sorted(p.stem for p in folder.glob("*.toml"))
    stem = name.removesuffix(".toml")
    close = difflib.get_close_matches(stem, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"no such file, and no shipped {what} is called {stem!r}{hint}; "
        f"give the path of a .toml file or one of: {', '.join(known)}"
    )


def _resolve_shipped(path: str | os.PathLike[str], folder: Path) -> Path:
    file = Path(path)
    if file.exists():
        return file
    text = os.fspath(path)
    if _is_bare_name(text):
        shipped = _shipped_file(text, folder)
        if shipped is None:
            raise ScenarioError(text, [_unknown_name(text, folder)]) from None
        return shipped
    return file  # read_toml reports the missing file


def resolve_scenario(path: str | os.PathLike[str]) -> Path:
    """The file a scenario argument names: a path, else a shipped scenario's name.

    ``"baseline"`` (or ``"baseline.toml"``) is the shipped baseline unless a file of
    that name exists in the working folder. Raises :class:`ScenarioError` listing the
    shipped scenarios if a bare name is neither.
    """
    return _resolve_shipped(path, SHIPPED_SCENARIOS)


def resolve_sweep_plan(path: str | os.PathLike[str]) -> Path:
    """The file a sweep-plan argument names: a path, else a shipped plan's name
    (``"demand_and_hbm"``); as :func:`resolve_scenario`, for ``experiments/sweeps``."""
    return _resolve_shipped(path, SHIPPED_SWEEPS)


APPENDED = ("shocks", "contracts", "spvs", "routes", *SECTIONS)
"""The lists a scenario with a ``base`` appends to the base's (shocks, contracts, routes
and agents, e.g. a regional part as one more ``[[designers]]``)."""
VARIANT_KEYS = ("base", "meta", "overrides", *APPENDED)
"""The top-level keys of a scenario that has a ``base``."""


def _base_file(file: Path, base: Any, source: str) -> Path:
    """The file ``base = "..."`` in ``file`` names: relative to ``file``, or a shipped name."""
    if not isinstance(base, str) or not base.strip():
        raise ScenarioError(
            source,
            [
                f"base: expected the path of a scenario file (relative to this file) or a "
                f"shipped scenario's name, in quotes (got {_show(base)})"
            ],
        ) from None
    candidate = file.parent / base
    if candidate.is_file():
        return candidate
    if _is_bare_name(base):
        shipped = _shipped_file(base)
        if shipped is not None:
            return shipped
        raise ScenarioError(source, [f"base: {base!r}: {_unknown_name(base)}"]) from None
    raise ScenarioError(
        source,
        [
            f"base: file not found (looked for {candidate.resolve()}); the path is relative to "
            "this file"
        ],
    ) from None


def _flatten_overrides(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"behaviour": {"foresight": 0.5}}`` -> ``{"behaviour.foresight": 0.5}``.

    TOML reads an unquoted dotted key as nested tables; both spellings mean one path.
    """
    out: dict[str, Any] = {}
    for key, value in table.items():
        if not prefix:
            path = key
        elif _IDENT.match(key):
            path = f"{prefix}.{key}"
        else:
            path = f"{prefix}[{json.dumps(key)}]"
        if isinstance(value, dict):
            out.update(_flatten_overrides(value, path))
        else:
            out[path] = value
    return out


_LIST_ITEM = re.compile(r"^(" + "|".join(APPENDED) + r")\[(\d+)\]")


def _relabel(
    problem: str,
    overridden: Mapping[str, tuple[PathPart, ...]],
    appended: Mapping[str, int],
    base_source: str,
) -> str:
    """Point a problem of the merged scenario at the line of the variant that caused it.

    A value set by ``[overrides]`` is named by its override key; an appended shock or
    contract (route, agent) by its index in the variant's own list; an
    inherited one says it comes from the base.
    """
    for key, loc in overridden.items():
        where = format_path(loc)
        if problem == where or problem.startswith((f"{where}:", f"{where}.", f"{where}[")):
            label = format_path(("overrides", key))
            rest = problem[len(where) :]
            if rest.startswith(":"):
                return f"{label}{rest}"
            return f"{label}: {where}{rest}"
    m = _LIST_ITEM.match(problem)
    if m:
        section, index = m.group(1), int(m.group(2))
        n_base = appended[section]
        if index >= n_base:
            return f"{section}[{index - n_base}]{problem[m.end() :]}"
        return f"{section}[{index}] (from {base_source}){problem[m.end() :]}"
    return problem


def _merge(file: Path, source: str, data: dict[str, Any], chain: tuple[Path, ...]) -> Scenario:
    """Validate a scenario file with a ``base``: the base, then meta, overrides, appends."""
    base_file = _base_file(file, data["base"], source)
    key = base_file.resolve()
    if key in chain:
        loop = [*chain[chain.index(key) :], key]
        raise ScenarioError(
            source,
            [
                "base: cycle of bases: "
                + " -> ".join(p.name for p in loop)
                + "; a scenario cannot be its own base; remove one of these `base` keys"
            ],
        ) from None
    base_source = os.fspath(base_file)
    base = _load(base_file, base_source, (*chain, key))
    merged: dict[str, Any] = _thaw(base.model_dump(mode="python"))
    extra = [k for k in data if k not in VARIANT_KEYS]
    if extra:
        raise ScenarioError(
            source,
            [
                f"{k}: a scenario with a base sets only {', '.join(VARIANT_KEYS)}; change "
                f"{k} through [overrides] (e.g. "
                + (
                    f'"{k}[<name>].<field>"'
                    if isinstance(merged.get(k), list)
                    else f'"{k}.<field>"'
                )
                + " = value) or write a full scenario"
                for k in extra
            ],
        ) from None
    problems: list[str] = []
    meta = data.get("meta", {})
    if isinstance(meta, dict):
        merged["meta"].update(meta)
    else:
        problems.append(f"meta: expected a table (got {type(meta).__name__} {_show(meta)})")
    overrides = data.get("overrides", {})
    if not isinstance(overrides, dict):
        problems.append(
            f"overrides: expected a table of dotted paths, e.g. "
            f'"labs[OpenAI].training_growth" = 0.5 (got {type(overrides).__name__})'
        )
        overrides = {}
    overridden: dict[str, tuple[PathPart, ...]] = {}
    for path, value in _flatten_overrides(overrides).items():
        label = format_path(("overrides", path))
        overridden[path] = _set_path(merged, path, value, source, label)
    appended: dict[str, int] = {}
    for section in APPENDED:
        appended[section] = len(merged[section])
        items = data.get(section, [])
        if isinstance(items, list):
            merged[section] += items
        else:
            problems.append(
                f"{section}: expected an array of tables ([[{section}]]) "
                f"(got {type(items).__name__} {_show(items)})"
            )
    if problems:
        raise ScenarioError(source, problems) from None
    try:
        return Scenario.model_validate(merged)
    except ValidationError as exc:
        raise ScenarioError(
            source, [_relabel(p, overridden, appended, base_source) for p in _problems(exc)]
        ) from None


def _load(file: Path, source: str, chain: tuple[Path, ...]) -> Scenario:
    data = read_toml(file)
    if "base" in data:
        return _merge(file, source, data, chain)
    return validate_scenario(data, source)


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read a scenario TOML file (or a shipped scenario by name) and validate it.

    A scenario may start with ``base = "baseline.toml"`` (a path relative to its own
    file, or a shipped scenario's name such as ``"baseline"``) and then set only:
    ``[meta]`` (merged over the base's), ``[overrides]`` (``"dotted.path" = value``,
    the paths of :func:`with_overrides`) and ``[[shocks]]``, ``[[contracts]]``,
    ``[[routes]]`` or agent sections such as ``[[designers]]`` (appended to the
    base's). Bases may chain; a cycle is an error. The result is the merged scenario
    (its hash is the merged scenario's).

    Parameters
    ----------
    path:
        The ``.toml`` file, or the name of a shipped scenario (``"baseline"``, see
        :func:`shipped_scenarios`). Messages name it as given.

    Returns
    -------
    Scenario
        The validated, frozen scenario.

    Raises
    ------
    ScenarioError
        If the file cannot be read, is not valid TOML, or does not satisfy the
        schema; the message names the file that set the bad value, the field and the fix.
    """
    file = resolve_scenario(path)
    source = os.fspath(path) if file == Path(path) else os.fspath(file)
    return _load(file, source, (file.resolve(),))


# ----------------------------------------------------------------- hash, overrides


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 (hex) of the canonical JSON of ``scenario.model_dump(mode="json")``.

    Keys are sorted and separators fixed, so equal scenarios hash equal whatever
    the order or formatting of their files; defaults count as if written out.
    """
    canonical = json.dumps(
        scenario.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _thaw(value: Any) -> Any:
    """Dicts and lists all the way down (``model_dump`` gives tuples for tuple fields)."""
    if isinstance(value, dict):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    return value


def _resolve(node: Any, part: PathPart | tuple[str, str]) -> tuple[PathPart | None, str]:
    """``(key or index, "")`` that ``part`` names in ``node``, or ``(None, why not)``."""
    if isinstance(part, tuple):  # [Name]: the list item whose name is Name
        if not isinstance(node, list):
            return None, f"{type(node).__name__} has no items"
        names = [item.get("name") if isinstance(item, dict) else None for item in node]
        if part[1] not in names:
            return None, f"no item named {part[1]!r} (names: {', '.join(map(str, names))})"
        return names.index(part[1]), ""
    if isinstance(part, int):
        if not isinstance(node, list):
            return None, f"{type(node).__name__} is not a list"
        if not -len(node) <= part < len(node):
            return None, f"index [{part}] out of range (it has {len(node)} items)"
        return part % len(node), ""
    if not isinstance(node, dict) or part not in node:
        keys = list(node) if isinstance(node, dict) else []
        close = difflib.get_close_matches(part, keys, n=1, cutoff=0.6)
        return None, f"no key {part!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    return part, ""


def _set_path(
    data: dict[str, Any], path: str, value: Any, source: str = "overrides", label: str = ""
) -> tuple[PathPart, ...]:
    """Set ``value`` at dotted ``path`` in ``data``; every step must already exist.

    Returns the resolved location (names replaced by indices). Errors name ``source``
    and ``label`` (default: the path itself).
    """
    label = label or path
    try:
        parts = parse_path(path)
    except ValueError as exc:
        raise ScenarioError(source, [f"{label}: {exc}"]) from None
    node: Any = data
    walked: list[PathPart] = []
    for part in parts:
        step, why_not = _resolve(node, part)
        if step is None:
            here = format_path(walked) or "the scenario"
            raise ScenarioError(source, [f"{label}: does not exist: {why_not} in {here}"]) from None
        walked.append(step)
        if len(walked) == len(parts):
            node[step] = value
        else:
            node = node[step]
    return tuple(walked)


def with_overrides(scenario: Scenario, overrides: Mapping[str, Any]) -> Scenario:
    """A copy of ``scenario`` with values replaced at dotted paths, re-validated.

    Parameters
    ----------
    scenario:
        The base scenario (unchanged: scenarios are frozen).
    overrides:
        ``{path: value}``, e.g. ``{"labs[0].training": 2.0, "behaviour.foresight": 0.5}``.
        A path is keys separated by dots, ``[i]`` for list items and ``[Name]``
        for the list item whose ``name`` is ``Name``. Every step of a path must
        exist already (fields with defaults always do); dict entries are not created.

    Raises
    ------
    ScenarioError
        With source ``"overrides"``, if a path does not exist or the result is invalid
        (the message names the path, e.g. ``labs[0].training: must be >= 0 (got -1.0)``).
    """
    data = _thaw(scenario.model_dump(mode="python"))
    for path, value in overrides.items():
        _set_path(data, path, value)
    return validate_scenario(data, "overrides")
