"""Coupons for buyers: the claimable list, claiming (or staff granting) one, and the buyer's own coupons.

A claim is one transaction of three writes: the template's `claimed` counter (on condition
`claimed < total`, the template still active and unedited since read), the buyer's count for
that template (on condition `held < per_user_limit`), and the new coupon with the template's
terms copied into it. Thirty buyers claiming the last coupon: one transaction commits, the
others' conditions fail and a fresh read says why (409 SOLD_OUT). No count-then-insert gap.

A claim sent with an Idempotency-Key adds the key's record (`marketing#claim#<buyer>#<key>`) to
that transaction, so the coupon exists exactly when the key is taken: the same key again (a phone
retrying after a lost reply, a double tap racing the first) answers the coupon it claimed.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import TransactWriteError

from chalicelib.core import clock
from chalicelib.core.db import condition_failed, get_or_none, run_transaction, until_committed
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.idempotency import TransactionKey, transaction_key
from chalicelib.core.ids import new_id
from chalicelib.core.models import IdempotencyRecord
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)
from chalicelib.marketing.models import (
    ACTIVE,
    AVAILABLE,
    CLAIMABLE_LISTING,
    LOCKED,
    CouponClaimCountModel,
    CouponModel,
    CouponTemplateModel,
)
from chalicelib.marketing.templates import load_template
from chalicelib.marketing.views import (
    ClaimableList,
    CouponPage,
    CouponView,
    claimable_view,
    coupon_view,
    shown_status,
)

CLAIMABLE_LIMIT = 100  # templates on the claim page
MINE_PAGE = 50  # coupons read per Query page while filtering a buyer's list by status


def claimable_coupons() -> ClaimableList:
    """Active, claimable templates with coupons left and a window not yet over, newest first."""
    now = clock.now()
    rows = CouponTemplateModel.claimable_index.query(CLAIMABLE_LISTING, scan_index_forward=False,
                                                     limit=CLAIMABLE_LIMIT)
    return ClaimableList(items=[claimable_view(row) for row in rows if row.ends_at is None or row.ends_at > now])


def claim(user_id: str, template_id: str, idempotency_key: str | None = None) -> CouponView:
    """The buyer claims one coupon of a claimable template: 201, or 409 SOLD_OUT / LIMIT_REACHED. Under an
    Idempotency-Key already used for this template, the coupon that claim gave (as it is now); 422
    IDEMPOTENCY_KEY_REUSED when the buyer used the key to claim another template."""
    key = transaction_key(f"marketing#claim#{user_id}", idempotency_key, {"template_id": template_id})
    return _take(user_id, template_id, source="CLAIM", key=key)


def grant(user_id: str, template_id: str) -> CouponView:
    """Staff give a buyer a coupon (granted-only templates too), within the template's total and per-buyer
    limit. The caller checks the buyer exists."""
    return _take(user_id, template_id, source="GRANT")


# What a grant to one buyer of a segment came to (grant_coupon): given (now or by an earlier delivery of the
# same grant), or why not.
GRANTED, ALREADY_HOLDS, LIMIT_REACHED, SOLD_OUT, ENDED = "GRANTED", "ALREADY_HOLDS", "LIMIT_REACHED", "SOLD_OUT", "ENDED"
# A grant's per-buyer marker must outlive every redelivery of the grant's pages (a grant runs for hours at most).
GRANT_MARKER_TTL = timedelta(days=30)


@dataclass(frozen=True)
class GrantResult:
    outcome: str  # GRANTED, ALREADY_HOLDS, LIMIT_REACHED, SOLD_OUT or ENDED
    coupon_id: str | None = None  # the coupon given, when GRANTED


def grant_coupon(user_id: str, template_id: str, grant_key: str) -> GrantResult:
    """One coupon of the template for a buyer on behalf of a bulk grant (a segment's), at most once per
    (grant_key, buyer): the coupon and a marker `coupon-grant#<grant_key>#<user_id>` commit in the claim's own
    transaction, so a repeated call (a redelivered page, a resent write) answers the first call's coupon.

    Within the template's `total` (SOLD_OUT) and `per_user_limit` (LIMIT_REACHED), never on an ended template
    (ENDED), and not to a buyer who still holds an unspent coupon of it (ALREADY_HOLDS: one they could use now,
    or one an unpaid order locks). Outcomes, not errors: the caller counts them. The caller checks the buyer.
    """
    marker_id = _grant_marker_id(grant_key, user_id)

    def attempt() -> GrantResult | None:
        earlier = get_or_none(IdempotencyRecord, marker_id)
        if earlier is not None:
            return GrantResult(GRANTED, earlier.data)
        template = load_template(template_id)
        refusal = _grant_refusal(template, user_id)
        if refusal is not None:
            # the coupon this grant gave meanwhile (another delivery of the page) may be the reason: still given
            given = get_or_none(IdempotencyRecord, marker_id)
            return GrantResult(GRANTED, given.data) if given is not None else GrantResult(refusal)
        coupon = _new_coupon(template, user_id, "GRANT")
        marker = IdempotencyRecord(marker_id, expiration=clock.now() + GRANT_MARKER_TTL, status="COMPLETED",
                                   data=coupon.coupon_id)

        def write(tx) -> None:
            _write_claim(tx, template, coupon)
            tx.save(marker, condition=IdempotencyRecord.id.does_not_exist())

        try:
            run_transaction(write)
        except TransactWriteError as exc:
            if not condition_failed(exc):
                raise
            return None  # given meanwhile (or a lost reply's resend), sold out, limit reached, edited: read again
        return GrantResult(GRANTED, coupon.coupon_id)

    return until_committed(attempt)


def granted_coupon(grant_key: str, user_id: str) -> str | None:
    """The coupon a bulk grant gave the buyer, if it gave one (what a cancelled grant counts of a page it had begun)."""
    marker = get_or_none(IdempotencyRecord, _grant_marker_id(grant_key, user_id))
    return marker.data if marker is not None else None


def _grant_marker_id(grant_key: str, user_id: str) -> str:
    return f"coupon-grant#{grant_key}#{user_id}"


def _grant_refusal(template: CouponTemplateModel, user_id: str) -> str | None:
    if template.status != ACTIVE or (template.ends_at is not None and template.ends_at <= clock.now()):
        return ENDED
    if int(template.claimed or 0) >= int(template.total):
        return SOLD_OUT
    if _holds_unspent(user_id, template.template_id):
        return ALREADY_HOLDS
    if _held(template.template_id, user_id) >= int(template.per_user_limit):
        return LIMIT_REACHED
    return None


def _holds_unspent(user_id: str, template_id: str) -> bool:
    """Whether the buyer holds a coupon of the template they could still spend (AVAILABLE and valid, or LOCKED by
    an unpaid order, which gives it back if the order is cancelled). Reads the buyer's coupons (one partition)."""
    now = clock.now()
    condition = (CouponModel.template_id == template_id) & CouponModel.status.is_in(AVAILABLE, LOCKED)
    return any(coupon.status == LOCKED or coupon.valid_until > now
               for coupon in CouponModel.query(user_id, filter_condition=condition))


def _take(user_id: str, template_id: str, *, source: str, key: TransactionKey | None = None) -> CouponView:
    def claimed_under_key() -> CouponView | None:
        coupon_id = key.created() if key is not None else None
        if coupon_id is None:
            return None
        coupon = get_or_none(CouponModel, user_id, coupon_id)
        if coupon is None:  # the key's record commits with its coupon, and coupons are never deleted
            raise NotFound("the coupon this Idempotency-Key claimed is gone", code="COUPON_NOT_FOUND")
        return coupon_view(coupon)

    def attempt() -> CouponView | None:
        template = load_template(template_id)
        if source == "CLAIM" and not template.claimable:
            raise NotFound("coupon template not found", code="COUPON_TEMPLATE_NOT_FOUND")
        try:
            _refuse_unavailable(template, _held(template_id, user_id))
        except Conflict:
            # the claim a twin under the same key committed meanwhile may be what used the last one up
            earlier = claimed_under_key()
            if earlier is not None:
                return earlier
            raise
        coupon = _new_coupon(template, user_id, source)

        def write(tx) -> None:
            _write_claim(tx, template, coupon)
            if key is not None:
                key.add_record(tx, coupon.coupon_id)

        try:
            run_transaction(write)
        except TransactWriteError as exc:
            if not condition_failed(exc):
                raise
            # Under a key, the key's record may be what failed: a twin committed first, or this very claim did
            # and its reply was lost (the SDK's resend then meets its own commit). Otherwise sold out, limit
            # reached or edited meanwhile: the next read says which.
            return claimed_under_key()
        return coupon_view(coupon)

    earlier = claimed_under_key()
    return earlier if earlier is not None else until_committed(attempt)


def _held(template_id: str, user_id: str) -> int:
    count = get_or_none(CouponClaimCountModel, template_id, user_id)
    return int(count.held) if count is not None else 0


def _refuse_unavailable(template: CouponTemplateModel, held: int) -> None:
    if template.status != ACTIVE or (template.ends_at is not None and template.ends_at <= clock.now()):
        raise Conflict("this coupon can no longer be claimed", code="COUPON_ENDED")
    if int(template.claimed or 0) >= int(template.total):
        raise Conflict("all of these coupons have been claimed", code="SOLD_OUT")
    if held >= int(template.per_user_limit):
        raise Conflict(f"you hold the most of this coupon one buyer may ({template.per_user_limit})",
                       code="LIMIT_REACHED", details={"per_user_limit": int(template.per_user_limit)})


def _write_claim(tx, template: CouponTemplateModel, coupon: CouponModel) -> None:
    """The claim, top to bottom: the template's counter, the buyer's count, the coupon."""
    limit = int(template.per_user_limit)
    tx.update(CouponTemplateModel(template.template_id), actions=[CouponTemplateModel.claimed.add(1)],
              condition=(CouponTemplateModel.claimed < CouponTemplateModel.total)
              & (CouponTemplateModel.status == ACTIVE) & (CouponTemplateModel.version == int(template.version)))
    tx.update(CouponClaimCountModel(template.template_id, coupon.user_id),
              actions=[CouponClaimCountModel.held.add(1)],
              condition=CouponClaimCountModel.held.does_not_exist() | (CouponClaimCountModel.held < limit))
    tx.save(coupon, condition=CouponModel.coupon_id.does_not_exist())


def _new_coupon(template: CouponTemplateModel, user_id: str, source: str) -> CouponModel:
    now = clock.now()
    valid_from, valid_until = _validity(template, now)
    return CouponModel(user_id, new_id(), template_id=template.template_id, source=source, status="AVAILABLE",
                       name=template.name, kind=template.kind, amount_off=template.amount_off,
                       percent_off=template.percent_off, max_discount=template.max_discount,
                       min_spend=int(template.min_spend or 0), scope_kind=template.scope_kind,
                       scope_ids=list(template.scope_ids or []), valid_from=valid_from, valid_until=valid_until,
                       claimed_at=now)


def _validity(template: CouponTemplateModel, now: datetime) -> tuple[datetime, datetime]:
    if template.valid_days:
        return now, now + timedelta(days=int(template.valid_days))
    return template.starts_at, template.ends_at


def my_coupons(user_id: str, status: str | None, cursor: str | None, limit: int) -> CouponPage:
    """The buyer's coupons, newest first, optionally of one shown status (EXPIRED is judged by the clock)."""
    before = decode_cursor(cursor)
    found: list[CouponModel] = []
    last_seen = before
    while len(found) <= limit:
        condition = CouponModel.coupon_id < last_seen if last_seen else None
        page = list(CouponModel.query(user_id, range_key_condition=condition, scan_index_forward=False,
                                      limit=MINE_PAGE))
        for coupon in page:
            if status is None or shown_status(coupon) == status:
                found.append(coupon)
            if len(found) > limit:
                break
        if len(page) < MINE_PAGE:
            break
        last_seen = page[-1].coupon_id
    next_cursor = encode_cursor(found[limit - 1].coupon_id) if len(found) > limit else None
    return CouponPage(items=[coupon_view(coupon) for coupon in found[:limit]], next_cursor=next_cursor)
