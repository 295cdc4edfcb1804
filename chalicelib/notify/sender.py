"""The sender: one queue message names one outbox item; the item decides whether WeChat is called.

Per item, in order:
1. Not PENDING any more: done already (a redelivered message), nothing is called.
2. Spend a credit: one transaction takes a credit of (user, template) on condition
   `credits > 0` and marks the item `credit_spent` with a claim. No credit: the
   item is NOT_SUBSCRIBED and WeChat is not called. A credit is spent once per item:
   a retry after a transient failure reuses it.
3. The claim (written before the call) says an attempt is calling WeChat. Then the
   call, then the mark: SENT (with WeChat's msgid), FAILED (a permanent refusal,
   never retried), or, when WeChat answered that it did not send (busy, rate limit,
   token expired) or could not be reached, the claim is released and the message is
   retried with backoff, then dead-lettered by the queue's redrive policy.

A crash (or a lost answer) between the call and the mark leaves the claim. The
message comes back, finds a claim older than any attempt can live, and cannot know
whether WeChat delivered: it records the item FAILED with `OUTCOME_UNKNOWN` and does
not call again. Sends are **at most once**: a subscribe message spends the buyer's
one-time permission at WeChat, and a second copy would spend one granted for another
message; a lost one is visible to the merchant (FAILED, metric NotificationFailed).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.core import clock, config, db, ids, metrics
from chalicelib.notify import tokens, wechat
from chalicelib.notify.models import FAILED, NOT_SUBSCRIBED, PENDING, SENT, NotificationModel, SubscriptionModel

log = logging.getLogger("micromall.notify")

# An attempt cannot outlive its Lambda (the sender's timeout is 60 s): a claim older than this is a dead one.
CLAIM_SECONDS = 120
MAX_BACKOFF_SECONDS = 900
MINIPROGRAM_STATE = {"live": "formal", "sandbox": "developer"}


class RetryLater(Exception):
    """The item could not be sent now and nothing was sent: its message comes back later."""


@dataclass(frozen=True)
class Outcome:
    status: str
    called: bool = False


def retry_base_seconds() -> int:
    return config.env_int("MALL_NOTIFY_RETRY_SECONDS", 30)


def backoff_seconds(receive_count: int) -> int:
    """Delay before the next receive: 30 s, 60 s, 120 s, ... (MALL_NOTIFY_RETRY_SECONDS doubles), at most 15 min."""
    return min(MAX_BACKOFF_SECONDS, retry_base_seconds() * 2 ** max(0, receive_count - 1))


def send_batch(records: list[Any], api: wechat.SubscribeApi | None = None) -> list[str]:
    """Send what each SQS record names; returns the message ids to receive again (partial batch failure)."""
    api = api or wechat.client()
    failed = []
    for record in records:
        message = record.to_dict()
        try:
            send(json.loads(message["body"])["event_key"], api)
        except RetryLater as exc:
            log.info("notification message %s retried later: %s", message["messageId"], exc)
            failed.append(message["messageId"])
            _postpone(record, int(message.get("attributes", {}).get("ApproximateReceiveCount", 1)))
        except (ValueError, KeyError, TypeError):
            log.error("notification message %s is not one the relay wrote; dropped", message["messageId"])
        except Exception:  # noqa: BLE001 - one item's failure must not fail the others' sends
            log.exception("notification message %s failed", message["messageId"])
            failed.append(message["messageId"])
    return failed


def _postpone(record: Any, receive_count: int) -> None:
    from chalicelib.notify import outbox

    client = outbox.sqs()
    try:
        client.change_message_visibility(QueueUrl=outbox.queue_url(client), ReceiptHandle=record.receipt_handle,
                                         VisibilityTimeout=backoff_seconds(receive_count))
    except Exception:  # noqa: BLE001 - the queue's own visibility timeout brings it back anyway
        log.warning("could not postpone a notification message; it returns after the queue's timeout")


def send(key: str, api: wechat.SubscribeApi) -> Outcome:
    item = db.get_or_none(NotificationModel, key)
    if item is None:
        log.warning("notification %s not found; nothing to send", key)
        return Outcome("MISSING")
    if item.status != PENDING:
        return Outcome(item.status)
    if item.claim:
        return _resolve_dead_claim(item)
    from chalicelib.members import service as members  # lazy: the sender's one read of another feature

    openid = members.openid_of(item.user_id)
    if openid is None:
        return _finish(item, None, FAILED, error=("NO_OPENID", "the recipient has no WeChat openid"))
    claim = ids.new_id()
    if not _claim(item, claim):
        return Outcome(NOT_SUBSCRIBED if _mark_not_subscribed(item) else _current(key))
    return _call(item, claim, openid, api)


def _call(item: NotificationModel, claim: str, openid: str, api: wechat.SubscribeApi) -> Outcome:
    message = {"touser": openid, "template_id": item.template_id, "data": item.data.as_dict(),
               "miniprogram_state": MINIPROGRAM_STATE[config.providers_mode()], "lang": "zh_CN"}
    if item.page:
        message["page"] = item.page
    try:
        token = tokens.access_token(api)
    except Exception as exc:  # WeChat or DynamoDB: WeChat was not called, so the claim must not stay
        _release(item, claim, str(getattr(exc, "errcode", "TOKEN")), str(exc))
        raise RetryLater(f"no access token: {exc}") from None
    try:
        msgid = api.send(token, message)
    except wechat.Refused as exc:
        if exc.token_invalid:
            tokens.forget(api, token)
        if not exc.permanent:
            _release(item, claim, str(exc.errcode), exc.errmsg or str(exc))
            raise RetryLater(str(exc)) from None
        metrics.count("NotificationFailed", kind=item.kind, reason=str(exc.errcode))
        return _finish(item, claim, FAILED, error=(str(exc.errcode), exc.errmsg), called=True)
    except wechat.OutcomeUnknown as exc:
        metrics.count("NotificationFailed", kind=item.kind, reason="OUTCOME_UNKNOWN")
        return _finish(item, claim, FAILED, error=("OUTCOME_UNKNOWN", str(exc)), called=True)
    metrics.count("NotificationSent", kind=item.kind)
    return _finish(item, claim, SENT, msgid=msgid, called=True)


def _claim(item: NotificationModel, claim: str) -> bool:
    """Claim the item for one call, spending a credit unless it holds one; False: no credit (or lost a race)."""
    now = clock.now()
    unclaimed = (NotificationModel.status == PENDING) & NotificationModel.claim.does_not_exist()
    claimed = [NotificationModel.claim.set(claim), NotificationModel.claimed_at.set(now),
               NotificationModel.attempts.add(1), NotificationModel.updated_at.set(now)]
    if item.credit_spent:
        try:
            item.update(actions=claimed, condition=unclaimed)
            return True
        except Exception as exc:
            if not db.condition_failed(exc):
                raise
            if _claimed_by(item.event_key, claim):  # our own write, resent after its reply was lost
                return True
            raise RetryLater("another attempt claimed it first") from None

    def build(tx: Any) -> None:
        tx.update(SubscriptionModel(item.user_id, item.template_id),
                  actions=[SubscriptionModel.credits.add(-1), SubscriptionModel.updated_at.set(now)],
                  condition=SubscriptionModel.credits > 0)
        tx.update(item, actions=[*claimed, NotificationModel.credit_spent.set(True)],
                  condition=unclaimed & (NotificationModel.credit_spent == False))  # noqa: E712 - PynamoDB condition

    return db.commit_if_conditions_hold(build, committed_already=lambda: _claimed_by(item.event_key, claim))


def _claimed_by(key: str, claim: str) -> bool:
    """Whether the claim on the item is `claim`: a resent write that failed its condition on its own commit."""
    current = db.get_or_none(NotificationModel, key)
    return current is not None and current.claim == claim


def _mark_not_subscribed(item: NotificationModel) -> bool:
    """No credit was there to spend: NOT_SUBSCRIBED, unless the item moved meanwhile (then its news stands)."""
    now = clock.now()
    try:
        item.update(actions=[NotificationModel.status.set(NOT_SUBSCRIBED), NotificationModel.updated_at.set(now)],
                    condition=(NotificationModel.status == PENDING) & NotificationModel.claim.does_not_exist()
                    & (NotificationModel.credit_spent == False))  # noqa: E712
        metrics.count("NotificationNotSubscribed", kind=item.kind)
        return True
    except Exception as exc:
        if not db.condition_failed(exc):
            raise
        return False


def _current(key: str) -> str:
    item = db.get_or_none(NotificationModel, key)
    if item is None or item.status == PENDING:
        raise RetryLater("the item changed while it was being claimed")
    return item.status


def _resolve_dead_claim(item: NotificationModel) -> Outcome:
    if item.claimed_at and clock.now() - item.claimed_at < timedelta(seconds=CLAIM_SECONDS):
        raise RetryLater("an attempt may still be calling WeChat")
    log.error("notification %s: an attempt called WeChat and never recorded the answer; not sent again",
              item.notification_id)
    metrics.count("NotificationFailed", kind=item.kind, reason="OUTCOME_UNKNOWN")
    return _finish(item, item.claim, FAILED, error=("OUTCOME_UNKNOWN", "the attempt ended before WeChat's answer"))


def _finish(item: NotificationModel, claim: str | None, status: str, *, error: tuple[str, str] | None = None,
            msgid: str | None = None, called: bool = False) -> Outcome:
    now = clock.now()
    actions = [NotificationModel.status.set(status), NotificationModel.updated_at.set(now),
               NotificationModel.claim.remove()]
    if error:
        actions += [NotificationModel.error_code.set(error[0]), NotificationModel.error_message.set(error[1][:200])]
    if status == SENT:
        actions += [NotificationModel.sent_at.set(now), NotificationModel.msgid.set(msgid or "")]
    condition = NotificationModel.status == PENDING
    condition &= (NotificationModel.claim == claim) if claim else NotificationModel.claim.does_not_exist()
    try:
        item.update(actions=actions, condition=condition)
    except Exception as exc:
        if not db.condition_failed(exc):
            raise
        log.warning("notification %s moved before its outcome %s was recorded", item.notification_id, status)
    return Outcome(status, called)


def _release(item: NotificationModel, claim: str, error_code: str, error_message: str) -> None:
    """Nothing was sent: drop the claim (keeping the credit spent), note why, and let the queue retry."""
    try:
        item.update(actions=[NotificationModel.claim.remove(), NotificationModel.claimed_at.remove(),
                             NotificationModel.error_code.set(error_code),
                             NotificationModel.error_message.set(error_message[:200]),
                             NotificationModel.updated_at.set(clock.now())],
                    condition=(NotificationModel.status == PENDING) & (NotificationModel.claim == claim))
    except Exception as err:
        if not db.condition_failed(err):
            raise
