"""Buyers' personal data encrypted at rest: envelope encryption with AES-256-GCM.

Each value is sealed with a data key (DEK, 256 bits) and stored as

    v1:<key id>:<wrapped DEK>:<nonce>:<ciphertext>     (base64url, no padding)

The DEK is wrapped by a key-encryption key: in the cloud an AWS KMS key
(`MALL_PII_KMS_KEY_ID`: GenerateDataKey, Decrypt), in the sandbox a local 256-bit key
(`MALL_PII_LOCAL_KEY`, base64, or the file `MALL_PII_KEY_FILE`, generated once). The
additional authenticated data is the value's place, `<table>.<attribute>`, and its
owner (the buyer's user_id), so a ciphertext copied to another attribute or another
buyer's item does not decrypt.

Cache policy (no KMS call per attribute, nor per request):
- sealing: one DEK per process, used for at most `DATA_KEY_MAX_AGE` (5 minutes on the
  mall's clock) and `DATA_KEY_MAX_USES` values, then a new one (one GenerateDataKey);
- opening: unwrapped DEKs are kept by their wrapped form, at most `OPEN_CACHE_SIZE`
  of them, each for `DATA_KEY_MAX_AGE`: a page of orders written by three Lambda
  instances costs at most three Decrypt calls, and none while they are cached.

A value without the `v1:` prefix is plaintext written before encryption (a local
stack's old data): it is read as it is and sealed on the item's next write.
"""
from __future__ import annotations

import base64
import hashlib
import os
import secrets
import threading
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pynamodb.attributes import UnicodeAttribute

from chalicelib.core import clock, config
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)

VERSION = "v1"
DATA_KEY_MAX_AGE = timedelta(minutes=5)
DATA_KEY_MAX_USES = 100_000  # far below AES-GCM's 2^32 random nonces per key
OPEN_CACHE_SIZE = 256
LOCAL_KEY_FILE = "pii.key"
_WRAP_AAD = b"micromall-pii-dek"
# KMS binds each data key to this context (CloudTrail shows it; a key policy or grant can require it)
KMS_CONTEXT = {"purpose": "micromall-pii"}


class PiiError(RuntimeError):
    """A sealed value cannot be opened: wrong place or owner, tampered, or a key this mall does not hold."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aesgcm(key: bytes):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # lazy: a request with no PII never imports it

    return AESGCM(key)


# --- key-encryption keys ---------------------------------------------------------

class LocalKeys:
    """The sandbox's key-encryption key: a 256-bit key held by this process; wrapping is AES-GCM under it."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise config.ConfigError("the local PII key must be 32 bytes (base64 of 32 random bytes)")
        self._key = key
        self.key_id = "local-" + hashlib.sha256(key).hexdigest()[:12]

    def generate(self) -> tuple[bytes, bytes, str]:
        dek = secrets.token_bytes(32)
        nonce = secrets.token_bytes(12)
        return dek, nonce + _aesgcm(self._key).encrypt(nonce, dek, _WRAP_AAD), self.key_id

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        if key_id != self.key_id:
            raise PiiError(f"sealed under local key {key_id}, this mall holds {self.key_id}")
        from cryptography.exceptions import InvalidTag

        try:
            return _aesgcm(self._key).decrypt(wrapped[:12], wrapped[12:], _WRAP_AAD)
        except InvalidTag:
            raise PiiError("the wrapped data key does not open under the local key") from None


class KmsKeys:
    """AWS KMS: the DEK comes from GenerateDataKey and is unwrapped by Decrypt (the blob names its key)."""

    def __init__(self, key_id: str, client: Any = None) -> None:
        self.configured = key_id
        self._client = client

    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("kms", region_name=config.region())
        return self._client

    def generate(self) -> tuple[bytes, bytes, str]:
        answer = self.client().generate_data_key(KeyId=self.configured, KeySpec="AES_256",
                                                 EncryptionContext=KMS_CONTEXT)
        return answer["Plaintext"], answer["CiphertextBlob"], _short_key_id(answer["KeyId"])

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        if key_id.startswith("local-"):
            raise PiiError(f"sealed under a sandbox key ({key_id}); this mall uses KMS")
        answer = self.client().decrypt(CiphertextBlob=wrapped, EncryptionContext=KMS_CONTEXT)
        if _short_key_id(answer["KeyId"]) != key_id:
            raise PiiError(f"the data key was wrapped by another KMS key than {key_id}")
        return answer["Plaintext"]


def _short_key_id(arn_or_id: str) -> str:
    """`arn:aws:kms:...:key/<uuid>` -> `<uuid>` (no colons: it is a field of the sealed format)."""
    return arn_or_id.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def keys_from_config() -> LocalKeys | KmsKeys:
    """KMS when `MALL_PII_KMS_KEY_ID` is set; else the local key (sandbox, or a key the tests set)."""
    kms_key = config.env("MALL_PII_KMS_KEY_ID")
    if kms_key:
        return KmsKeys(kms_key)
    inline = config.env("MALL_PII_LOCAL_KEY")
    if inline:
        return LocalKeys(_unb64(inline.strip()))
    if not config.is_sandbox():
        raise config.ConfigError("personal data needs a key: set MALL_PII_KMS_KEY_ID (the stack's PII key)")
    default = Path(config.env("MALL_SANDBOX_KEYS_DIR", ".local/keys")) / LOCAL_KEY_FILE
    return LocalKeys(_unb64(_local_key_text(Path(config.env("MALL_PII_KEY_FILE", str(default))))))


def _local_key_text(path: Path) -> str:
    """The sandbox key file's content, generated on first use (owner-only, complete or not at all)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(_b64(secrets.token_bytes(32)) + "\n")
            os.link(temporary, path)  # fails if the file exists: another process's key, if it won, stays
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text(encoding="ascii").strip()


# --- the envelope --------------------------------------------------------------------

@dataclass
class _DataKey:
    plaintext: bytes
    wrapped: bytes
    key_id: str
    made_at: datetime
    uses: int = 0


class Envelope:
    """Seals and opens values; holds the data-key caches described in the module docstring."""

    def __init__(self, keys: LocalKeys | KmsKeys) -> None:
        self.keys = keys
        self._lock = threading.Lock()
        self._current: _DataKey | None = None
        self._opened: OrderedDict[bytes, tuple[bytes, datetime]] = OrderedDict()

    def seal(self, plaintext: str, context: str) -> str:
        dek = self._data_key()
        nonce = secrets.token_bytes(12)
        sealed = _aesgcm(dek.plaintext).encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return ":".join((VERSION, dek.key_id, _b64(dek.wrapped), _b64(nonce), _b64(sealed)))

    def open(self, value: str, context: str) -> str:
        try:
            version, key_id, wrapped, nonce, sealed = value.split(":")
        except ValueError:
            raise PiiError("not a sealed value") from None
        if version != VERSION:
            raise PiiError(f"unknown sealed format {version!r}")
        from cryptography.exceptions import InvalidTag

        dek = self._unwrapped(key_id, _unb64(wrapped))
        try:
            return _aesgcm(dek).decrypt(_unb64(nonce), _unb64(sealed), context.encode("utf-8")).decode("utf-8")
        except InvalidTag:
            raise PiiError(f"the value does not open as {context!r}: another place or owner, or tampered") from None

    def _data_key(self) -> _DataKey:
        now = clock.now()
        with self._lock:
            current = self._current
            if current is None or current.uses >= DATA_KEY_MAX_USES or now - current.made_at >= DATA_KEY_MAX_AGE:
                plaintext, wrapped, key_id = self.keys.generate()
                current = self._current = _DataKey(plaintext, wrapped, key_id, now)
                self._remember(wrapped, plaintext, now)
            current.uses += 1
            return current

    def _unwrapped(self, key_id: str, wrapped: bytes) -> bytes:
        now = clock.now()
        with self._lock:
            cached = self._opened.get(wrapped)
            if cached is not None and now - cached[1] < DATA_KEY_MAX_AGE:
                self._opened.move_to_end(wrapped)
                return cached[0]
        plaintext = self.keys.unwrap(key_id, wrapped)
        with self._lock:
            self._remember(wrapped, plaintext, now)
        return plaintext

    def _remember(self, wrapped: bytes, plaintext: bytes, now: datetime) -> None:
        self._opened[wrapped] = (plaintext, now)
        self._opened.move_to_end(wrapped)
        while len(self._opened) > OPEN_CACHE_SIZE:
            self._opened.popitem(last=False)


_envelope: Envelope | None = None
_envelope_lock = threading.Lock()


def envelope() -> Envelope:
    global _envelope
    with _envelope_lock:
        if _envelope is None:
            _envelope = Envelope(keys_from_config())
        return _envelope


def use_envelope(replacement: Envelope | None) -> Envelope | None:
    """Swap the process's envelope (tests: a KMS-backed one; None: built again from config on next use)."""
    global _envelope
    with _envelope_lock:
        previous, _envelope = _envelope, replacement
        return previous


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(VERSION + ":")


# --- the PynamoDB attribute --------------------------------------------------------

_owner: ContextVar[str | None] = ContextVar("micromall_pii_owner", default=None)


@contextmanager
def owned_by(owner: str | None):
    """Values sealed or read inside belong to `owner` (the models do this; an update action needs it too)."""
    token = _owner.set(owner)
    try:
        yield
    finally:
        _owner.reset(token)


class _Sealed:
    """A value as the table holds it, opened on first read (a handler that never reads it never calls KMS)."""
    __slots__ = ("value", "context", "_plain")

    def __init__(self, value: str, context: str) -> None:
        self.value, self.context, self._plain = value, context, None

    def open(self) -> str:
        if self._plain is None:
            self._plain = envelope().open(self.value, self.context)
        return self._plain


class EncryptedUnicodeAttribute(UnicodeAttribute):
    """A string stored sealed; `place` ("<table>.<attribute>") and the item's owner are its AAD.

    The owning model must mix in `OwnsPii`, which names the owner while the item is written or read.
    """

    def __init__(self, place: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.place = place

    def serialize(self, value: str) -> str:
        return envelope().seal(value, _context(self.place))

    def deserialize(self, value: str) -> Any:
        return _Sealed(value, _context(self.place)) if is_sealed(value) else value

    def __get__(self, instance: Any, owner: Any) -> Any:
        value = super().__get__(instance, owner)
        return value.open() if isinstance(value, _Sealed) else value


def _context(place: str) -> str:
    owner = _owner.get()
    if not owner:
        raise PiiError(f"{place}: personal data read or written outside its owner's item (use pii.owned_by)")
    return f"{place}|{owner}"


class OwnsPii:
    """Model mixin: the item's `pii_owner` attribute (default user_id) names the owner of its sealed values."""
    pii_owner = "user_id"

    def serialize(self, null_check: bool = True):
        with owned_by(getattr(self, self.pii_owner)):
            return super().serialize(null_check=null_check)

    def deserialize(self, attribute_values):
        with owned_by(_raw_owner(type(self), attribute_values)):
            return super().deserialize(attribute_values)

    @classmethod
    def from_raw_data(cls, data):
        with owned_by(_raw_owner(cls, data or {})):
            return super().from_raw_data(data)


def _raw_owner(model: Any, attribute_values: dict) -> str | None:
    attribute = model.get_attributes()[model.pii_owner]
    return (attribute_values.get(attribute.attr_name) or {}).get("S")
