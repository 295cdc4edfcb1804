"""`python -m infra input-schemas`: commit request models' JSON schemas beside them, for core/input_schemas.py.

A model "package.module:Model" validated without pydantic has an entry in
`package/module.schema.json`: the schema pydantic writes for it (`model_json_schema()`,
exactly what /openapi.json documents) and its cross-field rules. This writes every
entry afresh from the models (`--add` names a model to take that path from now on;
`--check` only reports what is stale). tests/unit/test_input_schemas.py fails when a
committed schema is not the model's, or when the validator and pydantic disagree.

A model the validator cannot follow is refused here, with the reason: a keyword it
does not know, a union other than `X | None`, an optional field without a JSON
default (`default_factory`), a pattern with a class escape (`\\d`, `\\w` ... whose
meaning differs between Python's `re` and the Rust regex pydantic uses), a boolean, list
or object in a query (pydantic reads those from strings its own way).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chalicelib.core.config import ALL_FEATURES
from chalicelib.core.input_schemas import ROOT, SUFFIX

COMMON = {"title", "description", "default"}
KEYWORDS = {
    "object": {"type", "properties", "required", "additionalProperties", "$defs"},
    "array": {"type", "items", "minItems", "maxItems"},
    "string": {"type", "minLength", "maxLength", "pattern", "enum", "const"},
    "integer": {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "boolean": {"type"},
}
QUERY_TYPES = {"string", "integer"}
PATTERN_ESCAPES = set("\\.^$|?*+()[]{}-/:#&~ ")  # escaped punctuation only: the same in both regex engines


class Unsupported(ValueError):
    """The model uses what core/input_schemas.py does not validate."""


def schema_path(reference: str) -> Path:
    module = reference.partition(":")[0]
    return ROOT / (module.replace(".", "/") + SUFFIX)


def committed_references() -> list[str]:
    """Every model with a committed entry, as "package.module:Model"."""
    found = []
    for path in sorted(ROOT.glob(f"chalicelib/**/*{SUFFIX}")):
        module = ".".join(path.relative_to(ROOT).parts)[: -len(SUFFIX)]
        found += [f"{module}:{name}" for name in json.loads(path.read_text(encoding="utf-8"))]
    return found


def uses(reference: str) -> set[str]:
    """How routes use the model: "body", "query" or both (every feature's routes)."""
    import importlib

    found = set()
    for feature in ALL_FEATURES:
        for op in importlib.import_module(f"chalicelib.{feature}.routes").api.operations:
            if op.body == reference:
                found.add("body")
            if op.query == reference:
                found.add("query")
    return found


def entry_of(reference: str) -> dict[str, Any]:
    """The committed entry for the model: its JSON schema and rules; raises Unsupported."""
    from chalicelib.core.http import resolve

    model = resolve(reference)
    schema = model.model_json_schema()
    problems = problems_of(schema, query="query" in uses(reference))
    if problems:
        raise Unsupported(f"{reference}: " + "; ".join(problems))
    return {"schema": schema, "rules": list(getattr(model, "cross_field_rules", ()))}


def problems_of(schema: dict[str, Any], *, query: bool) -> list[str]:
    problems: list[str] = []
    _check_object(schema, schema, "(model)", problems, query, top=True)
    for name, definition in schema.get("$defs", {}).items():
        _check_object(schema, definition, name, problems, query, top=False)
    return problems


def _check_object(root: dict, schema: dict, where: str, problems: list[str], query: bool, *, top: bool) -> None:
    if schema.get("type") != "object":
        problems.append(f"{where}: not an object")
        return
    _keywords(schema, "object", where, problems)
    if schema.get("additionalProperties", False) is not False:
        problems.append(f"{where}: additionalProperties must be false or absent")
    if not top and "$defs" in schema:
        problems.append(f"{where}: nested $defs")
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        if name not in required and "default" not in prop:
            problems.append(f"{where}.{name}: optional without a JSON default (default_factory?)")
        _check_value(root, prop, f"{where}.{name}", problems, query)


def _check_value(root: dict, schema: dict, where: str, problems: list[str], query: bool) -> None:
    if "$ref" in schema:
        target = schema["$ref"]
        if not target.startswith("#/$defs/") or target.rpartition("/")[2] not in root.get("$defs", {}):
            problems.append(f"{where}: $ref {target}")
        elif query:
            problems.append(f"{where}: an object in a query")
        if set(schema) - {"$ref"} - COMMON:
            problems.append(f"{where}: keywords beside $ref")
        return
    if "anyOf" in schema:
        options = schema["anyOf"]
        nulls = [option for option in options if option == {"type": "null"}]
        if len(options) != 2 or len(nulls) != 1:
            problems.append(f"{where}: a union other than `X | None`")
            return
        if set(schema) - {"anyOf"} - COMMON:
            problems.append(f"{where}: keywords beside anyOf")
        _check_value(root, next(option for option in options if option not in nulls), where, problems, query)
        return
    kind = schema.get("type")
    if kind not in KEYWORDS:
        problems.append(f"{where}: type {kind!r}")
        return
    if query and kind not in QUERY_TYPES:
        problems.append(f"{where}: a {kind} in a query")
    _keywords(schema, kind, where, problems)
    if kind == "array":
        _check_value(root, schema.get("items", {}), f"{where}[]", problems, query)
    for choice in schema.get("enum", []) + ([schema["const"]] if "const" in schema else []):
        if not isinstance(choice, str):
            problems.append(f"{where}: a choice that is not a string")
    if "pattern" in schema:
        problems += [f"{where}: {problem}" for problem in pattern_problems(schema["pattern"])]
    if kind == "object":
        _check_object(root, schema, where, problems, query, top=False)


def _keywords(schema: dict, kind: str, where: str, problems: list[str]) -> None:
    unknown = set(schema) - KEYWORDS[kind] - COMMON
    if unknown:
        problems.append(f"{where}: unsupported {sorted(unknown)}")


def pattern_problems(pattern: str) -> list[str]:
    escapes = {pattern[index + 1] for index, char in enumerate(pattern[:-1]) if char == "\\"
               and (index == 0 or pattern[index - 1] != "\\")}
    odd = sorted(escapes - PATTERN_ESCAPES)
    return [f"pattern {pattern!r} escapes {odd} (class escapes differ between Python and Rust regex)"] if odd else []


def rendered(references: Iterable[str]) -> dict[Path, str]:
    """Each schema file's text for `references` (grouped by module; entries in the order given)."""
    files: dict[Path, dict[str, Any]] = {}
    for reference in references:
        files.setdefault(schema_path(reference), {})[reference.partition(":")[2]] = entry_of(reference)
    return {path: json.dumps(entries, indent=2, ensure_ascii=False) + "\n" for path, entries in files.items()}


def write(add: Iterable[str] = (), *, check: bool = False) -> list[Path]:
    """Rewrites every committed schema file (and the entries `add` names); the paths that changed."""
    references = list(dict.fromkeys([*committed_references(), *add]))
    changed = []
    for path, text in rendered(references).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            changed.append(path)
            if not check:
                path.write_text(text, encoding="utf-8")
    return changed
