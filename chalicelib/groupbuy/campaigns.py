"""Campaigns: created, edited and ended by staff; listed for buyers while running.

Campaign stock is a cap on what the campaign sells, not stock moved out of the
SKU: each group order reserves its unit from the SKU's regular stock and takes one
from the campaign's `stock_left`, both in the order's transaction; a cancelled or
refunded order gives both back. So ending a campaign has nothing to move back, and
the SKU's stock figures stay the one truth about the warehouse.

Every edit is conditioned on the `version` read. Groups keep the terms they were
opened with (price, size, duration); an earlier end (or `ends_at` moved earlier)
brings every unfinished group's deadline forward to it, so no group outlives its
campaign, and payments after it are returned.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.catalog.reads import sku_cards
from chalicelib.core import clock
from chalicelib.core.db import batch_get, commit_if_conditions_hold, get_or_none, until_committed
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.core.ids import looks_like_id, new_id, require_id
from chalicelib.groupbuy.models import (
    ACTIVE,
    CAMPAIGN_LIST,
    ENDED,
    OPEN,
    UNFINISHED,
    CampaignModel,
    GroupModel,
)
from chalicelib.groupbuy.views import AdminCampaignView, CampaignView, admin_campaign_view, campaign_view

if TYPE_CHECKING:  # staff requests; the buyers' campaign list never loads pydantic
    from chalicelib.groupbuy.inputs import CampaignEdit, NewCampaign

log = logging.getLogger("micromall.groupbuy")

DEFAULT_CAMPAIGN_DAYS = 7
LIST_LIMIT = 200
CAP_ATTEMPTS = 5


def create_campaign(request: NewCampaign, *, actor: str) -> AdminCampaignView:
    cards = sku_cards([request.sku_id], consistent=True)
    card = cards.get(request.sku_id)
    if card is None or card.product_id != request.product_id:
        raise NotFound(f"product {request.product_id} has no SKU {request.sku_id}", code="SKU_NOT_FOUND")
    now = clock.now()
    starts_at = request.starts_at or now
    ends_at = request.ends_at or starts_at + timedelta(days=DEFAULT_CAMPAIGN_DAYS)
    _check_window(starts_at, ends_at, now)
    campaign = CampaignModel(
        new_id(), product_id=card.product_id, sku_id=card.sku_id, title=card.title, image=card.image,
        group_price=request.group_price, group_size=request.group_size, duration_minutes=request.duration_minutes,
        stock=request.stock, stock_left=request.stock, per_user_limit=request.per_user_limit,
        starts_at=starts_at, ends_at=ends_at, status=ACTIVE, created_at=now, updated_at=now, updated_by=actor,
        version=1, listing=CAMPAIGN_LIST)
    campaign.save(condition=CampaignModel.campaign_id.does_not_exist())
    log.info("campaign %s for SKU %s created by %s", campaign.campaign_id, card.sku_id, actor)
    return admin_campaign_view(campaign)


def _check_window(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if ends_at <= starts_at:
        raise BadRequest("ends_at must be after starts_at", code="INVALID_CAMPAIGN_WINDOW")
    if ends_at <= now:
        raise BadRequest("ends_at must be in the future", code="INVALID_CAMPAIGN_WINDOW")


def load_campaign(campaign_id: str) -> CampaignModel:
    require_id(campaign_id, "CAMPAIGN")
    campaign = get_or_none(CampaignModel, campaign_id)
    if campaign is None:
        raise NotFound("campaign not found", code="CAMPAIGN_NOT_FOUND")
    return campaign


def campaign_of_group(group_id: str) -> dict | None:
    """What a group's orders count under on the merchant's dashboard: its campaign's `campaign_id` and
    `title`, the group's `sku_id` and `group_price`; None for an unknown group. One GetItem on the group."""
    group = get_or_none(GroupModel, group_id, consistent=False) if looks_like_id(group_id) else None
    if group is None:
        return None
    return {"campaign_id": group.campaign_id, "title": group.title, "sku_id": group.sku_id,
            "group_price": int(group.group_price)}


def is_running(campaign: CampaignModel, now: datetime) -> bool:
    return campaign.status == ACTIVE and campaign.starts_at <= now < campaign.ends_at


def running_campaigns() -> list[CampaignView]:
    now = clock.now()
    rows = CampaignModel.campaign_list.query(CAMPAIGN_LIST, scan_index_forward=False, limit=LIST_LIMIT)
    return [campaign_view(row) for row in rows if is_running(row, now)]


def running_campaign(campaign_id: str) -> CampaignView:
    campaign = load_campaign(campaign_id)
    if not is_running(campaign, clock.now()):
        raise NotFound("campaign not found (or not running)", code="CAMPAIGN_NOT_FOUND")
    return campaign_view(campaign)


def all_campaigns() -> list[AdminCampaignView]:
    rows = CampaignModel.campaign_list.query(CAMPAIGN_LIST, scan_index_forward=False, limit=LIST_LIMIT)
    return [admin_campaign_view(row) for row in rows]


def edit_campaign(campaign_id: str, edit: CampaignEdit, *, actor: str) -> AdminCampaignView:
    """Change what is sent, on condition of the version read. `stock` is the new total: units taken by live
    orders stay taken (409 STOCK_BELOW_TAKEN below them). An ended campaign is 409 CAMPAIGN_ENDED."""
    def attempt() -> CampaignModel | None:
        campaign = load_campaign(campaign_id)
        if campaign.status == ENDED:
            raise Conflict(f"campaign {campaign_id} has ended", code="CAMPAIGN_ENDED")
        now = clock.now()
        actions = [CampaignModel.updated_at.set(now), CampaignModel.updated_by.set(actor), CampaignModel.version.add(1)]
        for field in ("group_price", "group_size", "duration_minutes", "per_user_limit"):
            value = getattr(edit, field)
            if value is not None:
                actions.append(getattr(CampaignModel, field).set(value))
        if edit.stock is not None:
            taken = int(campaign.stock) - int(campaign.stock_left)
            if edit.stock < taken:
                raise Conflict(f"{taken} units are taken by live orders; stock cannot go below that",
                               code="STOCK_BELOW_TAKEN", details={"taken": taken})
            actions += [CampaignModel.stock.set(edit.stock),
                        CampaignModel.stock_left.add(edit.stock - int(campaign.stock))]
        if edit.ends_at is not None:
            _check_window(campaign.starts_at, edit.ends_at, now)
            actions.append(CampaignModel.ends_at.set(edit.ends_at))
        condition = (CampaignModel.version == int(campaign.version)) & (CampaignModel.status == ACTIVE)
        if edit.stock is not None and edit.stock < int(campaign.stock):
            # orders move stock_left without a version: what they took meanwhile must stay covered
            condition = condition & (CampaignModel.stock_left >= int(campaign.stock) - edit.stock)
        if not commit_if_conditions_hold(lambda tx: tx.update(CampaignModel(campaign_id), actions=actions,
                                                              condition=condition)):
            return None
        return load_campaign(campaign_id)

    campaign = until_committed(attempt, gives_up=lambda: Conflict(
        "the campaign changed while it was being edited, retry", code="CONCURRENT_EDIT"))
    if edit.ends_at is not None:
        cap_group_deadlines(campaign_id, campaign.ends_at)
    return admin_campaign_view(campaign)


def end_campaign(campaign_id: str, *, actor: str) -> AdminCampaignView:
    """ACTIVE -> ENDED now: no group opens or joins any more, and every unfinished group's deadline is brought
    forward to now (the expiry job fails the incomplete ones; a payment after it is returned). Ending twice is
    the same end."""
    campaign = load_campaign(campaign_id)
    if campaign.status == ACTIVE:
        now = clock.now()
        end = min(campaign.ends_at, now)
        try:
            CampaignModel(campaign_id).update(
                actions=[CampaignModel.status.set(ENDED), CampaignModel.ends_at.set(end),
                         CampaignModel.updated_at.set(now), CampaignModel.updated_by.set(actor),
                         CampaignModel.version.add(1)],
                condition=CampaignModel.status == ACTIVE)
            log.warning("campaign %s ended by %s", campaign_id, actor)
        except Exception as exc:  # noqa: BLE001
            from chalicelib.core.db import condition_failed

            if not condition_failed(exc):
                raise
        campaign = load_campaign(campaign_id)
    cap_group_deadlines(campaign_id, campaign.ends_at)  # again on a second end: a first one may have stopped halfway
    return admin_campaign_view(campaign)


def cap_group_deadlines(campaign_id: str, ends_at: datetime) -> int:
    """Bring every unfinished group's deadline forward to `ends_at` where it ran later; returns groups changed."""
    keys = [(row.group_id,) for row in GroupModel.groups_of_campaign.query(campaign_id)]
    changed = 0
    for group in batch_get(GroupModel, keys, consistent=True):
        for _ in range(CAP_ATTEMPTS):  # a payment may open or complete the group between the read and the cap
            if group is None or group.status not in UNFINISHED:
                break
            capped = _cap(group, ends_at)
            if capped is not None:
                changed += capped
                break
            group = get_or_none(GroupModel, group.group_id)
    return changed


def _cap(group: GroupModel, ends_at: datetime) -> bool | None:
    """True: capped; False: nothing to cap; None: the group changed since read."""
    actions = [GroupModel.campaign_ends_at.set(ends_at), GroupModel.updated_at.set(clock.now())]
    if group.status == OPEN:
        if group.expires_at is not None and group.expires_at <= ends_at:
            return False
        actions += [GroupModel.expires_at.set(ends_at), GroupModel.due_at.set(ends_at)]
    elif group.campaign_ends_at <= ends_at:
        return False
    else:
        actions.append(GroupModel.due_at.set(ends_at))  # a PENDING group waits at most until its campaign's end
    committed = commit_if_conditions_hold(lambda tx: tx.update(
        GroupModel(group.group_id), actions=actions,
        condition=(GroupModel.status == group.status) & (GroupModel.paid_members == int(group.paid_members))))
    return True if committed else None
