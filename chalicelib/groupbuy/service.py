"""Opening and joining groups, each with the buyer's own order, and the public group page.

Opening or joining is one DynamoDB transaction: the campaign's unit taken
(`stock_left >= 1`, running, at the version read), the buyer's quota counted
(`orders < per_user_limit`), the place held (a new group with `holders = 1`, or
`holders < group_size` on an OPEN group before its deadline), the buyer's member
item (none yet: one place per buyer per group), and checkout's part: the unit
reserved from the SKU's regular stock and the order itself. All of it commits or
none of it does, so at most `group_size` live orders ever hold a group's places.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.catalog.reads import SkuCard, sku_cards
from chalicelib.checkout import group_orders
from chalicelib.checkout.models import OrderModel
from chalicelib.checkout.orders import get_order
from chalicelib.core import clock, metrics
from chalicelib.core.db import commit_if_conditions_hold, get_or_none, until_committed
from chalicelib.core.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable
from chalicelib.core.idempotency import TransactionKey, transaction_key, values_fingerprint
from chalicelib.core.ids import new_id, require_id
from chalicelib.groupbuy.campaigns import is_running, load_campaign
from chalicelib.groupbuy.models import (
    ACTIVE,
    EXPIRE,
    HELD,
    OPEN,
    PAID,
    PENDING,
    BuyerQuotaModel,
    CampaignModel,
    GroupModel,
    MemberModel,
    due_shard,
)
from chalicelib.groupbuy.views import GroupOrder, GroupPage, group_page
from chalicelib.members import service as members

ATTEMPTS = 4


# --- opening and joining ----------------------------------------------------------------

def open_group(user_id: str, request: Any, idempotency_key: str | None = None) -> GroupOrder:
    """The leader's group (PENDING until the leader pays) and order (PENDING_PAYMENT)."""
    _refuse_discounts(request)
    key = _key(user_id, idempotency_key, ("open", request.campaign_id, request.address_id))
    earlier = _earlier(user_id, key)
    if earlier is not None:
        return earlier
    address = group_orders.shipping_address(members.get_address(user_id, request.address_id))

    def attempt() -> GroupOrder | None:
        now = clock.now()
        campaign = _running_campaign(request.campaign_id, now)
        card = _card(campaign)
        _refuse_spent(campaign, user_id)
        group_id = new_id()
        order = group_orders.new_group_order(user_id, card=card, price=int(campaign.group_price), group_id=group_id,
                                             address=address)
        group = GroupModel(
            group_id, campaign_id=campaign.campaign_id, leader_id=user_id, leader_order_id=order.order_id,
            product_id=campaign.product_id, sku_id=campaign.sku_id, title=campaign.title, image=campaign.image,
            group_price=int(campaign.group_price), group_size=int(campaign.group_size),
            duration_minutes=int(campaign.duration_minutes), status=PENDING, holders=1, paid_members=0,
            campaign_ends_at=campaign.ends_at, created_at=now, updated_at=now,
            due_shard=due_shard(EXPIRE, group_id), due_at=campaign.ends_at)

        def build(tx: Any) -> None:
            _take_campaign_unit(tx, campaign, user_id, now)
            tx.save(group, condition=GroupModel.group_id.does_not_exist())
            _hold_membership(tx, group_id, user_id, order, now, is_leader=True)
            group_orders.add_group_order(tx, order, card.price)
            _save_key(tx, key, order)

        if commit_if_conditions_hold(build, committed_already=lambda: _exists(order)):
            metrics.count("GroupOpened")
            return GroupOrder(group_id=group_id, status=PENDING, order=get_order(user_id, order.order_id))
        return _explain(user_id, key, campaign, card)

    return until_committed(attempt, attempts=ATTEMPTS, gives_up=_busy)


def join_group(user_id: str, group_id: str, request: Any, idempotency_key: str | None = None) -> GroupOrder:
    """A place in an OPEN group, held by the buyer's own new order (PENDING_PAYMENT)."""
    _refuse_discounts(request)
    require_id(group_id, "GROUP")
    key = _key(user_id, idempotency_key, ("join", group_id, request.address_id))
    earlier = _earlier(user_id, key)
    if earlier is not None:
        return earlier
    address = group_orders.shipping_address(members.get_address(user_id, request.address_id))

    def attempt() -> GroupOrder | None:
        now = clock.now()
        group = _joinable_group(group_id, user_id, now)
        campaign = _running_campaign(group.campaign_id, now)
        card = _card(campaign)
        _refuse_spent(campaign, user_id)
        order = group_orders.new_group_order(user_id, card=card, price=int(group.group_price), group_id=group_id,
                                             address=address)

        def build(tx: Any) -> None:
            _take_campaign_unit(tx, campaign, user_id, now)
            tx.update(GroupModel(group_id), actions=[GroupModel.holders.add(1), GroupModel.updated_at.set(now)],
                      condition=(GroupModel.status == OPEN) & (GroupModel.holders < int(group.group_size))
                      & (GroupModel.expires_at > now))
            _hold_membership(tx, group_id, user_id, order, now, is_leader=False)
            group_orders.add_group_order(tx, order, card.price)
            _save_key(tx, key, order)

        if commit_if_conditions_hold(build, committed_already=lambda: _exists(order)):
            metrics.count("GroupJoined")
            return GroupOrder(group_id=group_id, status=OPEN, order=get_order(user_id, order.order_id))
        _joinable_group(group_id, user_id, clock.now())  # full, closed or joined meanwhile: say so
        return _explain(user_id, key, campaign, card)

    return until_committed(attempt, attempts=ATTEMPTS, gives_up=_busy)


def _refuse_discounts(request: Any) -> None:
    if request.coupon_id is not None:
        raise Unprocessable("a group-buy order takes no coupon", code="COUPON_NOT_APPLICABLE")
    if request.points:
        raise Unprocessable("a group-buy order takes no points", code="POINTS_NOT_APPLICABLE")


def _running_campaign(campaign_id: str, now: datetime) -> CampaignModel:
    campaign = load_campaign(campaign_id)
    if not is_running(campaign, now):
        raise Unprocessable(f"campaign {campaign_id} is not running", code="CAMPAIGN_NOT_RUNNING")
    return campaign


def _card(campaign: CampaignModel) -> SkuCard:
    card = sku_cards([campaign.sku_id], consistent=True).get(campaign.sku_id)
    if card is None:
        raise NotFound(f"no such SKU: {campaign.sku_id}", code="SKU_NOT_FOUND")
    if not card.on_sale:
        raise Conflict(f"not on sale: {campaign.sku_id}", code="SKU_NOT_ON_SALE")
    if card.stock < 1:
        metrics.count("OutOfStock")
        raise Conflict(f"{campaign.sku_id} is out of stock", code="OUT_OF_STOCK")
    return card


def _refuse_spent(campaign: CampaignModel, user_id: str) -> None:
    if int(campaign.stock_left) < 1:
        raise Conflict(f"campaign {campaign.campaign_id} is sold out", code="SOLD_OUT")
    limit = campaign.per_user_limit
    quota = get_or_none(BuyerQuotaModel, campaign.campaign_id, user_id)
    if limit is not None and quota is not None and int(quota.orders) >= int(limit):
        raise Conflict(f"at most {int(limit)} group-buy orders per buyer in this campaign", code="LIMIT_REACHED",
                       details={"per_user_limit": int(limit)})


def _joinable_group(group_id: str, user_id: str, now: datetime) -> GroupModel:
    group = get_or_none(GroupModel, group_id)
    if group is None:
        raise NotFound("group not found", code="GROUP_NOT_FOUND")
    if group.leader_id == user_id:
        raise Conflict("the leader cannot join their own group", code="OWN_GROUP")
    if get_or_none(MemberModel, group_id, user_id) is not None:
        raise Conflict("you already hold a place in this group", code="ALREADY_IN_GROUP")
    if group.status != OPEN or group.expires_at is None or group.expires_at <= now:
        raise Conflict(f"group {group_id} is not open to join", code="GROUP_NOT_OPEN",
                       details={"status": group.status})
    if int(group.holders) >= int(group.group_size):
        raise Conflict(f"every place of group {group_id} is taken", code="GROUP_FULL")
    return group


def _take_campaign_unit(tx: Any, campaign: CampaignModel, user_id: str, now: datetime) -> None:
    """One unit of the campaign and one of the buyer's quota, at the campaign version read (its price, limit)."""
    tx.update(CampaignModel(campaign.campaign_id), actions=[CampaignModel.stock_left.add(-1)],
              condition=(CampaignModel.status == ACTIVE) & (CampaignModel.version == int(campaign.version))
              & (CampaignModel.ends_at > now) & (CampaignModel.stock_left >= 1))
    limit = campaign.per_user_limit
    condition = None if limit is None else (BuyerQuotaModel.orders.does_not_exist()
                                            | (BuyerQuotaModel.orders < int(limit)))
    tx.update(BuyerQuotaModel(campaign.campaign_id, user_id), actions=[BuyerQuotaModel.orders.add(1)],
              condition=condition)


def _hold_membership(tx: Any, group_id: str, user_id: str, order: OrderModel, now: datetime, *,
                     is_leader: bool) -> None:
    nickname = members.get_user(user_id).nickname
    member = MemberModel(group_id, user_id, order_id=order.order_id, nickname=nickname, avatar=None,
                         is_leader=is_leader, state=HELD, joined_at=now)
    tx.save(member, condition=MemberModel.user_id.does_not_exist())


def _explain(user_id: str, key: TransactionKey | None, campaign: CampaignModel, card: SkuCard) -> GroupOrder | None:
    """After a cancelled commit: the same key committed meanwhile, or why the buyer cannot have a place; None to
    read again (something changed that still allows it)."""
    earlier = _earlier(user_id, key)
    if earlier is not None:
        return earlier
    fresh = load_campaign(campaign.campaign_id)
    if not is_running(fresh, clock.now()):
        raise Unprocessable(f"campaign {campaign.campaign_id} is not running", code="CAMPAIGN_NOT_RUNNING")
    _refuse_spent(fresh, user_id)
    _card(fresh)
    return None


def _exists(order: OrderModel) -> bool:
    """After a failed commit: whether it was this very transaction, committed, its reply lost and the resend refused
    (the order id is new to this attempt, so only this transaction can have written it)."""
    return get_or_none(OrderModel, order.order_id) is not None


def _busy() -> Exception:
    return ServiceUnavailable("the group is too busy right now, retry", code="BUSY")


# --- idempotency (optional on these routes; core/idempotency.py: transaction_key) ----------

def _key(user_id: str, idempotency_key: str | None, request: tuple[str, ...]) -> TransactionKey | None:
    """The buyer's key for this open or join, or None without one. A blank key is malformed (400), not absent,
    and the request is fingerprinted as its values in order: both as these routes always did."""
    return transaction_key(f"groupbuy#{user_id}", idempotency_key, request, fingerprint_of=values_fingerprint,
                           blank_is_absent=False)


def _save_key(tx: Any, key: TransactionKey | None, order: OrderModel) -> None:
    if key is not None:
        key.add_record(tx, order.order_id, created_at=order.created_at)


def _earlier(user_id: str, key: TransactionKey | None) -> GroupOrder | None:
    order_id = key.created() if key is not None else None
    if order_id is None:
        return None
    order = get_order(user_id, order_id)
    group = get_or_none(GroupModel, order.group_id)
    return GroupOrder(group_id=order.group_id, status=group.status if group else PENDING, order=order)


# --- the share page ---------------------------------------------------------------------

def group_page_of(group_id: str) -> GroupPage:
    """Public: what a shared link shows (no buyer ids, no orders)."""
    require_id(group_id, "GROUP")
    group = get_or_none(GroupModel, group_id, consistent=False)
    if group is None:
        raise NotFound("group not found", code="GROUP_NOT_FOUND")
    return group_page(group, list(MemberModel.query(group_id)))


def paid_member_ids(group_id: str) -> list[str]:
    """The buyers holding a paid place in the group, leader first: whom its end is news to."""
    members = MemberModel.query(group_id, consistent_read=True)
    paid = [member for member in members if member.state == PAID]
    return [member.user_id for member in sorted(paid, key=lambda member: (not member.is_leader, member.joined_at))]
