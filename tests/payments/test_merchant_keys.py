"""Merchant private keys enter the mall through `python -m infra merchant-keys`, which checks each in full before
storing it in SSM: the payments functions then load it without OpenSSL's consistency check (cold starts).

Real keys and certificates, made here; SSM is moto's."""
from __future__ import annotations

import datetime as dt

import boto3
import pytest
from moto import mock_aws

from infra.cloud import InfraError
from infra.merchant_keys import (
    ALIPAY_KEY,
    WECHATPAY_KEY,
    MerchantKey,
    check_stored_keys,
    from_files,
    put_merchant_keys,
)

PREFIX = "/micromall/prod"  # the payments stage's environment


def new_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def public_pem(key) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def certificate_pem(key, serial: int = 0x5E1A2B3C4D) -> str:
    """A self-signed certificate of `key`, shaped like WeChat Pay's apiclient_cert.pem."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "1900000001")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(serial).not_valid_before(now).not_valid_after(now + dt.timedelta(days=365))
                   .sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def inconsistent_pem(key) -> str:
    """The key with its private exponent off by two: it parses, and signs garbage; only the full check sees it."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateNumbers

    numbers = key.private_numbers()
    broken = RSAPrivateNumbers(p=numbers.p, q=numbers.q, d=numbers.d + 2, dmp1=numbers.dmp1, dmq1=numbers.dmq1,
                               iqmp=numbers.iqmp, public_numbers=numbers.public_numbers)
    return private_pem(broken.private_key(unsafe_skip_rsa_key_validation=True))


@pytest.fixture
def ssm():
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def stored(ssm) -> dict[str, str]:
    found = ssm.get_parameters_by_path(Path=PREFIX, WithDecryption=True)["Parameters"]
    return {item["Name"]: item["Value"] for item in found}


def test_a_good_key_with_its_certificate_is_stored_and_signs_at_run_time(ssm):
    from chalicelib.payments.providers import load_private_key, load_public_key, rsa_sign, rsa_verify

    key, said = new_key(), []
    put_merchant_keys("payments", [MerchantKey(WECHATPAY_KEY, private_pem(key), certificate_pem(key))], ssm=ssm,
                      say=said.append)
    value = stored(ssm)[f"{PREFIX}/{WECHATPAY_KEY}"]
    assert value == private_pem(key).strip()
    assert any("serial is 5E1A2B3C4D" in line for line in said), said
    signature = rsa_sign(load_private_key(value), b"GET\n/v3/pay\n")
    assert rsa_verify(load_public_key(certificate_pem(key)), b"GET\n/v3/pay\n", signature)


def test_an_inconsistent_key_is_refused_at_entry_though_the_run_time_loader_would_take_it(ssm):
    from chalicelib.payments.providers import load_private_key

    damaged = inconsistent_pem(new_key())
    load_private_key(damaged)  # what a function would do with it: no check, so the check must come first
    with pytest.raises(InfraError, match="not a valid RSA private key.*nothing was stored"):
        put_merchant_keys("payments", [MerchantKey(ALIPAY_KEY, damaged)], ssm=ssm, say=lambda _: None)
    assert stored(ssm) == {}


@pytest.mark.parametrize("damage", ["truncated", "not a key", "public key", "password"])
def test_unreadable_keys_are_refused_with_the_reason(ssm, damage):
    from cryptography.hazmat.primitives import serialization

    key = new_key()
    text = {"truncated": private_pem(key)[:900],
            "not a key": "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
            "public key": public_pem(key),
            "password": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.BestAvailableEncryption(b"secret")).decode("ascii")}[damage]
    with pytest.raises(InfraError, match=f"{WECHATPAY_KEY} .*refused: not a valid RSA private key"):
        put_merchant_keys("payments", [MerchantKey(WECHATPAY_KEY, text)], ssm=ssm, say=lambda _: None)
    assert stored(ssm) == {}


@pytest.mark.parametrize("beside", ["certificate", "public key"])
def test_a_key_that_is_not_the_pair_of_what_is_given_beside_it_is_refused(ssm, beside):
    key, other = new_key(), new_key()
    public = certificate_pem(other) if beside == "certificate" else public_pem(other)
    with pytest.raises(InfraError, match="does not belong to the certificate or public key given beside it"):
        put_merchant_keys("payments", [MerchantKey(WECHATPAY_KEY, private_pem(key), public)], ssm=ssm,
                          say=lambda _: None)
    assert stored(ssm) == {}


def test_one_bad_key_stores_none_of_them(ssm):
    good, bad = new_key(), inconsistent_pem(new_key())
    with pytest.raises(InfraError, match=ALIPAY_KEY):
        put_merchant_keys("payments", [MerchantKey(WECHATPAY_KEY, private_pem(good), certificate_pem(good)),
                                       MerchantKey(ALIPAY_KEY, bad)], ssm=ssm, say=lambda _: None)
    assert stored(ssm) == {}, "checked all before storing any"


def test_check_reports_what_ssm_holds(ssm):
    said: list[str] = []
    assert check_stored_keys("payments", ssm=ssm, say=said.append) == 0, said
    assert said == [f"{PREFIX}/{WECHATPAY_KEY}: not stored", f"{PREFIX}/{ALIPAY_KEY}: not stored"]
    ssm.put_parameter(Name=f"{PREFIX}/{WECHATPAY_KEY}", Value=private_pem(new_key()), Type="SecureString")
    ssm.put_parameter(Name=f"{PREFIX}/{ALIPAY_KEY}", Value=inconsistent_pem(new_key()), Type="SecureString")
    said.clear()
    assert check_stored_keys("payments", ssm=ssm, say=said.append) == 1, said
    assert said[0] == f"{PREFIX}/{WECHATPAY_KEY}: passes the full check"
    assert said[1].startswith(f"{ALIPAY_KEY} ({PREFIX}/{ALIPAY_KEY}) refused: not a valid RSA private key"), said


def test_the_command_stores_checked_files_and_refuses_a_mismatch(ssm, tmp_path, capsys):
    from infra.__main__ import main

    key, other = new_key(), new_key()
    (tmp_path / "apiclient_key.pem").write_text(private_pem(key))
    (tmp_path / "apiclient_cert.pem").write_text(certificate_pem(key))
    (tmp_path / "other_cert.pem").write_text(certificate_pem(other))
    base = ["merchant-keys", "--stage", "payments", "--region", "us-east-1",
            "--wechatpay-key", str(tmp_path / "apiclient_key.pem")]
    assert main([*base, "--wechatpay-cert", str(tmp_path / "other_cert.pem")]) == 1
    assert "does not belong to the certificate" in capsys.readouterr().err and stored(ssm) == {}
    assert main([*base, "--wechatpay-cert", str(tmp_path / "apiclient_cert.pem")]) == 0
    assert f"{PREFIX}/{WECHATPAY_KEY}: checked and stored" in capsys.readouterr().out
    assert main(["merchant-keys", "--stage", "payments", "--region", "us-east-1", "--check"]) == 0


def test_the_command_needs_a_readable_key_file_and_a_known_stage(ssm, tmp_path):
    with pytest.raises(InfraError, match="cannot read"):
        from_files(WECHATPAY_KEY, tmp_path / "missing.pem", None)
    with pytest.raises(InfraError, match="unknown stage"):
        put_merchant_keys("nowhere", [MerchantKey(WECHATPAY_KEY, private_pem(new_key()))], ssm=ssm)
    with pytest.raises(InfraError, match="no key given"):
        put_merchant_keys("payments", [], ssm=ssm)
