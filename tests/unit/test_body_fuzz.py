"""Bad input is a 400 in the mall's error shape, never a 500: deep nesting, lone surrogates, any bytes at all."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core.errors import BadRequest
from chalicelib.core.http import MAX_DEPTH, parse_body, resolve

MODELS = ["chalicelib.members.inputs:LoginBody", "chalicelib.checkout.inputs:OrderSubmission",
          "chalicelib.members.inputs:AddressBody"]

# Strings with every code point hypothesis draws, lone surrogates included (JSON escapes them as \ud800 to \udfff).
TEXT = st.text(st.one_of(st.characters(exclude_categories=()), st.sampled_from(["\ud800", "\udc00", "\udfff"])),
               max_size=20)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=30)


def parse(raw: bytes, model: str):
    return parse_body(SimpleNamespace(raw_body=raw), resolve(model))


def outcome(raw: bytes, model: str) -> str:
    """"ok" with a value that encodes to UTF-8 as a response or a DynamoDB item would, or the 400's code."""
    try:
        parsed = parse(raw, model)
    except BadRequest as exc:
        body = exc.to_body()
        assert exc.status == 400 and set(body) == {"error"} and body["error"]["code"], body
        json.dumps(body, ensure_ascii=False).encode("utf-8")
        return body["error"]["code"]
    json.dumps(parsed.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
    return "ok"


def nested(depth: int, leaf: str = "") -> str:
    return "[" * depth + leaf + "]" * depth


def test_a_body_nested_1000_deep_is_invalid_json():
    raw = ('{"code": ' + nested(1000) + "}").encode()
    assert len(raw) < 2100
    assert outcome(raw, MODELS[0]) == "INVALID_JSON"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200, 900])
def test_a_body_nested_below_the_parsers_limit_is_refused_too(depth):
    assert outcome(('{"code": ' + nested(depth, '"x"') + "}").encode(), MODELS[0]) == "INVALID_JSON"


def test_nesting_within_the_limit_reaches_validation():
    assert outcome(('{"code": ' + nested(MAX_DEPTH - 1) + "}").encode(), MODELS[0]) == "VALIDATION_ERROR"


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "x\\udc00y", "\\ude00\\ud83d"])
def test_a_lone_surrogate_is_refused(escape):
    assert outcome(('{"code": "' + escape + '"}').encode(), MODELS[0]) == "INVALID_JSON"


def test_a_surrogate_pair_is_a_character_and_passes():
    assert outcome(b'{"code": "\\ud83d\\ude00"}', MODELS[0]) == "ok"


@pytest.mark.parametrize("raw", [b"\xff\xfe{", b'{"code": 1' + b"0" * 5000 + b"}", b'{"code": NaN}',
                                 b'{"code": "a"}' + b" " * 10, b'{"code": "\x00"}', b"\xef\xbb\xbf{}"])
def test_odd_bodies_answer_400_or_validate(raw):
    assert outcome(raw, MODELS[0]) in {"ok", "INVALID_JSON", "VALIDATION_ERROR"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=300), model=st.sampled_from(MODELS))
def test_any_bytes_parse_or_answer_400(raw, model):
    outcome(raw, model)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON_VALUES, model=st.sampled_from(MODELS), key=st.sampled_from(["code", "items", "name", "note"]))
def test_any_json_value_in_any_field_parses_or_answers_400(value, model, key):
    outcome(json.dumps({key: value}).encode(), model)
    outcome(json.dumps(value).encode(), model)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(depth=st.integers(1, 3000), opener=st.sampled_from(["[", '{"a":']))
def test_any_nesting_depth_parses_or_answers_400(depth, opener):
    closer = "]" if opener == "[" else "}"
    outcome(('{"code": ' + opener * depth + "1" + closer * depth + "}").encode(), MODELS[0])


def test_login_with_a_deeply_nested_code_and_no_token_is_400_over_http(client):
    response = client.post("/auth/login", raw='{"code": ' + nested(1000) + "}")
    assert response.status_code == 400, (response.status_code, response.body)
    assert response.data["error"]["code"] == "INVALID_JSON"
