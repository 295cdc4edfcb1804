"""The staff password KDF: scrypt in a self-describing string."""
import base64

import pytest

from chalicelib.admin import passwords
from chalicelib.admin.passwords import ScryptCost, hash_password, needs_rehash, parse_hash, verify_password

FAST = ScryptCost(n=2**4, r=8, p=1)


def test_the_default_cost_is_not_weakened():
    assert passwords.DEFAULT_COST == ScryptCost(n=2**14, r=8, p=1)


def test_a_hash_verifies_its_password_and_no_other():
    stored = hash_password("correct horse", cost=FAST)
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert not verify_password("", stored)


def test_a_non_ascii_password_round_trips():
    stored = hash_password("密码-пароль-🔑", cost=FAST)
    assert verify_password("密码-пароль-🔑", stored)
    assert not verify_password("密码-пароль", stored)


def test_the_stored_string_describes_its_scheme_cost_salt_and_key():
    scheme, n, r, p, salt_b64, key_b64 = hash_password("pw", cost=FAST).split("$")
    assert (scheme, n, r, p) == ("scrypt", "16", "8", "1")
    assert len(base64.b64decode(salt_b64)) == 16
    assert len(base64.b64decode(key_b64)) == 32


def test_parse_hash_reads_back_the_cost():
    parsed = parse_hash(hash_password("pw", cost=FAST))
    assert parsed.cost == FAST
    assert len(parsed.salt) == 16 and len(parsed.key) == 32


def test_the_same_password_hashes_differently_each_time():
    first, second = hash_password("same", cost=FAST), hash_password("same", cost=FAST)
    assert first != second, "two hashes of one password share a salt"
    assert parse_hash(first).salt != parse_hash(second).salt


def test_the_default_cost_hash_verifies():
    stored = hash_password("pw")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("pw", stored)


def test_a_raised_cost_above_the_openssl_default_memory_limit_still_works():
    raised = ScryptCost(n=2**15, r=8, p=1)  # needs 32 MiB, OpenSSL's default ceiling
    assert verify_password("pw", hash_password("pw", cost=raised))


def test_a_tampered_key_fails():
    scheme, n, r, p, salt, key = hash_password("pw", cost=FAST).split("$")
    flipped = bytearray(base64.b64decode(key))
    flipped[0] ^= 1
    tampered = "$".join((scheme, n, r, p, salt, base64.b64encode(bytes(flipped)).decode()))
    assert not verify_password("pw", tampered)


MALFORMED = [
    "",
    "plain-text-password",
    "bcrypt$16$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",
    "scrypt$16$8$1$c2FsdA==",
    "scrypt$15$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",
    "scrypt$1073741824$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",
    "scrypt$16$0$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",
    "scrypt$x$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",
    "scrypt$16$8$1$not*base64$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",
    "scrypt$16$8$1$$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",
    "scrypt$16$8$1$c2FsdHNhbHRzYWx0c2FsdA==$c2hvcnQ=",
]


@pytest.mark.parametrize("stored", MALFORMED)
def test_an_unreadable_hash_never_verifies(stored):
    with pytest.raises(ValueError):
        parse_hash(stored)
    assert not verify_password("pw", stored)
    assert needs_rehash(stored)


def test_needs_rehash_only_when_the_cost_differs():
    assert not needs_rehash(hash_password("pw", cost=FAST), cost=FAST)
    assert needs_rehash(hash_password("pw", cost=FAST))


@pytest.mark.parametrize("n, r, p", [(15, 8, 1), (1, 8, 1), (2**21, 8, 1), (16, 0, 1), (16, 8, 0), (16, 64, 1)])
def test_a_cost_out_of_bounds_is_refused(n, r, p):
    with pytest.raises(ValueError):
        ScryptCost(n=n, r=r, p=p)
