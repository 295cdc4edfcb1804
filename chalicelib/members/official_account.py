"""The shop's WeChat official account (公众号) as the storefront in WeChat's browser uses it: its appid, which the
web login authorizes with (members/web_auth.py) and WeChat Pay in WeChat's browser prepays under (payments), and the
claim a buyer's openid under it is held by. Its own module, with nothing but the configuration, so payments'
cold starts do not load the web login."""
from __future__ import annotations

from chalicelib.core import config

CLAIM_PREFIX = "wechat-oa:"  # + the buyer's openid under the official account (members/identities.py)
# Not an appid WeChat issues (those are wx + 16 hex digits): the storefront knows the sandbox's cashier by it.
SANDBOX_APPID = "wx-sandbox-official-account"


def appid() -> str | None:
    """`MALL_WECHAT_OA_APPID` (the sandbox's own in sandbox mode), or None when the shop has no official account."""
    return SANDBOX_APPID if config.is_sandbox() else config.env("MALL_WECHAT_OA_APPID")
