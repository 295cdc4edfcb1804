"""The group's side of a group order's moves, added by checkout to the order's own transactions.

Checkout conditions each move on the order's status, which makes each of these
writes happen once with it; the group's own conditions here (its status, its
counts, its deadline) make a payment count only while the group can take it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.checkout import statuses
from chalicelib.checkout.group_orders import PaymentCannotCount
from chalicelib.core import clock
from chalicelib.core.db import get_or_none
from chalicelib.groupbuy.models import (
    FAILED,
    HELD,
    OPEN,
    PAID,
    PENDING,
    SETTLE,
    SUCCEEDED,
    BuyerQuotaModel,
    CampaignModel,
    GroupModel,
    MemberModel,
    due_shard,
)


@dataclass(frozen=True)
class PaymentDecision:
    target: str  # AWAITING_GROUP, or PAID for the payment that completes the group
    writes: Callable[[Any], None]


def payment(order: Any, paid_at: datetime) -> PaymentDecision:
    """Where a payment for `order` takes it, with the group's writes; PaymentCannotCount when it cannot count."""
    group = get_or_none(GroupModel, order.group_id)
    member = get_or_none(MemberModel, order.group_id, order.user_id)
    if group is None or member is None or member.order_id != order.order_id or member.state != HELD:
        raise PaymentCannotCount(f"order {order.order_id} holds no place in group {order.group_id}")
    now = clock.now()
    if group.status == PENDING and group.leader_order_id == order.order_id:
        return _opening(group, member, paid_at, now)
    if group.status == OPEN and group.expires_at is not None and group.expires_at > now:
        return _joining(group, member, now)
    state = group.status if group.status != OPEN else "expired"
    raise PaymentCannotCount(f"group {group.group_id} is {state.lower()}; the payment cannot count")


def _opening(group: GroupModel, member: MemberModel, paid_at: datetime, now: datetime) -> PaymentDecision:
    """The leader pays: the group opens for `duration_minutes` from the payment, never past its campaign's end."""
    if group.campaign_ends_at <= now:
        raise PaymentCannotCount(f"the campaign of group {group.group_id} has ended; the payment cannot count")
    expires_at = min(max(paid_at, now) + timedelta(minutes=int(group.duration_minutes)), group.campaign_ends_at)

    def writes(tx: Any) -> None:
        tx.update(GroupModel(group.group_id),
                  actions=[GroupModel.status.set(OPEN), GroupModel.paid_members.add(1),
                           GroupModel.opened_at.set(now), GroupModel.expires_at.set(expires_at),
                           GroupModel.due_at.set(expires_at), GroupModel.updated_at.set(now)],
                  condition=(GroupModel.status == PENDING) & (GroupModel.campaign_ends_at > now))
        _member_paid(tx, member, now)

    return PaymentDecision(statuses.AWAITING_GROUP, writes)


def _joining(group: GroupModel, member: MemberModel, now: datetime) -> PaymentDecision:
    size = int(group.group_size)
    completes = int(group.paid_members) + 1 >= size
    still_open = (GroupModel.status == OPEN) & (GroupModel.expires_at > now)

    def writes(tx: Any) -> None:
        if completes:  # the last place paid: the group succeeds with this payment, its members settle next
            tx.update(GroupModel(group.group_id),
                      actions=[GroupModel.status.set(SUCCEEDED), GroupModel.paid_members.add(1),
                               GroupModel.closed_at.set(now), GroupModel.due_shard.set(due_shard(SETTLE, group.group_id)),
                               GroupModel.due_at.set(now), GroupModel.updated_at.set(now)],
                      condition=still_open & (GroupModel.paid_members == size - 1))
        else:
            tx.update(GroupModel(group.group_id),
                      actions=[GroupModel.paid_members.add(1), GroupModel.updated_at.set(now)],
                      condition=still_open & (GroupModel.paid_members < size - 1))
        _member_paid(tx, member, now)

    return PaymentDecision(statuses.PAID if completes else statuses.AWAITING_GROUP, writes)


def _member_paid(tx: Any, member: MemberModel, now: datetime) -> None:
    tx.update(MemberModel(member.group_id, member.user_id),
              actions=[MemberModel.state.set(PAID), MemberModel.paid_at.set(now)],
              condition=(MemberModel.order_id == member.order_id) & (MemberModel.state == HELD))


def release(tx: Any, order: Any) -> None:
    """An unpaid group order is cancelled: its place (and membership) freed, its campaign unit and quota back.

    Never blocked by a condition of its own: the cancel's condition on the order's status makes it happen once.
    A leader's unpaid order cancelled leaves its PENDING group with nobody to open it: the group fails.
    """
    now = clock.now()
    tx.delete(MemberModel(order.group_id, order.user_id),
              condition=MemberModel.order_id.does_not_exist() | (MemberModel.order_id == order.order_id))
    group = get_or_none(GroupModel, order.group_id)
    if group is None:
        return
    actions = [GroupModel.holders.add(-1), GroupModel.updated_at.set(now)]
    if group.status == PENDING and group.leader_order_id == order.order_id:
        actions += [GroupModel.status.set(FAILED), GroupModel.closed_at.set(now),
                    GroupModel.due_shard.set(due_shard(SETTLE, order.group_id)), GroupModel.due_at.set(now)]
    tx.update(GroupModel(order.group_id), actions=actions)
    give_back(tx, group.campaign_id, order.user_id)


def refunded(tx: Any, order: Any) -> None:
    """A paid member of a failed group is being refunded: the campaign unit and the buyer's quota go back."""
    group = get_or_none(GroupModel, order.group_id)
    give_back(tx, group.campaign_id if group is not None else None, order.user_id)


def give_back(tx: Any, campaign_id: str | None, user_id: str) -> None:
    if campaign_id is None:
        return
    tx.update(CampaignModel(campaign_id), actions=[CampaignModel.stock_left.add(1)])
    tx.update(BuyerQuotaModel(campaign_id, user_id), actions=[BuyerQuotaModel.orders.add(-1)])
