"""The WeChat access token, cached in DynamoDB and shared by every function that sends.

WeChat's token is valid 7,200 s and a mini-program has a daily quota of fetches; each
sender fetching its own would spend the quota and, with the old `/cgi-bin/token`,
invalidate the others' tokens. Here one item `token#<appid>` holds it, used until
`refresh_at` (`REFRESH_MARGIN` before WeChat's expiry; DynamoDB's TTL removes it at
expiry). When it is due, the one sender that takes the refresh lease (a conditional
write) fetches it from `stable_token`; the others wait a moment and read what it wrote.
A lease holder that dies leaves a lease that lapses after `LEASE_SECONDS`.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from chalicelib.core import clock, db, ids
from chalicelib.notify.models import NotifySetting
from chalicelib.notify.wechat import SubscribeApi

log = logging.getLogger("micromall.notify")

REFRESH_MARGIN = timedelta(minutes=10)  # WeChat renews the token 5 minutes before expiry; we refresh before that
LEASE_SECONDS = 10
WAIT_ROUNDS = 20
WAIT_SECONDS = 0.1


def _name(api: SubscribeApi) -> str:
    return f"token#{api.appid}"


def access_token(api: SubscribeApi, sleep=time.sleep) -> str:
    name = _name(api)
    cached = _fresh(name)
    if cached:
        return cached
    owner = ids.new_id()
    if _take_lease(name, owner):
        return _refresh(api, name, owner)
    for _ in range(WAIT_ROUNDS):  # another sender is refreshing it
        sleep(WAIT_SECONDS)
        cached = _fresh(name)
        if cached:
            return cached
    # The lease holder is slow or gone: stable_token hands us the same valid token, so asking is harmless.
    log.warning("access token refresh by another sender took too long; fetching it here")
    return api.stable_token().access_token


def _fresh(name: str) -> str | None:
    item = db.get_or_none(NotifySetting, name)
    if item is not None and item.access_token and item.refresh_at and clock.now() < item.refresh_at:
        return item.access_token
    return None


def _take_lease(name: str, owner: str) -> bool:
    now = clock.now()
    free = NotifySetting.lease_until.does_not_exist() | (NotifySetting.lease_until < now)
    # ... and still due: a sender that read the old token just before another stored the new one must not refresh.
    free &= NotifySetting.refresh_at.does_not_exist() | (NotifySetting.refresh_at <= now)
    try:
        NotifySetting(name).update(actions=[NotifySetting.lease_until.set(now + timedelta(seconds=LEASE_SECONDS)),
                                            NotifySetting.lease_owner.set(owner)], condition=free)
        return True
    except Exception as exc:
        if not db.condition_failed(exc):
            raise
        held = db.get_or_none(NotifySetting, name)  # our own lease, resent after its reply was lost?
        return held is not None and held.lease_owner == owner


def _refresh(api: SubscribeApi, name: str, owner: str) -> str:
    token = api.stable_token()
    now = clock.now()
    validity = timedelta(seconds=token.expires_in)
    margin = min(REFRESH_MARGIN, validity / 2)
    try:
        NotifySetting(name).update(actions=[
            NotifySetting.access_token.set(token.access_token), NotifySetting.refresh_at.set(now + validity - margin),
            NotifySetting.expires.set(now + validity), NotifySetting.updated_at.set(now),
            NotifySetting.lease_until.remove(), NotifySetting.lease_owner.remove()],
            condition=NotifySetting.lease_owner == owner)
    except Exception as exc:
        if not db.condition_failed(exc):
            raise
        log.info("access token lease lapsed before the refresh was stored; using the token fetched")
    return token.access_token


def forget(api: SubscribeApi, token: str) -> None:
    """WeChat called `token` invalid: drop it (unless another sender already replaced it)."""
    try:
        NotifySetting(_name(api)).update(actions=[NotifySetting.refresh_at.remove(),
                                                  NotifySetting.access_token.remove()],
                                         condition=NotifySetting.access_token == token)
    except Exception as exc:
        if not db.condition_failed(exc):
            raise
