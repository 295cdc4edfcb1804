"""Money, ids, the clock, configuration and tokens."""
from __future__ import annotations

import datetime as dt

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core import auth, clock, config, ids, money
from chalicelib.core.clock import FrozenClock


@given(st.integers(min_value=0, max_value=money.MAX_FEN))
def test_fen_to_yuan_and_back_is_exact(fen):
    assert money.yuan_to_fen(money.fen_to_yuan(fen)) == fen


@pytest.mark.parametrize("yuan, fen", [("0", 0), ("0.01", 1), ("12.3", 1230), ("12.30", 1230), ("100", 10000)])
def test_yuan_strings_convert_to_fen(yuan, fen):
    assert money.yuan_to_fen(yuan) == fen


@pytest.mark.parametrize("bad", ["-1", "1.234", "1e3", "", " 1", "01.00", "abc", 12.3, None])
def test_malformed_yuan_is_refused(bad):
    with pytest.raises(ValueError):
        money.yuan_to_fen(bad)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "100", money.MAX_FEN + 1])
def test_only_non_negative_int_fen_are_amounts(bad):
    with pytest.raises(ValueError):
        money.check_fen(bad)


def test_ids_are_valid_out_trade_no_and_sort_by_the_mall_clock():
    frozen = FrozenClock("2026-11-25T00:00:00Z")
    previous = clock.use(frozen)
    try:
        first = ids.new_id()
        frozen.advance(seconds=1)
        second = ids.new_id()
    finally:
        clock.use(previous)
    assert ids.is_out_trade_no(first) and len(first) == 26
    assert first < second


def test_frozen_clock_moves_only_when_told():
    frozen = FrozenClock("2026-11-25T00:00:00Z")
    assert frozen.now() == frozen.now()
    frozen.advance(minutes=15)
    assert clock.iso(frozen.now()) == "2026-11-25T00:15:00.000Z"
    with pytest.raises(ValueError):
        clock.parse_iso("2026-11-25T00:00:00")  # no timezone: ambiguous


def test_features_come_from_mall_features(monkeypatch):
    monkeypatch.setenv("MALL_FEATURES", "catalog, cart")
    assert config.enabled_features() == ("catalog", "cart")
    monkeypatch.setenv("MALL_FEATURES", "all")
    assert config.enabled_features() == config.ALL_FEATURES
    monkeypatch.setenv("MALL_FEATURES", "catalog,payroll")
    with pytest.raises(config.ConfigError, match="payroll"):
        config.enabled_features()


def test_secrets_come_from_env_first_then_ssm(aws, monkeypatch):
    config.secret.cache_clear()
    monkeypatch.setenv("MALL_SSM_PREFIX", "/micromall-test")
    boto3.client("ssm").put_parameter(Name="/micromall-test/wechat_app_secret", Value="from-ssm",
                                      Type="SecureString")
    monkeypatch.delenv("MALL_WECHAT_APP_SECRET", raising=False)
    try:
        assert config.secret("wechat_app_secret") == "from-ssm"
        config.secret.cache_clear()
        monkeypatch.setenv("MALL_WECHAT_APP_SECRET", "from-env")
        assert config.secret("wechat_app_secret") == "from-env"
    finally:
        config.secret.cache_clear()


def test_a_rotated_secret_is_read_again_after_five_minutes(aws, monkeypatch, frozen_clock):
    """WeChat rotates its platform key: a warm function must pick the new one up within the documented 5 minutes."""
    config.secret.cache_clear()
    monkeypatch.setenv("MALL_SSM_PREFIX", "/micromall-test")
    monkeypatch.delenv("MALL_WECHATPAY_PLATFORM_KEYS", raising=False)
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/micromall-test/wechatpay_platform_keys", Value="old", Type="SecureString")
    try:
        assert config.secret("wechatpay_platform_keys") == "old"
        ssm.put_parameter(Name="/micromall-test/wechatpay_platform_keys", Value="new", Type="SecureString",
                          Overwrite=True)
        frozen_clock.advance(299)
        assert config.secret("wechatpay_platform_keys") == "old", "cached for 5 minutes: one SSM call per 5 minutes"
        frozen_clock.advance(2)
        assert config.secret("wechatpay_platform_keys") == "new", "a rotated secret must be read again"
    finally:
        config.secret.cache_clear()


def test_a_missing_secret_is_a_config_error(monkeypatch):
    config.secret.cache_clear()
    monkeypatch.delenv("MALL_SSM_PREFIX", raising=False)
    monkeypatch.delenv("MALL_NOPE", raising=False)
    with pytest.raises(config.ConfigError):
        config.secret("nope")


def test_tokens_carry_subject_and_role(frozen_clock):
    principal = auth.authenticate({"authorization": f"Bearer {auth.issue_staff_token('li', 'operator')}"},
                                  auth.STAFF)
    assert principal == auth.Principal("li", "operator") and principal.is_staff
    with pytest.raises(ValueError):
        auth.issue_staff_token("li", "buyer")


def test_tokens_expire_by_the_mall_clock(frozen_clock):
    token = auth.issue_buyer_token("U1")
    frozen_clock.advance(auth.BUYER_TOKEN_SECONDS - 1)
    assert auth.authenticate({"authorization": f"Bearer {token}"}, auth.BUYER).subject == "U1"
    frozen_clock.advance(dt.timedelta(seconds=2).total_seconds())
    with pytest.raises(Exception) as raised:
        auth.authenticate({"authorization": f"Bearer {token}"}, auth.BUYER)
    assert raised.value.status == 401


def test_tokens_are_judged_by_the_mall_clock_even_far_from_the_wall_clock():
    frozen = FrozenClock("2031-01-01T00:00:00Z")  # years after any real "now"
    previous = clock.use(frozen)
    try:
        token = auth.issue_buyer_token("U1")
        frozen.advance(hours=1)
        assert auth.authenticate({"authorization": f"Bearer {token}"}, auth.BUYER).subject == "U1"
    finally:
        clock.use(previous)
