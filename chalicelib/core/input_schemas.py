"""Request bodies and queries validated without pydantic, against their models' committed JSON schemas.

Importing pydantic costs about a quarter of a bare Chalice app's whole cold start (README, "Cold
starts"), so the requests a cold start mostly answers (placing an order, prepaying it, listing
orders) are validated here instead: a small validator driven by the JSON schema pydantic writes
for the route's request model (`model_json_schema()`), committed beside the model as
`<module>.schema.json` by `python -m infra input-schemas`. A route's model given lazily as
"package.module:Model" takes this path exactly when that file holds an entry for it; every
other model is validated by pydantic, as before.

It answers as pydantic does: the same accept/reject decisions, the same values (defaults
filled in, a query's integers parsed as pydantic parses them), and the same 400 details
(field path and message, in pydantic's order). tests/unit/test_input_schemas.py holds it to
that: each committed schema must equal the model's, and for random JSON bodies and queries
both validators must agree. The model stays the source: /openapi.json documents it, tests
and services may construct it, and a rule across fields is one pydantic-free function both
run (`cross_field_rules` on core.schema.Schema).

Supported, and refused by the writer otherwise: objects (`properties`, `required`, `default`,
`additionalProperties: false` or absent), `$ref` to `$defs`, `X | None` (`anyOf` with null),
arrays (`items`, `minItems`, `maxItems`), strings (`minLength`, `maxLength`, `pattern`),
integers (`minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`), booleans (bodies
only), string `enum` and `const`. A body's values are JSON's, and the models' types are
strict there (`StrictInt`: 5.0, true and "5" are not quantities); a query's are strings,
and an integer is read from one as pydantic reads it.
"""
from __future__ import annotations

import copy
import importlib
import json
import re
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from chalicelib.core.errors import invalid_input

ROOT = Path(__file__).resolve().parents[2]
SUFFIX = ".schema.json"

# Unicode White_Space: what pydantic trims around an integer in a string (Python's str.strip also takes \x1c-\x1f).
_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
              "\u2028\u2029\u202f\u205f\u3000"
_INTEGER_TEXT = re.compile(r"[+-]?[0-9](?:_?[0-9])*(?:\.0+)?")
_PLAIN_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.0+)?")  # what pydantic parses itself, not through int()
MAX_DIGITS = 4300  # Python's int() limit, and pydantic's
TOO_MANY_DIGITS = "Unable to parse input string as an integer, exceeded maximum size"
NOT_AN_INTEGER = "Input should be a valid integer, unable to parse string as an integer"
_INVALID = object()


class Fields(SimpleNamespace):
    """A validated body or query: the model's fields by name, defaults filled in (nested objects are Fields)."""


class Entry:
    """One model's committed schema, its rules, and compiled patterns."""

    def __init__(self, name: str, schema: dict[str, Any], rules: list[str]) -> None:
        self.name = name
        self.schema = schema
        self.rules = tuple(rules)
        self.patterns: dict[str, re.Pattern[str]] = {}

    def pattern(self, source: str) -> re.Pattern[str]:
        if source not in self.patterns:
            self.patterns[source] = re.compile(python_pattern(source))
        return self.patterns[source]


def python_pattern(source: str) -> str:
    """A JSON schema pattern (pydantic matches it with Rust's regex) for Python's `re`: `$` outside a class is
    the end of the text there, never before a trailing newline as in Python, so it becomes `\\Z`."""
    out, in_class, escaped = [], False, False
    for char in source:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == "]":
            in_class = False
            out.append(char)
        else:
            out.append("\\Z" if char == "$" and not in_class else char)
    return "".join(out)


@cache
def _entries(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


@cache
def committed(reference: str) -> Entry | None:
    """The committed schema of a lazily named model ("package.module:Model"), or None (pydantic validates it)."""
    module, _, name = reference.partition(":")
    found = _entries(ROOT / (module.replace(".", "/") + SUFFIX)).get(name)
    if found is None:
        return None
    return Entry(name, found["schema"], found.get("rules", []))


def validate(entry: Entry, data: dict[str, Any], *, query: bool = False) -> Fields:
    """`data` (a JSON object, or a query's strings) as `entry`'s model validates it; raises BadRequest."""
    errors: list[tuple[tuple[Any, ...], str]] = []
    value = _node(entry, entry.schema, data, (), errors, query)
    if not errors:
        for rule in entry.rules:
            try:
                _function(rule)(value)
            except ValueError as exc:
                errors.append(((), f"Value error, {exc}"))
                break
    if errors:
        raise invalid_input(errors)
    return value


@cache
def _function(reference: str) -> Any:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def _node(entry: Entry, schema: dict[str, Any], value: Any, loc: tuple[Any, ...], errors: list, query: bool) -> Any:
    if "$ref" in schema:
        name = schema["$ref"].rpartition("/")[2]
        return _object(entry, entry.schema["$defs"][name], value, loc, errors, query)
    if "anyOf" in schema:  # `X | None`, the only union the writer lets through
        if value is None:
            return None
        branch = next(option for option in schema["anyOf"] if option.get("type") != "null")
        return _node(entry, branch, value, loc, errors, query)
    if "enum" in schema or "const" in schema:
        return _choice(schema, value, loc, errors)
    kind = schema.get("type")
    if kind == "object":
        return _object(entry, schema, value, loc, errors, query)
    if kind == "array":
        return _array(entry, schema, value, loc, errors, query)
    if kind == "string":
        return _string(entry, schema, value, loc, errors)
    if kind == "integer":
        return _integer(schema, value, loc, errors, query)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        return _fail(errors, loc, "Input should be a valid boolean")
    raise ValueError(f"{entry.name}: unsupported schema {schema}")  # the writer refuses these


def _fail(errors: list, loc: tuple[Any, ...], message: str) -> Any:
    errors.append((loc, message))
    return _INVALID


def _object(entry: Entry, schema: dict[str, Any], value: Any, loc: tuple[Any, ...], errors: list,
            query: bool) -> Any:
    if not isinstance(value, dict):
        return _fail(errors, loc, f"Input should be a valid dictionary or instance of {schema.get('title', '')}")
    before = len(errors)
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fields: dict[str, Any] = {}
    for name, field_schema in properties.items():
        if name in value:
            fields[name] = _node(entry, field_schema, value[name], (*loc, name), errors, query)
        elif name in required:
            _fail(errors, (*loc, name), "Field required")
        else:
            fields[name] = copy.deepcopy(field_schema.get("default"))
    if schema.get("additionalProperties") is False:
        for name in value:
            if name not in properties:
                _fail(errors, (*loc, name), "Extra inputs are not permitted")
    return _INVALID if len(errors) > before else Fields(**fields)


def _array(entry: Entry, schema: dict[str, Any], value: Any, loc: tuple[Any, ...], errors: list,
           query: bool) -> Any:
    if not isinstance(value, list):
        return _fail(errors, loc, "Input should be a valid list")
    most, least = schema.get("maxItems"), schema.get("minItems")
    if most is not None and len(value) > most:
        return _fail(errors, loc, f"List should have at most {most} item{_plural(most)} after validation, "
                                  f"not {len(value)}")
    before = len(errors)
    items = [_node(entry, schema.get("items", {}), item, (*loc, index), errors, query)
             for index, item in enumerate(value)]
    if len(errors) > before:
        return _INVALID
    if least is not None and len(value) < least:
        return _fail(errors, loc, f"List should have at least {least} item{_plural(least)} after validation, "
                                  f"not {len(value)}")
    return items


def _string(entry: Entry, schema: dict[str, Any], value: Any, loc: tuple[Any, ...], errors: list) -> Any:
    if not isinstance(value, str):
        return _fail(errors, loc, "Input should be a valid string")
    least, most, pattern = schema.get("minLength"), schema.get("maxLength"), schema.get("pattern")
    if least is not None and len(value) < least:
        return _fail(errors, loc, f"String should have at least {least} character{_plural(least)}")
    if most is not None and len(value) > most:
        return _fail(errors, loc, f"String should have at most {most} character{_plural(most)}")
    if pattern is not None and not entry.pattern(pattern).search(value):
        return _fail(errors, loc, f"String should match pattern '{pattern}'")
    return value


def _integer(schema: dict[str, Any], value: Any, loc: tuple[Any, ...], errors: list, query: bool) -> Any:
    if query and isinstance(value, str):
        value = parse_integer(value)
        if isinstance(value, str):
            return _fail(errors, loc, value)
    elif not isinstance(value, int) or isinstance(value, bool):
        return _fail(errors, loc, "Input should be a valid integer")
    for keyword, holds, words in _BOUNDS:
        if keyword in schema and not holds(value, schema[keyword]):
            return _fail(errors, loc, f"Input should be {words} {schema[keyword]}")
    return value


_BOUNDS = (
    ("exclusiveMinimum", lambda value, bound: value > bound, "greater than"),
    ("minimum", lambda value, bound: value >= bound, "greater than or equal to"),
    ("exclusiveMaximum", lambda value, bound: value < bound, "less than"),
    ("maximum", lambda value, bound: value <= bound, "less than or equal to"),
)


def parse_integer(text: str) -> int | str:
    """An integer in a string as pydantic reads one (Unicode whitespace around it, a sign, ASCII digits with single
    underscores between them, optionally `.0...`), or why it is not one (pydantic's message).

    Over 4,300 significant digits it is refused, with pydantic's own message for a plain `-?digits` and int()'s
    for the rest (pydantic hands those to it)."""
    trimmed = text.strip(_WHITESPACE)
    if not _INTEGER_TEXT.fullmatch(trimmed):
        return NOT_AN_INTEGER
    digits = trimmed.partition(".")[0].replace("_", "")
    sign = -1 if digits[0] == "-" else 1
    digits = digits.lstrip("+-").lstrip("0") or "0"
    if len(digits) > MAX_DIGITS:
        return TOO_MANY_DIGITS if _PLAIN_INTEGER.fullmatch(text) else NOT_AN_INTEGER
    return sign * int(digits)


def _choice(schema: dict[str, Any], value: Any, loc: tuple[Any, ...], errors: list) -> Any:
    allowed = schema["enum"] if "enum" in schema else [schema["const"]]
    if isinstance(value, str) and value in allowed:
        return value
    quoted = [repr(choice) for choice in allowed]
    expected = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return _fail(errors, loc, f"Input should be {expected}")


def _plural(count: int) -> str:
    return "" if count == 1 else "s"
