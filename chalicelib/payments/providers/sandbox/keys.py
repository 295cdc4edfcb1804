"""The sandbox's keys: generated once into `<MALL_SANDBOX_KEYS_DIR>/sandbox.json`, read on every use.

The layout is specs/api.md "Local stack configuration":
`{"wechatpay": {"appid", "mchid", "apiv3_key", "platform_serial",
"platform_private_key_pem", "merchant_serial", "merchant_private_key_pem"},
"alipay": {"app_id", "seller_id", "alipay_private_key_pem", "app_private_key_pem"}}`.
The provider-side private keys are there so a tester can sign notifications too.
"""
from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import asdict, dataclass
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

from chalicelib.core import config
from chalicelib.payments.providers import load_private_key

KEYS_FILE = "sandbox.json"
TRADES_FILE = "sandbox-trades.json"
DEFAULT_KEYS_DIR = ".local/keys"
RSA_BITS = 2048
_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True)
class WeChatPayKeys:
    appid: str
    mchid: str
    apiv3_key: str
    platform_serial: str
    platform_private_key_pem: str
    merchant_serial: str
    merchant_private_key_pem: str

    def platform_public_key_pem(self) -> str:
        return public_pem(self.platform_private_key_pem)


@dataclass(frozen=True)
class AlipayKeys:
    app_id: str
    seller_id: str
    alipay_private_key_pem: str
    app_private_key_pem: str

    def alipay_public_key_pem(self) -> str:
        return public_pem(self.alipay_private_key_pem)


@dataclass(frozen=True)
class SandboxKeys:
    directory: Path
    wechatpay: WeChatPayKeys
    alipay: AlipayKeys

    @property
    def trades_path(self) -> Path:
        return self.directory / TRADES_FILE


def keys_directory() -> Path:
    return Path(config.env("MALL_SANDBOX_KEYS_DIR", DEFAULT_KEYS_DIR))


def load_sandbox_keys() -> SandboxKeys:
    """The sandbox keys of this checkout (`MALL_SANDBOX_KEYS_DIR`), generated on first use."""
    return ensure_sandbox_keys(keys_directory())


def ensure_sandbox_keys(directory: Path) -> SandboxKeys:
    """The keys in `<directory>/sandbox.json`, generating them if the file does not exist yet."""
    path = directory / KEYS_FILE
    if not path.exists():
        _write_once(path, json.dumps(_generate_keys(), indent=2) + "\n")
    return _read_keys(directory)


def _generate_keys() -> dict[str, dict[str, str]]:
    wechatpay = WeChatPayKeys(
        appid="wx" + secrets.token_hex(8), mchid="19" + digits(8), apiv3_key=alnum(32),
        platform_serial="PUB_KEY_ID_01" + digits(26), platform_private_key_pem=new_private_key_pem(),
        merchant_serial=secrets.token_hex(20).upper(), merchant_private_key_pem=new_private_key_pem())
    alipay = AlipayKeys(app_id="2021" + digits(12), seller_id="2088" + digits(12),
                        alipay_private_key_pem=new_private_key_pem(), app_private_key_pem=new_private_key_pem())
    return {"wechatpay": asdict(wechatpay), "alipay": asdict(alipay)}


def _write_once(path: Path, text: str) -> None:
    """Create `path` readable by its owner only, complete or not at all; if another process won, keep theirs."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o600)  # whatever the umask
        os.link(temporary, path)  # fails if the file exists: the first writer's keys stay
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _read_keys(directory: Path) -> SandboxKeys:
    path = directory / KEYS_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return SandboxKeys(directory=directory, wechatpay=_section(WeChatPayKeys, document["wechatpay"]),
                           alipay=_section(AlipayKeys, document["alipay"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise config.ConfigError(f"{path} is not a sandbox key file ({exc}); delete it to generate new keys") from None


def _section(kind: type, values: dict[str, Any]) -> Any:
    names = [item.name for item in dataclass_fields(kind)]
    if not all(isinstance(values.get(name), str) and values[name] for name in names):
        raise ValueError(f"{kind.__name__} needs {', '.join(names)}")
    return kind(**{name: values[name] for name in names})


def new_private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def public_pem(private_key_pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    public = load_private_key(private_key_pem).public_key()
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def digits(count: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(count))


def alnum(count: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(count))
