"""WeChat Pay API v3's signing and sealing primitives: the mall's client and the sandbox twin both use them.

Outbound calls carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=..,nonce_str=..,
signature=..,timestamp=..,serial_no=..`, signed with the merchant key over
`METHOD\\nPATH?QUERY\\ntimestamp\\nnonce\\nbody\\n`; notifications and answers are signed by
WeChat over `timestamp\\nnonce\\nbody\\n` (`wechatpay_verification` checks them), and a
notification's resource is sealed with AES-256-GCM under the APIv3 key. cryptography is
imported inside the functions that use it, so importing this module costs a cold start nothing.
"""
from __future__ import annotations

import base64
import datetime as _dt
import re
import secrets
import string
from typing import Any

from chalicelib.payments.providers import BEIJING, rsa_sign

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
_AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')
_NONCE_ALPHABET = string.ascii_uppercase + string.digits


def signed_message(*parts: str | bytes) -> bytes:
    """WeChat's signing input: each part followed by a newline; bodies as their exact bytes."""
    return b"".join((part.encode("utf-8") if isinstance(part, str) else part) + b"\n" for part in parts)


def new_nonce() -> str:
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(32))


def rfc3339(moment: _dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a time sent to WeChat Pay needs a timezone")
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


def aes_gcm_decrypt(apiv3_key: str, nonce: str, associated_data: str, ciphertext: str) -> bytes:
    """Raises ValueError when the ciphertext is not base64, the nonce unusable or the tag wrong."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(apiv3_key.encode("utf-8")).decrypt(nonce.encode("utf-8"),
                                                         base64.b64decode(ciphertext, validate=True),
                                                         associated_data.encode("utf-8"))
    except InvalidTag as exc:
        raise ValueError("AES-GCM tag mismatch (wrong key, nonce, associated data or ciphertext)") from exc


def aes_gcm_encrypt(apiv3_key: str, nonce: str, associated_data: str, plaintext: bytes) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = AESGCM(apiv3_key.encode("utf-8")).encrypt(nonce.encode("utf-8"), plaintext,
                                                        associated_data.encode("utf-8"))
    return base64.b64encode(sealed).decode("ascii")


def pay_sign(merchant_key: Any, app_id: str, timestamp: str, nonce: str, package: str) -> str:
    """`paySign` of wx.requestPayment: signType is not part of the signed string."""
    return rsa_sign(merchant_key, signed_message(app_id, timestamp, nonce, package))


def authorization(merchant_key: Any, mchid: str, serial: str, method: str, path: str, timestamp: str,
                  nonce: str, body: bytes) -> str:
    signature = rsa_sign(merchant_key, signed_message(method, path, timestamp, nonce, body))
    return (f'{SIGNATURE_TYPE} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
            f'timestamp="{timestamp}",serial_no="{serial}"')


def parse_authorization(header: str) -> dict[str, str] | None:
    """The fields of an Authorization header, or None when it is not WECHATPAY2-SHA256-RSA2048."""
    scheme, _, rest = header.partition(" ")
    if scheme != SIGNATURE_TYPE:
        return None
    return dict(_AUTH_FIELD.findall(rest))
