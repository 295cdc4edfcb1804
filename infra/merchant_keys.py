"""`python -m infra merchant-keys --stage S`: the merchant's payment private keys into SSM, each checked first.

Where these keys enter the mall. The payments functions load them without OpenSSL's RSA
consistency check (`chalicelib.payments.providers.load_private_key`: the check costs
milliseconds of every cold start per key), so the full check happens here, once, before a key
is stored: a key that fails it (a damaged file, a password-protected key, a key that is not
RSA), or whose public half is not the certificate or public key given beside it, is refused
with the reason and nothing is stored. `--check` runs the same check over what SSM holds now
(a key put there by hand with `aws ssm put-parameter`).

    --wechatpay-key apiclient_key.pem [--wechatpay-cert apiclient_cert.pem]
                    -> <prefix>/wechatpay_merchant_private_key (the cert's serial is printed:
                       MALL_WECHATPAY_MERCHANT_SERIAL must be that serial)
    --alipay-key app_private_key.pem [--alipay-app-public-key app_public_key.pem]
                    -> <prefix>/alipay_app_private_key (the app public key is the one uploaded
                       to Alipay's console, not Alipay's own public key)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.cloud import InfraError, check_stage
from infra.stages import ssm_prefix

WECHATPAY_KEY = "wechatpay_merchant_private_key"
ALIPAY_KEY = "alipay_app_private_key"
MERCHANT_KEYS = (WECHATPAY_KEY, ALIPAY_KEY)


@dataclass(frozen=True)
class MerchantKey:
    """One private key to store: its secret's name, the key's text, and the certificate or public key beside it."""
    name: str  # WECHATPAY_KEY or ALIPAY_KEY
    private_pem: str
    public_pem: str | None = None
    source: str = ""  # where it came from, for messages


def from_files(name: str, key_file: Path, public_file: Path | None) -> MerchantKey:
    try:
        private_pem = key_file.read_text(encoding="ascii")
        public_pem = public_file.read_text(encoding="ascii") if public_file is not None else None
    except (OSError, UnicodeDecodeError) as exc:
        raise InfraError(f"{name}: cannot read {exc.filename if isinstance(exc, OSError) else key_file}: {exc}") \
            from exc
    return MerchantKey(name, private_pem, public_pem, source=str(key_file))


def check_key(key: MerchantKey) -> str:
    """What `key` will be stored as (its text, stripped), after the full check; InfraError says why not."""
    from chalicelib.payments.providers import KeyRefused, checked_private_key

    try:
        checked_private_key(key.private_pem, public=key.public_pem)
    except KeyRefused as exc:
        raise InfraError(f"{key.name} ({key.source or 'given'}) refused: {exc}") from exc
    return key.private_pem.strip()


def certificate_serial(certificate_pem: str) -> str | None:
    """A certificate's serial as WeChat Pay writes it (upper-case hex); None for a bare public key."""
    from cryptography import x509

    text = certificate_pem.strip()
    if not text.startswith("-----BEGIN CERTIFICATE"):
        return None
    return format(x509.load_pem_x509_certificate(text.encode()).serial_number, "X")


def put_merchant_keys(stage: str, keys: list[MerchantKey], *, ssm: Any = None, region: str | None = None,
                      say: Callable[[str], None] = print) -> None:
    """Check every key, then (only when all pass) store each as a SecureString under the stage's environment."""
    if not keys:
        raise InfraError("no key given: --wechatpay-key and/or --alipay-key")
    prefix = ssm_prefix(check_stage(stage))
    try:
        checked = [(key, check_key(key)) for key in keys]  # all of them before any is stored
    except InfraError as exc:
        raise InfraError(f"{exc}; nothing was stored") from exc
    ssm = ssm or _ssm(region)
    for key, text in checked:
        name = f"{prefix}/{key.name}"
        ssm.put_parameter(Name=name, Value=text, Type="SecureString", Overwrite=True)
        say(f"{name}: checked and stored")
        serial = certificate_serial(key.public_pem) if key.name == WECHATPAY_KEY and key.public_pem else None
        if serial is not None:
            say(f"  its certificate's serial is {serial}: MALL_WECHATPAY_MERCHANT_SERIAL must be this serial")
    say("running functions read secrets again within 5 minutes (docs/RUNBOOK.md: recycle them to apply at once)")


def check_stored_keys(stage: str, *, ssm: Any = None, region: str | None = None,
                      say: Callable[[str], None] = print) -> int:
    """The full check over the merchant keys SSM holds for the stage: 0 when every stored key passes (a key not
    stored is reported, not failed: a shop may use one provider), 1 when one fails."""
    prefix = ssm_prefix(check_stage(stage))
    ssm = ssm or _ssm(region)
    failed = 0
    for name in MERCHANT_KEYS:
        parameter = f"{prefix}/{name}"
        try:
            value = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            say(f"{parameter}: not stored")
            continue
        try:
            check_key(MerchantKey(name, value, source=parameter))
        except InfraError as exc:
            failed += 1
            say(str(exc))
            continue
        say(f"{parameter}: passes the full check")
    return 1 if failed else 0


def _ssm(region: str | None) -> Any:
    from infra.cloud import session_for

    return session_for(region).client("ssm")
