"""Granting a coupon template to a whole segment: one admin action, worked in the background, page by page.

- **Create** (`POST /admin/segments/{segment}/coupon-grants`, Idempotency-Key): checks the template can be
  granted, writes the grant RUNNING with the segment's size as `total`, and queues its first page. The key
  claims the grant's id first (core/idempotency.py), so a retried request answers the same grant.
- **Work** (`segments_grant_worker`, one message = one page): reads the grant; a message whose page is not
  the grant's next one is a duplicate and is dropped. It walks up to PAGE_SIZE members after `cursor` and
  grants each through marketing's `grant_coupon`, keyed by the grant, so a page delivered again (a crash,
  a redelivery, two copies) never gives a buyer a second coupon. Then it records the page's counts on
  condition that `pages` still equals the page's number (counted once) and, if the grant is still RUNNING,
  queues the next page, or marks it DONE after the last.
- **Cancel**: RUNNING -> CANCELLED at once; no page starts granting after it. A page already granting
  finishes and is counted; a page due after it only counts what an interrupted earlier delivery of it gave.
- **Failures**: an error on a buyer fails the page, which comes back (SQS) and repeats what it did for free;
  from its FAIL_AFTER_RECEIVES-th delivery on, a buyer that still errs is counted `failed` and the page moves
  on, so a poison buyer cannot hold a grant RUNNING. A grant whose next message was lost (a crash between
  recording a page and queueing the next) is found by the schedule's watchdog: RUNNING and untouched for
  STALL_MINUTES, its next page is queued again.

The segment is walked as it is while the grant runs (the refresh may add or drop buyers meanwhile), in
user_id order; `total` is its size when the grant began and `processed` how many members were walked.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.core import clock, metrics
from chalicelib.core.db import condition_failed, get_or_none
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.core.ids import new_id, require_id
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.segments import queue, service
from chalicelib.segments.models import CANCELLED, DONE, RUNNING, CouponGrantModel

log = logging.getLogger("micromall.segments")

PAGE_SIZE = 100  # buyers per queue message: about 5 DynamoDB calls each, well inside the worker's timeout
FAIL_AFTER_RECEIVES = 3  # SQS's ApproximateReceiveCount from which a buyer that errs is counted failed
STALL_MINUTES = 15  # longer than a message stays invisible to others (6 x the worker's 60 s timeout)
SKIPS = {"ALREADY_HOLDS": "already_holds", "LIMIT_REACHED": "per_user_limit", "SOLD_OUT": "template_exhausted",
         "ENDED": "template_ended"}
COUNTERS = ("granted", "already_holds", "per_user_limit", "template_exhausted", "template_ended", "account_deleted",
            "failed")


# --- the admin's side --------------------------------------------------------------------

def start_grant(segment: str, template_id: str, *, key: str | None, actor: str) -> dict[str, Any]:
    """A RUNNING grant of `template_id` to `segment`'s members, its first page queued; the same key answers it again."""
    from chalicelib.core.idempotency import claimed_id
    from chalicelib.marketing import templates

    service.require_segment(segment)
    if key is None or not key.strip():
        raise BadRequest("the Idempotency-Key header is required: send a new random key for each new grant",
                         code="IDEMPOTENCY_KEY_REQUIRED")
    request = {"segment": segment, "template_id": template_id}
    grant_id = claimed_id(f"segments#grant#{actor}", key, request)
    existing = get_or_none(CouponGrantModel, grant_id)
    if existing is not None:
        return _resumed(existing)
    template = templates.get_template(template_id)  # 404 COUPON_TEMPLATE_NOT_FOUND
    if template.status != "ACTIVE" or (template.ends_at and clock.parse_iso(template.ends_at) <= clock.now()):
        raise Conflict("this coupon template has ended; it cannot be granted", code="COUPON_ENDED")
    if template.remaining <= 0:
        raise Conflict("every coupon of this template is claimed; raise its total first", code="SOLD_OUT")
    snapshot = service.snapshot(segment)
    if snapshot is None:
        raise Conflict("this segment has not been computed yet; the schedule computes it shortly",
                       code="SEGMENT_NOT_COMPUTED")
    now = clock.now()
    grant = CouponGrantModel(grant_id, segment=segment, template_id=template_id, status=RUNNING,
                             total=int(snapshot.size), pages=0, created_by=actor, started_at=now, updated_at=now,
                             running=RUNNING, listing="ALL",
                             **{name: 0 for name in COUNTERS}, processed=0)
    try:
        grant.save(condition=CouponGrantModel.grant_id.does_not_exist())
    except Exception as exc:  # noqa: BLE001 - only a failed condition means "created meanwhile"
        if not condition_failed(exc):
            raise
        return _resumed(load_grant(grant_id))
    queue.send_page(grant_id, 0)
    return grant_view(grant)


def _resumed(grant: CouponGrantModel) -> dict[str, Any]:
    """A retried create: the grant it made. Not started yet (its first message may have been lost): queue it again
    (a second copy of page 0 is dropped by whichever delivery comes second)."""
    if grant.status == RUNNING and int(grant.pages) == 0:
        queue.send_page(grant.grant_id, 0)
    return grant_view(grant)


def load_grant(grant_id: str) -> CouponGrantModel:
    require_id(grant_id, "GRANT")
    grant = get_or_none(CouponGrantModel, grant_id)
    if grant is None:
        raise NotFound("coupon grant not found", code="GRANT_NOT_FOUND")
    return grant


def get_grant(grant_id: str) -> dict[str, Any]:
    return grant_view(load_grant(grant_id))


def list_grants(cursor: str | None, limit: int) -> dict[str, Any]:
    before = decode_cursor(cursor)
    condition = CouponGrantModel.grant_id < before if before else None
    rows = list(CouponGrantModel.all_grants.query("ALL", range_key_condition=condition, scan_index_forward=False,
                                                  limit=limit + 1, page_size=limit + 1))
    return {"items": [grant_view(row) for row in rows[:limit]],
            "next_cursor": encode_cursor(rows[limit - 1].grant_id) if len(rows) > limit else None}


def cancel_grant(grant_id: str, *, actor: str) -> dict[str, Any]:
    """RUNNING -> CANCELLED (no page starts granting after it); DONE or CANCELLED already: 409 / the same answer."""
    grant = load_grant(grant_id)
    if grant.status == CANCELLED:
        return grant_view(grant)
    if grant.status == DONE:
        raise Conflict("this grant is done; there is nothing left to cancel", code="GRANT_DONE")
    now = clock.now()
    try:
        grant.update(actions=[CouponGrantModel.status.set(CANCELLED), CouponGrantModel.finished_at.set(now),
                              CouponGrantModel.cancelled_by.set(actor), CouponGrantModel.updated_at.set(now),
                              CouponGrantModel.running.remove()],
                     condition=CouponGrantModel.status == RUNNING)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        return cancel_grant(grant_id, actor=actor)  # it finished (or was cancelled) meanwhile: answer as it is now
    return grant_view(grant)


def grant_view(grant: CouponGrantModel) -> dict[str, Any]:
    return {
        "grant_id": grant.grant_id, "segment": grant.segment, "template_id": grant.template_id,
        "status": grant.status, "total": int(grant.total), "processed": int(grant.processed or 0),
        "granted": int(grant.granted or 0),
        "skipped": {name: int(getattr(grant, name) or 0) for name in COUNTERS[1:-1]},
        "failed": int(grant.failed or 0), "pages": int(grant.pages or 0),
        "created_by": grant.created_by, "cancelled_by": grant.cancelled_by,
        "started_at": clock.iso(grant.started_at), "updated_at": clock.iso(grant.updated_at),
        "finished_at": clock.iso(grant.finished_at) if grant.finished_at else None,
    }


# --- the worker's side -------------------------------------------------------------------

def work(grant_id: str, page: int, receive_count: int = 1) -> str:
    """Walk one page of a grant (see the module's docstring); returns what became of it, for the log."""
    grant = get_or_none(CouponGrantModel, grant_id)
    if grant is None or int(grant.pages) != page or grant.status == DONE:
        return "duplicate"  # recorded already (or never a grant): nothing to do
    user_ids = service.members_after(grant.segment, grant.cursor, PAGE_SIZE)
    last = len(user_ids) < PAGE_SIZE
    if grant.status == RUNNING:
        tally = _grant_page(grant, user_ids, receive_count)
    else:  # cancelled before this page was recorded: count what an interrupted delivery of it gave, give no more
        tally = _count_given(grant, user_ids)
    status = _record(grant, page, user_ids, tally, last)
    if status is None:
        return "duplicate"
    for name, metric in (("granted", "SegmentCouponsGranted"), ("failed", "SegmentGrantFailed")):
        if grant.status == RUNNING and tally[name]:  # counted by the delivery that recorded the page
            metrics.count(metric, tally[name])
    if status == RUNNING:
        queue.send_page(grant_id, page + 1)
    return status


def _grant_page(grant: CouponGrantModel, user_ids: list[str], receive_count: int) -> dict[str, int]:
    from chalicelib.marketing import service as marketing
    from chalicelib.members import roster

    tally = dict.fromkeys(COUNTERS, 0)
    live = roster.live_profiles(user_ids)
    for user_id in user_ids:
        if user_id not in live:
            tally["account_deleted"] += 1
            continue
        try:
            result = marketing.grant_coupon(user_id, grant.template_id, grant_key=grant.grant_id)
        except Exception:
            if receive_count < FAIL_AFTER_RECEIVES:
                raise  # the page comes back; what it gave so far is given once however often it runs
            log.exception("grant %s: buyer %s failed on delivery %d; counted failed", grant.grant_id, user_id,
                          receive_count)
            tally["failed"] += 1
            continue
        tally[SKIPS.get(result.outcome, "granted")] += 1
    return tally


def _count_given(grant: CouponGrantModel, user_ids: list[str]) -> dict[str, int]:
    from chalicelib.marketing import service as marketing

    tally = dict.fromkeys(COUNTERS, 0)
    tally["granted"] = sum(marketing.granted_coupon(grant.grant_id, user_id) is not None for user_id in user_ids)
    return tally


def _record(grant: CouponGrantModel, page: int, user_ids: list[str], tally: dict[str, int], last: bool) -> str | None:
    """Add the page's counts once (condition: `pages` is still `page`); the grant's status after, None if another
    delivery recorded the page first. The write stores a token of its own (`recorded_by`): resent after its reply
    was lost, it fails its own condition and reads the token back instead of taking itself for another delivery."""
    model, now, token = CouponGrantModel, clock.now(), new_id()
    actions = [model.pages.set(page + 1), model.updated_at.set(now), model.processed.add(sum(tally.values())),
               model.recorded_by.set(token), *(getattr(model, name).add(count) for name, count in tally.items() if count)]
    if user_ids:
        actions.append(model.cursor.set(user_ids[-1]))
    if grant.status == RUNNING:
        finish = [model.status.set(DONE), model.finished_at.set(now), model.running.remove()] if last else []
        if _update(grant, actions + finish, (model.pages == page) & (model.status == RUNNING)):
            return DONE if last else RUNNING
    # cancelled (before, or while this page granted: its coupons were given, so its counts still go in)
    if _update(grant, actions, model.pages == page):
        return CANCELLED
    now_stored = get_or_none(CouponGrantModel, grant.grant_id)
    return now_stored.status if now_stored is not None and now_stored.recorded_by == token else None


def _update(grant: CouponGrantModel, actions: list, condition) -> bool:
    try:
        CouponGrantModel(grant.grant_id).update(actions=actions, condition=condition)
        return True
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise


def rekick_stalled() -> int:
    """Queue again the next page of every RUNNING grant untouched for STALL_MINUTES (its message was lost)."""
    stale_before = clock.now() - timedelta(minutes=STALL_MINUTES)
    kicked = 0
    for key in CouponGrantModel.running_grants.query(RUNNING):
        grant = get_or_none(CouponGrantModel, key.grant_id)
        if grant is None or grant.status != RUNNING or grant.updated_at > stale_before:
            continue
        page = int(grant.pages)
        # touched first, on condition nothing moved: two watchdogs at once queue it once
        if _update(grant, [CouponGrantModel.updated_at.set(clock.now())],
                   (CouponGrantModel.pages == page) & (CouponGrantModel.updated_at == grant.updated_at)):
            log.warning("grant %s: no progress since %s; page %d queued again", grant.grant_id,
                        clock.iso(grant.updated_at), page)
            queue.send_page(grant.grant_id, page)
            kicked += 1
    return kicked
