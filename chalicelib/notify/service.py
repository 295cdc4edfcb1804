"""What the other features' routes call: subscription credits, the merchant's lists and template settings.

The notify feature has no routes of its own: `POST /me/subscriptions` sits in the
members function (the `/me` base path is members'), and the merchant's pages in the
admin function (`/admin` is admin's), each calling these functions.
"""
from __future__ import annotations

import heapq
from itertools import islice
from typing import Any

from chalicelib.core import clock, db, ids
from chalicelib.core.errors import ServiceUnavailable
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.notify import templates
from chalicelib.notify.inputs import (
    AlertPage,
    AlertView,
    FieldMapping,
    NotificationPage,
    NotificationTemplateBody,
    NotificationTemplateList,
    NotificationTemplateView,
    NotificationView,
    Subscription,
    Subscriptions,
)
from chalicelib.notify.models import ALERTS, SHARDS, LowStockModel, NotificationModel, SubscriptionModel

ACCEPT, REJECT, BAN = "accept", "reject", "ban"


# --- the buyer's subscriptions ----------------------------------------------------

def record_subscriptions(user_id: str, results: dict[str, str]) -> Subscriptions:
    """Each `accept` adds one credit for (user, template); `ban` turns the template off (credits to 0),
    as WeChat itself stops delivering it; `reject` changes nothing.

    An answer is a write conditioned on the version it read, carrying a token of its own: a resend
    after a lost reply finds its own commit instead of adding a second credit, and two phones
    answering at once both count (the loser reads again)."""
    for template_id, answer in results.items():
        if answer in (ACCEPT, BAN):
            _answer(user_id, template_id, answer)
    return Subscriptions(subscriptions=[_subscription_view(row) for row in SubscriptionModel.query(user_id)])


def _answer(user_id: str, template_id: str, answer: str) -> None:
    token = ids.new_id()

    def attempt() -> bool | None:
        current = db.get_or_none(SubscriptionModel, user_id, template_id)
        version = int(current.version or 0) if current is not None else 0
        now = clock.now()
        actions = [SubscriptionModel.version.set(version + 1), SubscriptionModel.last_change.set(token),
                   SubscriptionModel.updated_at.set(now)]
        if answer == ACCEPT:
            actions += [SubscriptionModel.credits.add(1), SubscriptionModel.accepted.add(1),
                        SubscriptionModel.banned.set(False)]
        else:
            actions += [SubscriptionModel.credits.set(0), SubscriptionModel.banned.set(True)]
        # credits moves under senders too (a send spends one): the condition is the version alone, and
        # ADD keeps a concurrent spend; a ban's SET 0 is what a ban means whatever was spent meanwhile.
        unchanged = SubscriptionModel.user_id.does_not_exist() if current is None \
            else SubscriptionModel.version == version
        committed = db.commit_if_conditions_hold(
            lambda tx: tx.update(SubscriptionModel(user_id, template_id), actions=actions, condition=unchanged),
            committed_already=lambda: _answered(user_id, template_id, token))
        return True if committed else None

    db.until_committed(attempt, gives_up=lambda: ServiceUnavailable(
        "the subscriptions are changing fast, retry shortly", code="BUSY"))


def _answered(user_id: str, template_id: str, token: str) -> bool:
    current = db.get_or_none(SubscriptionModel, user_id, template_id)
    return current is not None and current.last_change == token


def subscriptions_of(user_id: str) -> list[Subscription]:
    """The buyer's subscription credits per template (the buyer's data export, members/privacy.py, reads them)."""
    return [_subscription_view(row) for row in SubscriptionModel.query(user_id, consistent_read=True)]


def _subscription_view(row: SubscriptionModel) -> Subscription:
    return Subscription(template_id=row.template_id, credits=int(row.credits or 0), banned=bool(row.banned))


# --- the merchant's notifications --------------------------------------------------

def list_notifications(cursor: str | None, limit: int) -> NotificationPage:
    """Newest first over the sharded listing index, merged by ULID (as the orders console merges its shards)."""
    before = decode_cursor(cursor)
    pages = []
    for shard in range(SHARDS):
        condition = NotificationModel.notification_id < before if before else None
        pages.append(list(NotificationModel.newest.query(f"ALL#{shard}", range_key_condition=condition,
                                                         scan_index_forward=False, limit=limit + 1)))
    rows = list(islice(heapq.merge(*pages, key=lambda row: row.notification_id, reverse=True), limit + 1))
    next_cursor = encode_cursor(rows[limit - 1].notification_id) if len(rows) > limit else None
    return NotificationPage(items=[_notification_view(row) for row in rows[:limit]], next_cursor=next_cursor)


def _notification_view(row: NotificationModel) -> NotificationView:
    data = row.data.as_dict() if hasattr(row.data, "as_dict") else dict(row.data or {})
    return NotificationView(
        notification_id=row.notification_id, kind=row.kind, order_id=row.order_id, sku_id=row.sku_id,
        user_id=row.user_id, recipient_kind=row.recipient_kind, template_id=row.template_id, status=row.status,
        created_at=clock.iso(row.created_at), sent_at=clock.iso(row.sent_at) if row.sent_at else None,
        error_code=row.error_code, error_message=row.error_message,
        data={key: str((value or {}).get("value", "")) for key, value in data.items()})


# --- templates -------------------------------------------------------------------

def template_list() -> NotificationTemplateList:
    return NotificationTemplateList(items=[_template_view(kind, template) for kind, template in templates.every_kind()])


def save_template(kind: str, body: NotificationTemplateBody, actor: str) -> NotificationTemplateView:
    saved = templates.save(kind, body.template_id, body.page, [(f.key, f.source) for f in body.fields],
                           list(body.recipients), actor)
    return _template_view(templates.kind_named(kind), saved)


def remove_template(kind: str) -> None:
    templates.remove(kind)


def _template_view(kind: Any, template: templates.Template | None) -> NotificationTemplateView:
    view = NotificationTemplateView(kind=kind.name, audience=kind.audience, variables=list(kind.variables),
                        enabled=template is not None)
    if template is not None:
        view.template_id, view.page = template.template_id, template.page
        view.fields = [FieldMapping(key=key, source=source) for key, source in template.fields]
        view.recipients = list(template.recipients)
    return view


# --- low-stock alerts ------------------------------------------------------------

def list_low_stock_alerts(cursor: str | None, limit: int) -> AlertPage:
    """Every alert raised, newest first (alerts are rare: one index partition holds them)."""
    before = decode_cursor(cursor)
    condition = LowStockModel.alert_id < before if before else None
    rows = list(LowStockModel.alerts_newest.query(ALERTS, range_key_condition=condition, scan_index_forward=False,
                                                  limit=limit + 1))
    next_cursor = encode_cursor(rows[limit - 1].alert_id) if len(rows) > limit else None
    return AlertPage(items=[AlertView(alert_id=row.alert_id, sku_id=row.sku_id, product_id=row.product_id,
                                      title=row.title, available=int(row.available), threshold=int(row.threshold),
                                      raised_at=clock.iso(row.at)) for row in rows[:limit]],
                     next_cursor=next_cursor)
