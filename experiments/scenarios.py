"""Scenario files: load TOML, validate against the schema, hash, override by dotted path.

``experiments`` owns all I/O, so this is the only place a scenario file is read.
Every failure (missing file, invalid TOML, a schema violation, a cross-reference
the schema's validator refuses) raises one :class:`ScenarioError` whose message
names the file and the field and says how to fix it, e.g.::

    baseline.toml: fabs[0].capacity: must be > 0 (got -5.0)
    baseline.toml: fabs[0].capcity: unknown key (did you mean 'capacity'?)
    baseline.toml: line 12: invalid TOML (Invalid value, column 9)

Field paths are dotted, with ``[i]`` for list indices: ``labs[0].training``.
The same syntax addresses fields in :func:`with_overrides`, which parameter
sweeps use; there a list item may also be picked by its ``name``:
``labs[OpenAI].training``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from market.scenario import Scenario

__all__ = [
    "ScenarioError",
    "read_toml",
    "validate_model",
    "format_path",
    "load_scenario",
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
    """``0`` for 0.0 and ``0.5`` for 0.5: a bound as one would write it."""
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


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read a scenario TOML file and validate it.

    Parameters
    ----------
    path:
        The ``.toml`` file. Messages name it as given.

    Returns
    -------
    Scenario
        The validated, frozen scenario.

    Raises
    ------
    ScenarioError
        If the file cannot be read, is not valid TOML, or does not satisfy the
        schema; the message names the file, the field and the fix.
    """
    return validate_scenario(read_toml(path), os.fspath(path))


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
        return part, ""
    if not isinstance(node, dict) or part not in node:
        keys = list(node) if isinstance(node, dict) else []
        close = difflib.get_close_matches(part, keys, n=1, cutoff=0.6)
        return None, f"no key {part!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    return part, ""


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at dotted ``path`` in ``data``; every step must already exist."""
    try:
        parts = parse_path(path)
    except ValueError as exc:
        raise ScenarioError("overrides", [f"{path}: {exc}"]) from None
    node: Any = data
    walked: list[PathPart] = []
    for part in parts:
        step, why_not = _resolve(node, part)
        if step is None:
            here = format_path(walked) or "the scenario"
            raise ScenarioError("overrides", [f"{path}: does not exist: {why_not} in {here}"])
        walked.append(step)
        if len(walked) == len(parts):
            node[step] = value
        else:
            node = node[step]


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
