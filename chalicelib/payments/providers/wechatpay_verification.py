"""Verifying what WeChat Pay sends the mall: notifications, and the answers to the mall's own calls.

Notifications are verified as specs/payments.md says, in this order:
1. the four `Wechatpay-Timestamp/-Nonce/-Signature/-Serial` headers are present (names
   case-insensitive); `Wechatpay-Signature-Type`, when sent, must be WECHATPAY2-SHA256-RSA2048;
2. the timestamp is within 300 s of the mall clock, before or after (replays, and probes with
   a forged future time);
3. the platform key named by `Wechatpay-Serial` (a certificate serial or a `PUB_KEY_ID_...`;
   several are held at once while WeChat rotates) verifies the RSA-SHA256 PKCS#1 v1.5
   signature over `timestamp\\nnonce\\nbody\\n`, body being the raw bytes as received;
4. the resource is decrypted with AES-256-GCM (key: the APIv3 key's UTF-8 bytes; nonce and
   associated data: UTF-8) and parsed.
Answers to our own calls carry the same signature headers and are verified the same way
(steps 1-3). Every refusal is a NotificationRejected naming its reason.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from chalicelib.core import clock, config
from chalicelib.payments.providers import NotificationRejected, load_public_key, lower_keys, rsa_verify
from chalicelib.payments.providers.wechatpay_parsing import json_object
from chalicelib.payments.providers.wechatpay_protocol import SIGNATURE_TYPE, aes_gcm_decrypt, signed_message

REPLAY_WINDOW_SECONDS = 300
SIGNED_HEADERS = ("wechatpay-timestamp", "wechatpay-nonce", "wechatpay-signature", "wechatpay-serial")
PUBLIC_KEY_ID_PREFIX = "PUB_KEY_ID_"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class PlatformKeys:
    """WeChat Pay's public keys by serial: certificate serials (hex) and `PUB_KEY_ID_...` ids alike."""

    def __init__(self, pems: Mapping[str, str]):
        if not pems:
            raise config.ConfigError("WeChat Pay needs at least one platform key")
        self._keys = {serial.upper(): _platform_key(serial, pem) for serial, pem in pems.items()}
        self.public_key_id = next((s for s in pems if s.upper().startswith(PUBLIC_KEY_ID_PREFIX)), None)

    @classmethod
    def from_json(cls, text: str) -> PlatformKeys:
        try:
            pems = json.loads(text)
        except ValueError:
            raise config.ConfigError("WeChat Pay platform keys must be a JSON object serial -> PEM") from None
        if not isinstance(pems, dict) or not all(isinstance(v, str) for v in pems.values()):
            raise config.ConfigError("WeChat Pay platform keys must be a JSON object serial -> PEM")
        return cls(pems)

    def get(self, serial: str) -> Any | None:
        return self._keys.get(serial.upper())


def _platform_key(serial: str, pem: str) -> Any:
    try:
        key = load_public_key(pem)
    except ValueError as exc:
        raise config.ConfigError(f"WeChat Pay platform key {serial}: {exc}") from None
    if "CERTIFICATE" in pem and _certificate_serial(pem) != serial.upper().lstrip("0"):
        # A certificate filed under another serial would make every notification UNKNOWN_SERIAL.
        raise config.ConfigError(f"WeChat Pay platform certificate filed as {serial} has another serial")
    return key


def _certificate_serial(pem: str) -> str:
    from cryptography import x509

    return f"{x509.load_pem_x509_certificate(pem.strip().encode()).serial_number:X}"


def verify_signature(platform_keys: PlatformKeys, headers: Mapping[str, str], body: bytes) -> None:
    """Steps 1-3 of the module docstring; raises NotificationRejected."""
    found = lower_keys(headers)
    missing = [name for name in SIGNED_HEADERS if not found.get(name)]
    if missing:
        raise NotificationRejected("MISSING_HEADERS", f"missing {', '.join(missing)}")
    signature_type = found.get("wechatpay-signature-type")
    if signature_type is not None and signature_type != SIGNATURE_TYPE:
        raise NotificationRejected("BAD_SIGNATURE", f"unsupported signature type {signature_type!r}")
    timestamp = found["wechatpay-timestamp"]
    check_timestamp(timestamp)
    key = platform_keys.get(found["wechatpay-serial"])
    if key is None:
        raise NotificationRejected("UNKNOWN_SERIAL", f"no platform key {found['wechatpay-serial']!r}")
    message = signed_message(timestamp, found["wechatpay-nonce"], body)
    if not rsa_verify(key, message, found["wechatpay-signature"]):
        raise NotificationRejected("BAD_SIGNATURE", "the signature does not match")


def check_timestamp(timestamp: str) -> None:
    """Step 2: a Unix time within REPLAY_WINDOW_SECONDS of the mall's clock."""
    if not _TIMESTAMP.fullmatch(timestamp):
        raise NotificationRejected("MALFORMED", f"Wechatpay-Timestamp {timestamp!r} is not a Unix time")
    skew = abs(clock.timestamp() - int(timestamp))
    if skew > REPLAY_WINDOW_SECONDS:
        raise NotificationRejected("STALE_TIMESTAMP", f"timestamp {timestamp} is {int(skew)} s from now")


def decrypt_resource(apiv3_key: str, resource: dict[str, Any]) -> dict[str, Any]:
    """Step 4: a notification's encrypted resource, decrypted and read as a JSON object."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise NotificationRejected("MALFORMED", f"unsupported algorithm {resource.get('algorithm')!r}")
    nonce, ciphertext = resource.get("nonce"), resource.get("ciphertext")
    associated_data = resource.get("associated_data") or ""  # may be empty or absent
    if not (isinstance(nonce, str) and isinstance(ciphertext, str) and isinstance(associated_data, str)):
        raise NotificationRejected("MALFORMED", "resource without nonce or ciphertext")
    try:
        plaintext = aes_gcm_decrypt(apiv3_key, nonce, associated_data, ciphertext)
    except ValueError as exc:
        raise NotificationRejected("BAD_CIPHERTEXT", str(exc)) from None
    return json_object(plaintext, "the decrypted resource")
