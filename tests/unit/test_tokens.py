"""core/tokens.py against PyJWT as the oracle: the same tokens, the same accept/refuse decisions."""
from __future__ import annotations

import json
import time

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core import auth, tokens

KEY = "test-secret-for-hs256-signing-0123456789"
AUDIENCES = (auth.BUYER_AUDIENCE, auth.STAFF_AUDIENCE)
NOW = 1_800_000_000


def pyjwt_decode(token: str, key: str = KEY) -> dict | None:
    """What core/auth.py asked of PyJWT before core/tokens.py; None when PyJWT refuses the token."""
    try:
        return jwt.decode(token, key, algorithms=["HS256"], issuer=auth.ISSUER, audience=list(AUDIENCES),
                          options={"require": ["exp", "iat", "sub", "aud", "iss"], "verify_exp": False,
                                   "verify_iat": False})
    except jwt.PyJWTError:
        return None


def ours_decode(token: str, key: str = KEY, now: float | None = None) -> dict | None:
    """`now` defaults to the wall clock, which PyJWT judges `nbf` by."""
    try:
        return tokens.decode(token, key, issuer=auth.ISSUER, audiences=AUDIENCES,
                             now=time.time() if now is None else now)
    except tokens.InvalidToken:
        return None


def claims(**overrides) -> dict:
    return {"iss": auth.ISSUER, "aud": auth.BUYER_AUDIENCE, "sub": "U1", "role": "buyer", "iat": NOW,
            "exp": NOW + 3600, **overrides}


def test_a_token_is_written_byte_for_byte_as_pyjwt_writes_it():
    for body in (claims(), claims(aud=auth.STAFF_AUDIENCE, role="owner", sid="S1"), claims(sub="用户")):
        assert tokens.encode(body, KEY) == jwt.encode(body, KEY, algorithm="HS256")


def test_tokens_of_one_verify_in_the_other():
    body = claims(sid="session-1")
    assert ours_decode(jwt.encode(body, KEY, algorithm="HS256")) == body
    assert pyjwt_decode(tokens.encode(body, KEY)) == body


def test_the_mall_issues_tokens_pyjwt_accepts(frozen_clock):
    token = auth.issue_staff_token("admin", "owner", session_id="S9")
    decoded = pyjwt_decode(token)
    assert decoded is not None and decoded["sub"] == "admin" and decoded["sid"] == "S9"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the key is HS256's
@pytest.mark.parametrize("algorithm", ["none", "HS384", "HS512"])
def test_a_token_of_another_algorithm_is_refused_by_both(algorithm):
    token = jwt.encode(claims(), None if algorithm == "none" else KEY, algorithm=algorithm)
    assert ours_decode(token) is None and pyjwt_decode(token) is None


def test_an_unsigned_token_claiming_hs256_is_refused_by_both():
    header, payload, _ = tokens.encode(claims(), KEY).split(".")
    for forged in (f"{header}.{payload}.", f"{header}.{payload}", f"{header}.{payload}.AAAA"):
        assert ours_decode(forged) is None and pyjwt_decode(forged) is None


def test_another_key_is_refused_by_both():
    token = jwt.encode(claims(), "guessed-key-guessed-key-guessed-key", algorithm="HS256")
    assert ours_decode(token) is None and pyjwt_decode(token) is None


def test_a_critical_extension_header_is_refused():
    header = tokens._b64(json.dumps({"alg": "HS256", "crit": ["b64"], "b64": True}).encode())
    payload = tokens._b64(json.dumps(claims()).encode())
    signature = tokens._b64(tokens._sign(f"{header}.{payload}".encode(), KEY))
    assert ours_decode(f"{header}.{payload}.{signature}") is None


def test_nbf_is_judged_by_the_mall_clock():
    assert ours_decode(tokens.encode(claims(nbf=NOW), KEY), now=NOW) is not None
    assert ours_decode(tokens.encode(claims(nbf=NOW + 1), KEY), now=NOW) is None
    assert ours_decode(tokens.encode(claims(nbf="soon"), KEY), now=NOW) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(position=st.integers(min_value=0), replacement=st.sampled_from("AQgw_-.aZ09="), segment=st.integers(0, 2))
def test_a_tampered_token_fails_in_both(position, replacement, segment):
    token = tokens.encode(claims(), KEY)
    parts = token.split(".")
    target = parts[segment]
    index = position % max(len(target), 1)
    if target[index:index + 1] == replacement:
        return
    parts[segment] = target[:index] + replacement + target[index + 1:]
    tampered = ".".join(parts)
    if tampered == token:
        return
    assert ours_decode(tampered) is None, tampered
    # PyJWT's decoder ignores a base64 character's unused bits: a signature spelled another way but the same
    # bytes is not tampered for it (core/tokens.py refuses any spelling but the canonical one)
    same_bytes = segment == 2 and _lenient_b64(parts[2]) == _lenient_b64(token.split(".")[2])
    assert pyjwt_decode(tampered) is None or same_bytes, tampered


def _lenient_b64(segment: str) -> bytes | None:
    try:
        return jwt.utils.base64url_decode(segment)
    except Exception:  # noqa: BLE001 - any failure to decode is simply "not the same bytes"
        return None


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)


CLAIM_NAMES = ("iss", "aud", "sub", "iat", "exp", "jti", "nbf", "role")
ODD_VALUES = st.one_of(JSON_VALUES, st.sampled_from([auth.STAFF_AUDIENCE, "other", [auth.BUYER_AUDIENCE, "other"],
                                                      [auth.BUYER_AUDIENCE, 5], [], "", NOW, 1_000_000_000, True]))


@st.composite
def claim_sets(draw) -> dict:
    """Good claims with up to two of them dropped or replaced by anything JSON holds."""
    body = claims(jti="J1")
    for name in draw(st.lists(st.sampled_from(CLAIM_NAMES), max_size=2)):
        if draw(st.booleans()):
            body.pop(name, None)
        else:
            body[name] = draw(ODD_VALUES)
    return body


HEADERS = st.fixed_dictionaries({"alg": st.sampled_from(["HS256", "HS256", "HS256", "HS512", "none", "hs256"])},
                                optional={"typ": st.sampled_from(["JWT", "jwt"]), "kid": st.one_of(st.just("k1"),
                                                                                                   JSON_VALUES)})


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=claim_sets(), header=HEADERS)
def test_both_accept_and_refuse_the_same_well_signed_claims(body, header):
    """Signed with the right key, whatever the claims and header hold: both decide alike."""
    encoded_header = tokens._b64(json.dumps(header, separators=(",", ":")).encode())
    encoded_payload = tokens._b64(json.dumps(body, separators=(",", ":")).encode())
    signature = tokens._b64(tokens._sign(f"{encoded_header}.{encoded_payload}".encode(), KEY))
    token = f"{encoded_header}.{encoded_payload}.{signature}"
    assert (ours_decode(token) is None) == (pyjwt_decode(token) is None), (header, body)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_random_strings_are_refused_by_both(text):
    assert ours_decode(text) is None and pyjwt_decode(text) is None
