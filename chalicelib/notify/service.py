"""What the other features' routes call: subscription credits, the merchant's lists and template settings.

The notify feature has no routes of its own: `POST /me/subscriptions` sits in the
members function (the `/me` base path is members'), and the merchant's pages in the
admin function (`/admin` is admin's), each calling these functions.
"""
from __future__ import annotations

import heapq
from itertools import islice
from typing import Any

from chalicelib.core import clock
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.notify import templates
from chalicelib.notify.inputs import (
    AlertPage,
    AlertView,
    FieldMapping,
    NotificationPage,
    NotificationView,
    Subscription,
    Subscriptions,
    TemplateBody,
    TemplateList,
    TemplateView,
)
from chalicelib.notify.models import ALERTS, SHARDS, LowStockModel, NotificationModel, SubscriptionModel

ACCEPT, REJECT, BAN = "accept", "reject", "ban"


# --- the buyer's subscriptions ----------------------------------------------------

def record_subscriptions(user_id: str, results: dict[str, str]) -> Subscriptions:
    """Each `accept` adds one credit for (user, template); `ban` turns the template off (credits to 0),
    as WeChat itself stops delivering it; `reject` changes nothing. Each answer is one atomic write,
    so concurrent answers from two phones add up."""
    now = clock.now()
    for template_id, answer in results.items():
        item = SubscriptionModel(user_id, template_id)
        if answer == ACCEPT:
            item.update(actions=[SubscriptionModel.credits.add(1), SubscriptionModel.accepted.add(1),
                                 SubscriptionModel.banned.set(False), SubscriptionModel.updated_at.set(now)])
        elif answer == BAN:
            item.update(actions=[SubscriptionModel.credits.set(0), SubscriptionModel.banned.set(True),
                                 SubscriptionModel.updated_at.set(now)])
    return Subscriptions(subscriptions=[_subscription_view(row) for row in SubscriptionModel.query(user_id)])


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

def template_list() -> TemplateList:
    return TemplateList(items=[_template_view(kind, template) for kind, template in templates.every_kind()])


def save_template(kind: str, body: TemplateBody, actor: str) -> TemplateView:
    saved = templates.save(kind, body.template_id, body.page, [(f.key, f.source) for f in body.fields],
                           list(body.recipients), actor)
    return _template_view(templates.kind_named(kind), saved)


def remove_template(kind: str) -> None:
    templates.remove(kind)


def _template_view(kind: Any, template: templates.Template | None) -> TemplateView:
    view = TemplateView(kind=kind.name, audience=kind.audience, variables=list(kind.variables),
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
