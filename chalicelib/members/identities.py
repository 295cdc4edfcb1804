"""Finding a buyer by any of their identities, and creating one exactly once.

A buyer may log in from the mini-program (its openid), from the storefront in WeChat's browser (the official
account's openid) and from another phone browser (their Alipay user_id). Each identity is a claim in the
`user_openids` table (`OpenidClaim`: key -> user_id), written with attribute_not_exists, so two concurrent first
logins of one identity make one buyer. Mini-program openids are stored bare (as before); the others carry a
prefix no WeChat openid has (`unionid:`, `wechat-oa:`, `alipay:`; openids are [A-Za-z0-9_-]). WeChat gives the
same unionid to one person in every app bound to the merchant's open platform: the mini-program and the official
account share a buyer through the `unionid:` claim. Without a unionid they are separate buyers.

The claims a buyer holds besides the mini-program openid are listed on the user (`linked_claims`), so deleting
the account (members/privacy.py) releases every one of them.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

from chalicelib.core import clock, db, ids
from chalicelib.core.errors import ServiceUnavailable
from chalicelib.members.models import OpenidClaim, UserModel

log = logging.getLogger("micromall.members")

WEB_NICKNAME = "微信用户"  # what WeChat shows for a user whose nickname it no longer hands out
NICKNAMES = {"wechat": WEB_NICKNAME, "alipay": "支付宝用户"}
STARTING_LEVEL = 1
SIGN_IN_ATTEMPTS = 5  # read-decide-commit rounds before a login this contended answers 503 BUSY


def owners(keys: Sequence[str]) -> dict[str, str]:
    """claim key -> user_id, for the keys that are claimed (one consistent BatchGetItem)."""
    return {claim.openid: claim.user_id for claim in db.batch_get(OpenidClaim, [(key,) for key in keys],
                                                                  consistent=True)}


def sign_in(keys: Sequence[str], *, unionid: str | None = None, openid: str = "", session_key: str = "",
            nickname: str = WEB_NICKNAME) -> UserModel:
    """The buyer one of `keys` is claimed by (the first claimed key decides), every unclaimed key now claimed for
    them too; or a new buyer holding all of them. `openid` and `session_key`: a mini-program login's, kept on the
    user (a buyer first seen on the web gets their mini-program openid at their first mini-program login)."""
    def attempt() -> UserModel | None:
        claimed = owners(keys)
        owner = next((claimed[key] for key in keys if key in claimed), None)
        if owner is None:
            return _create(keys, unionid=unionid, openid=openid, session_key=session_key, nickname=nickname)
        return _link(owner, [key for key in keys if key not in claimed], unionid=unionid, openid=openid,
                     session_key=session_key)

    return db.until_committed(attempt, attempts=SIGN_IN_ATTEMPTS, gives_up=lambda: ServiceUnavailable(
        "this login is racing others, retry shortly", code="BUSY"))


def _create(keys: Sequence[str], *, unionid: str | None, openid: str, session_key: str,
            nickname: str) -> UserModel | None:
    now = clock.now()
    user = UserModel(ids.new_id(), openid=openid, unionid=unionid, session_key=session_key, nickname=nickname,
                     level=STARTING_LEVEL, growth=0, points=0, created_at=now, last_login_at=now,
                     linked_claims=_linked(keys, openid) or None)

    def write(tx) -> None:
        for key in keys:
            tx.save(OpenidClaim(key, user_id=user.user_id), condition=OpenidClaim.openid.does_not_exist())
        tx.save(user, condition=UserModel.user_id.does_not_exist())

    # A lost reply's resend fails on its own claims: the first key naming this very user means it committed.
    committed = db.commit_if_conditions_hold(write, committed_already=lambda: owners(keys[:1]).get(keys[0]) == user.user_id)
    return user if committed else None


def _link(user_id: str, missing: Sequence[str], *, unionid: str | None, openid: str,
          session_key: str) -> UserModel | None:
    from chalicelib.members.service import _load_user

    user = _load_user(user_id)
    now = clock.now()
    actions = [UserModel.last_login_at.set(now)]
    if openid and not user.openid:  # a web buyer's first mini-program login: payments and messages need it
        actions.append(UserModel.openid.set(openid))
    if session_key:
        actions.append(UserModel.session_key.set(session_key))
    if unionid and unionid != user.unionid:
        actions.append(UserModel.unionid.set(unionid))
    linked = _linked(missing, openid)
    if linked:
        actions.append(UserModel.linked_claims.add(linked))

    def write(tx) -> None:
        for key in missing:
            tx.save(OpenidClaim(key, user_id=user_id), condition=OpenidClaim.openid.does_not_exist())
        tx.update(UserModel(user_id), actions=actions, condition=UserModel.deleted_at.does_not_exist())

    if not db.commit_if_conditions_hold(write, committed_already=lambda: all(
            owners(missing).get(key) == user_id for key in missing) if missing else False):
        return None
    user.refresh(consistent_read=True)
    return user


def _linked(keys: Sequence[str], openid: str) -> set[str]:
    return {key for key in keys if key != openid}


def claim_unionid(user: UserModel, unionid: str) -> None:
    """A returning mini-program buyer's unionid, claimed for them if nobody holds it (their account may predate
    unionid claims); held by another buyer (who logged in on the web first) it stays theirs: logged, not merged."""
    from chalicelib.members.web_auth import unionid_claim

    key = unionid_claim(unionid)
    if key in (user.linked_claims or ()):
        return

    def write(tx) -> None:
        tx.save(OpenidClaim(key, user_id=user.user_id), condition=OpenidClaim.openid.does_not_exist())
        tx.update(UserModel(user.user_id), actions=[UserModel.linked_claims.add({key})],
                  condition=UserModel.user_id.exists())

    if not db.commit_if_conditions_hold(write) and owners([key]).get(key) != user.user_id:
        log.warning("unionid of buyer %s is claimed by another buyer: two accounts for one person", user.user_id)
