"""Staff password hashing: scrypt (standard library) in a self-describing string.

A stored hash reads `scrypt$<n>$<r>$<p>$<salt_b64>$<hash_b64>`. It carries its
own cost, so the default can be raised later: old hashes still verify with the
cost they were made with, and `needs_rehash` tells login to upgrade them.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

SCHEME = "scrypt"
SALT_BYTES = 16
KEY_BYTES = 32
# Upper bounds keep a corrupted or hostile stored hash from costing gigabytes.
MAX_N = 2**20
MAX_R = 32
MAX_P = 16


@dataclass(frozen=True)
class ScryptCost:
    n: int  # CPU/memory cost, a power of two
    r: int  # block size
    p: int  # parallelism

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1):
            raise ValueError(f"scrypt n must be a power of two >= 2, got {self.n}")
        if not (1 <= self.r <= MAX_R and 1 <= self.p <= MAX_P and self.n <= MAX_N):
            raise ValueError(f"scrypt cost out of bounds: n={self.n} r={self.r} p={self.p}")

    def memory_bytes(self) -> int:
        # OpenSSL refuses to run scrypt above `maxmem` (32 MiB unless told), so a
        # raised cost must say how much it needs: 128*r*(n+p+2) bytes, plus slack.
        return 128 * self.r * (self.n + self.p + 2) + 1024 * 1024


DEFAULT_COST = ScryptCost(n=2**14, r=8, p=1)  # about 50 ms and 16 MiB per hash


@dataclass(frozen=True)
class ParsedHash:
    cost: ScryptCost
    salt: bytes
    key: bytes


def hash_password(password: str, *, cost: ScryptCost = DEFAULT_COST) -> str:
    """A new salted hash of `password`. Tests may pass a lower `cost`; the default stays."""
    salt = os.urandom(SALT_BYTES)
    key = _derive(password, salt, cost, KEY_BYTES)
    return "$".join((SCHEME, str(cost.n), str(cost.r), str(cost.p), _b64(salt), _b64(key)))


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; False for a wrong password or an unreadable hash."""
    try:
        parsed = parse_hash(stored)
    except ValueError:
        return False
    candidate = _derive(password, parsed.salt, parsed.cost, len(parsed.key))
    return hmac.compare_digest(candidate, parsed.key)


def needs_rehash(stored: str, *, cost: ScryptCost = DEFAULT_COST) -> bool:
    """True when `stored` was made with a different cost than `cost` (or cannot be read)."""
    try:
        return parse_hash(stored).cost != cost
    except ValueError:
        return True


def parse_hash(stored: str) -> ParsedHash:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ValueError("not a scrypt password hash")
    try:
        cost = ScryptCost(n=int(parts[1]), r=int(parts[2]), p=int(parts[3]))
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"malformed scrypt password hash: {exc}") from None
    if not salt or len(key) < 16:
        raise ValueError("scrypt password hash with an empty salt or a short key")
    return ParsedHash(cost=cost, salt=salt, key=key)


def _derive(password: str, salt: bytes, cost: ScryptCost, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=cost.n, r=cost.r, p=cost.p,
                          maxmem=cost.memory_bytes(), dklen=length)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
