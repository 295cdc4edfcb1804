"""Request models validated without pydantic (core/input_schemas.py) answer exactly as pydantic does.

For every model with a committed schema: the schema is the model's own (so it cannot go stale),
and for random JSON bodies (random query strings, for a query model) both validators take the
same decision, with the same values when they accept and the same 400 details when they refuse.
"""
from __future__ import annotations

import json
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ConfigDict, Field, StrictInt

from chalicelib.core import http, input_schemas
from chalicelib.core.errors import BadRequest
from chalicelib.core.schema import Schema
from chalicelib.core.views import jsonable
from infra.input_schemas import (
    Unsupported,
    committed_references,
    entry_of,
    pattern_problems,
    problems_of,
    schema_path,
    uses,
    write,
)

REFERENCES = committed_references()
USES = [(reference, use) for reference in REFERENCES for use in sorted(uses(reference))]


def test_the_first_requests_bodies_and_queries_have_committed_schemas():
    assert {"chalicelib.checkout.inputs:OrderSubmission", "chalicelib.checkout.inputs:OrderQuery",
            "chalicelib.payments.inputs:PrepayBody"} <= set(REFERENCES)


def test_every_committed_schema_is_its_models_own():
    stale = write(check=True)
    assert not stale, f"stale: {stale}; run `python -m infra input-schemas` and commit the result"


@pytest.mark.parametrize("reference", REFERENCES)
def test_a_committed_model_is_used_by_a_route(reference):
    assert uses(reference), f"{reference} has a committed schema but no route validates with it"


@pytest.mark.parametrize("reference", REFERENCES)
def test_a_route_given_the_lazy_name_validates_without_pydantic(reference):
    entry = input_schemas.committed(reference)
    assert entry is not None and entry.schema == json.loads(schema_path(reference).read_text())[
        reference.partition(":")[2]]["schema"]


class Odd(Schema):
    """What core/input_schemas.py does not validate."""
    model_config = ConfigDict(extra="forbid")
    either: StrictInt | str
    tags: list[str] = Field(default_factory=list)
    digits: str = Field(default="1", pattern=r"^\d+$")
    mode: Literal[1, 2] = 1
    flag: bool = False


def test_what_the_validator_cannot_follow_is_refused_with_the_reason():
    problems = "; ".join(problems_of(Odd.model_json_schema(), query=True))
    for expected in ("a union other than", "default_factory", "escapes ['d']", "not a string", "a boolean in a query"):
        assert expected in problems, problems
    with pytest.raises(Unsupported, match="default_factory"):
        entry_of(f"{__name__}:Odd")
    assert pattern_problems(r"^[0-9A-Za-z_.:\-]{8,64}$") == []


def test_a_dollar_ends_the_text_as_in_rust_regex():
    assert input_schemas.python_pattern("^(wechat|alipay)$") == "^(wechat|alipay)\\Z"
    assert input_schemas.python_pattern("^[$]x\\$$") == "^[$]x\\$\\Z"


# --- the two validators side by side ---------------------------------------------

def by_pydantic(reference: str, data: dict):
    from pydantic import ValidationError

    try:
        return "ok", http.resolve(reference).model_validate(data).model_dump(mode="json")
    except ValidationError as exc:
        return "refused", [{"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
                           for err in exc.errors(include_url=False, include_input=False)]


def by_committed_schema(reference: str, data: dict, query: bool):
    try:
        return "ok", jsonable(input_schemas.validate(input_schemas.committed(reference), data, query=query))
    except BadRequest as exc:
        assert exc.status == 400 and exc.code == "VALIDATION_ERROR"
        return "refused", exc.details


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.sampled_from([0, 1, -1, 10**30]),
                    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1.0, 5.0, 0.5]),
                    st.text(max_size=6), st.sampled_from(["", "5", "true", "null", "wechat", "PAID"]))
ANY_JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=8)
INTEGER_TEXT = st.one_of(
    st.integers(-100, 10**6).map(str),
    st.builds(lambda n, pad, tail: f"{pad}{n}{tail}{pad}", st.integers(-5, 80), st.sampled_from(
        ["", " ", "\t", "\n", "\xa0", "\u3000", "\x1c", "\x0b"]), st.sampled_from(["", ".0", ".00", ".", ".5", "e0"])),
    st.sampled_from(["+5", "-0", "05", "1_0", "1__0", "_1", "1_", "+_5", "٣", "５", "0x10", "", " ", "+", "-",
                     "1" * 40, "9" * 4301, "0" * 5000 + "7", "5\x00"]),
    st.text(alphabet="0123456789+-_. \t", max_size=8),
)


def node(root: dict, schema: dict) -> dict:
    return root["$defs"][schema["$ref"].rpartition("/")[2]] if "$ref" in schema else schema


def valid(root: dict, schema: dict, query: bool) -> st.SearchStrategy:
    """Values `schema` accepts (a query's as strings)."""
    schema = node(root, schema)
    if "anyOf" in schema:
        inner = next(option for option in schema["anyOf"] if option != {"type": "null"})
        return st.one_of(st.none(), valid(root, inner, query)) if not query else valid(root, inner, query)
    if "enum" in schema or "const" in schema:
        return st.sampled_from(schema.get("enum", [schema.get("const")]))
    kind = schema.get("type")
    if kind == "object":
        return objects(root, schema, query)
    if kind == "array":
        least, most = schema.get("minItems", 0), schema.get("maxItems", 4)
        items = valid(root, schema.get("items", {}), query)
        return st.one_of(st.lists(items, min_size=least, max_size=min(most, least + 3)),
                         items.map(lambda item: [item] * most))  # the longest list, cheaply
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        least, most = schema.get("minLength", 0), schema.get("maxLength", 12)
        return st.one_of(st.text(min_size=least, max_size=min(most, least + 8)),
                         st.text(min_size=most, max_size=most))
    if kind == "integer":
        least = schema.get("minimum", schema.get("exclusiveMinimum", -1001) + 1)
        most = schema.get("maximum", schema.get("exclusiveMaximum", 1001) - 1)
        numbers = st.integers(least, most)
        if query:
            return st.one_of(numbers.map(str), st.builds(lambda n, pad: f"{pad}{n}.0{pad}", numbers,
                                                         st.sampled_from([" ", "\t", "\xa0"])))
        return numbers
    if kind == "boolean":
        return st.booleans()
    raise AssertionError(f"no strategy for {schema}")


def near(root: dict, schema: dict, query: bool) -> st.SearchStrategy:
    """Values just outside what `schema` accepts, other JSON types, and some valid ones."""
    other = st.text(max_size=8) if query else ANY_JSON
    schema = node(root, schema)
    if "anyOf" in schema:
        return near(root, next(option for option in schema["anyOf"] if option != {"type": "null"}), query)
    if "enum" in schema or "const" in schema:
        choices = schema.get("enum", [schema.get("const")])
        return st.one_of(st.sampled_from(choices).map(str.lower), st.sampled_from(choices).map(lambda c: c + " "),
                         other)
    kind = schema.get("type")
    if kind == "object":
        return st.one_of(other, st.lists(st.none(), max_size=1), objects(root, schema, query))
    if kind == "array":
        least, most = schema.get("minItems", 0), schema.get("maxItems", 4)
        items = valid(root, schema.get("items", {}), query)
        return st.one_of(items.map(lambda item: [item] * (most + 1)),
                         st.lists(items, max_size=max(least - 1, 0)),
                         st.lists(st.one_of(items, near(root, schema.get("items", {}), query)), min_size=1,
                                  max_size=3), other)
    if kind == "string":
        least, most = schema.get("minLength", 0), schema.get("maxLength", 12)
        texts = [st.text(max_size=max(least - 1, 0)), st.text(min_size=most + 1, max_size=most + 1), other]
        if "pattern" in schema:
            pattern = schema["pattern"]
            texts += [st.from_regex(pattern, fullmatch=True).map(lambda text: text + "\n"),
                      st.from_regex(pattern, fullmatch=True).map(lambda text: " " + text),
                      st.from_regex(pattern, fullmatch=True).map(str.upper), st.text(max_size=8)]
        return st.one_of(*texts)
    if kind == "integer":
        bounds = [schema[key] + delta for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
                  if key in schema for delta in (-1, 0, 1)]
        numbers = st.one_of(st.integers(-10**6, 10**6), st.sampled_from(bounds or [0]))
        if query:
            return st.one_of(INTEGER_TEXT, numbers.map(str), other)
        return st.one_of(numbers.map(float), numbers.map(str), st.booleans(), st.sampled_from([10**30, -10**30]),
                         other)
    if kind == "boolean":
        return st.one_of(st.sampled_from([0, 1, "true", "false", None]), other)
    raise AssertionError(f"no strategy for {schema}")


@st.composite
def objects(draw, root: dict, schema: dict, query: bool) -> dict:
    """A valid object, then maybe one field made invalid, one required field dropped or one extra key added."""
    properties = schema.get("properties", {})
    required = [name for name in properties if name in schema.get("required", ())]
    body = {name: draw(valid(root, prop, query)) for name, prop in properties.items()
            if name in required or draw(st.booleans())}
    for _ in range(draw(st.integers(0, 2))):
        change = draw(st.sampled_from(["field", "field", "drop", "extra"]))
        if change == "field" and properties:
            name = draw(st.sampled_from(sorted(properties)))
            body[name] = draw(near(root, properties[name], query))
        elif change == "drop" and required:
            body.pop(draw(st.sampled_from(required)), None)
        elif change == "extra":
            body[draw(st.sampled_from(["extra", "ITEMS", "note ", "x"]))] = draw(st.text(max_size=3))
    return body


@pytest.mark.parametrize(("reference", "use"), USES, ids=[f"{r.partition(':')[2]}-{u}" for r, u in USES])
def test_both_validators_decide_alike(reference, use):
    entry = input_schemas.committed(reference)
    query = use == "query"
    seen = {"ok": 0, "refused": 0}

    @settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=objects(entry.schema, entry.schema, query))
    def agree(data):
        expected = by_pydantic(reference, data)
        assert by_committed_schema(reference, data, query) == expected, data
        seen[expected[0]] += 1

    agree()
    assert seen["ok"] >= 50 and seen["refused"] >= 50, seen  # the strategy reaches both sides


@pytest.mark.parametrize(("reference", "use"), USES, ids=[f"{r.partition(':')[2]}-{u}" for r, u in USES])
def test_random_json_objects_are_decided_alike(reference, use):
    query = use == "query"

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.dictionaries(st.text(max_size=8), st.text(max_size=8) if query else ANY_JSON, max_size=4))
    def agree(data):
        assert by_committed_schema(reference, data, query) == by_pydantic(reference, data), data

    agree()


LONG_INTEGERS = {
    "plain": lambda n: "9" * n, "leading zero": lambda n: "0" + "9" * (n - 1), "plus": lambda n: "+" + "9" * (n - 1),
    "minus": lambda n: "-" + "9" * (n - 1), "minus zero": lambda n: "-0" + "9" * (n - 2),
    "decimal": lambda n: "9" * (n - 2) + ".0", "underscore": lambda n: "9_" + "9" * (n - 2),
    "space": lambda n: " " + "9" * (n - 1), "zeros": lambda n: "0" * (n - 1) + "9",
}


@pytest.mark.parametrize("form", sorted(LONG_INTEGERS))
def test_integers_of_about_4300_digits_in_a_query_are_read_as_pydantic_reads_them(form):
    reference = "chalicelib.checkout.inputs:OrderQuery"
    for length in (4299, 4300, 4301, 4302, 4303, 5000):
        data = {"limit": LONG_INTEGERS[form](length)}
        assert by_committed_schema(reference, data, True) == by_pydantic(reference, data), (form, length)
