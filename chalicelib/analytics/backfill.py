"""The backfill: an owner replays the orders placed before analytics counted them into the per-day counters.

- **Start** (`POST /admin/analytics/backfill {"from", "to"}`, owner): writes the job RUNNING and queues its first
  page. The job keeps `live_since`, the first shop day the live stream counted orders on (found once, by the
  first job ever, before any job wrote a counter; replay.py says why it matters).
- **Work** (`analytics_backfill_worker`, one message = one page): reads the job; a message whose page is not the
  job's next is a duplicate and is dropped. It reads up to PAGE_SIZE orders placed in the range after `cursor`
  through checkout's `history.orders_placed_between`, counts their facts once (replay.py), records the page's
  tally on condition that `pages` still equals the page's number, and queues the next page, or marks the job
  DONE after the last.
- **Every state has a way out**: RUNNING -> DONE (the last page) or CANCELLED (the cancel route; no page starts
  after it). A page that fails comes back from the queue and repeats for free (every fact behind its marker);
  after 5 receives the queue dead-letters it (`analytics-backfill-dlq`, `python -m infra redrive`). A job whose
  next message was lost or dead-lettered is resumed by the owner (`.../resume` queues its next page again;
  a second copy of a page is dropped by whichever delivery comes second).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, time, timedelta
from typing import Any

from chalicelib.analytics import days
from chalicelib.analytics.models import CANCELLED, DONE, MARK_DAYS, RUNNING, BackfillJob, CounterRow, Mark
from chalicelib.core import clock, config, db, events
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.core.ids import new_id, require_id

log = logging.getLogger("micromall.analytics")

QUEUE = "analytics-backfill"
PAGE_SIZE = 100  # orders per message: a few transactions of facts, well inside the worker's timeout
MAX_DAYS = 366
FRESH_MARGIN_DAYS = 2  # a marker lives MARK_DAYS from when it was counted; time zones and TTL get these spare
LIVE_SINCE_MARK = "live-since#orders"  # the Mark keeping `live_since` (kept for good)
STALL_MINUTES = 15
TALLY = ("orders_read", "counted", "already_counted", "left_to_live")


# --- the owner's side ----------------------------------------------------------------------

def start_job(start: str, end: str, *, actor: str) -> dict[str, Any]:
    """A RUNNING backfill of the orders placed on shop days `start`..`end`, its first page queued."""
    first, last = _day(start, "from"), _day(end, "to")
    if first > last:
        raise BadRequest("from is after to", code="INVALID_RANGE")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRequest(f"a backfill covers at most {MAX_DAYS} days; run one per year", code="RANGE_TOO_LONG")
    if last.isoformat() > days.today():
        raise BadRequest("to is in the future", code="INVALID_RANGE")
    now = clock.now()
    job = BackfillJob(new_id(), from_day=first.isoformat(), to_day=last.isoformat(), status=RUNNING,
                      live_since=live_since(), pages=0, created_by=actor, started_at=now, updated_at=now,
                      **dict.fromkeys(TALLY, 0))
    job.save(condition=BackfillJob.job_id.does_not_exist())
    send_page(job.job_id, 0)
    return job_view(job)


def _day(text: str, name: str):
    try:
        return days.parse_day(text)
    except ValueError:
        raise BadRequest(f"{name} is a YYYY-MM-DD date", code="INVALID_DATE") from None


def live_since() -> str:
    """The first shop day the live stream counted an order, payment or refund on (today if none yet). Found once
    by scanning the day totals (before any backfill wrote one) and kept for good: later jobs read it."""
    stored = db.get_or_none(Mark, LIVE_SINCE_MARK)
    if stored is not None and stored.day:
        return stored.day
    found = min(_days_with_order_facts(), default=days.today())
    try:
        Mark(LIVE_SINCE_MARK, day=found).save(condition=Mark.mark.does_not_exist())
    except Exception as exc:  # noqa: BLE001 - only a failed condition: another job found it first
        if not db.condition_failed(exc):
            raise
        return db.get_or_none(Mark, LIVE_SINCE_MARK).day
    return found


def _days_with_order_facts() -> list[str]:
    request: dict[str, Any] = {
        "TableName": CounterRow.Meta.table_name, "ProjectionExpression": "#day",
        "FilterExpression": "#slot = :totals AND (attribute_exists(orders) OR attribute_exists(paid_orders) "
                            "OR attribute_exists(refunds))",
        "ExpressionAttributeNames": {"#day": "day", "#slot": "slot"},
        "ExpressionAttributeValues": {":totals": {"S": "totals"}}}
    found: list[str] = []
    while True:
        answer = db.connection().dispatch("Scan", request)
        found += [item["day"]["S"] for item in answer.get("Items", [])]
        if not answer.get("LastEvaluatedKey"):
            return found
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def load_job(job_id: str) -> BackfillJob:
    require_id(job_id, "BACKFILL")
    job = db.get_or_none(BackfillJob, job_id)
    if job is None:
        raise NotFound("backfill not found", code="BACKFILL_NOT_FOUND")
    return job


def get_job(job_id: str) -> dict[str, Any]:
    return job_view(load_job(job_id))


def cancel_job(job_id: str, *, actor: str) -> dict[str, Any]:
    """RUNNING -> CANCELLED (no page starts after it; what was counted stays counted); DONE: 409."""
    job = load_job(job_id)
    if job.status == CANCELLED:
        return job_view(job)
    if job.status == DONE:
        raise Conflict("this backfill is done; there is nothing left to cancel", code="BACKFILL_DONE")
    now = clock.now()
    if _update(job, [BackfillJob.status.set(CANCELLED), BackfillJob.finished_at.set(now),
                     BackfillJob.cancelled_by.set(actor), BackfillJob.updated_at.set(now)],
               BackfillJob.status == RUNNING):
        return job_view(load_job(job_id))
    return cancel_job(job_id, actor=actor)  # it finished (or was cancelled) meanwhile: answer as it is now


def resume_job(job_id: str) -> dict[str, Any]:
    """Queue a RUNNING job's next page again (its message was lost or dead-lettered); 409 for a finished one."""
    job = load_job(job_id)
    if job.status != RUNNING:
        raise Conflict(f"this backfill is {job.status}; only a running one resumes", code="BACKFILL_NOT_RUNNING")
    send_page(job.job_id, int(job.pages))
    return job_view(job)


def job_view(job: BackfillJob) -> dict[str, Any]:
    stalled = job.status == RUNNING and clock.now() - job.updated_at > timedelta(minutes=STALL_MINUTES)
    return {"job_id": job.job_id, "from": job.from_day, "to": job.to_day, "status": job.status,
            "live_since": job.live_since, "pages": int(job.pages),
            **{name: int(getattr(job, name) or 0) for name in TALLY}, "stalled": stalled,
            "created_by": job.created_by, "cancelled_by": job.cancelled_by,
            "started_at": clock.iso(job.started_at), "updated_at": clock.iso(job.updated_at),
            "finished_at": clock.iso(job.finished_at) if job.finished_at else None}


# --- the worker's side ---------------------------------------------------------------------

def work(job_id: str, page: int) -> str:
    """Count one page of a job (see the module's docstring); returns what became of it, for the log."""
    from chalicelib.analytics.replay import replay
    from chalicelib.checkout.history import orders_placed_between

    job = db.get_or_none(BackfillJob, job_id)
    if job is None or int(job.pages) != page:
        return "duplicate"  # recorded already (or never a job): nothing to do
    if job.status != RUNNING:
        return job.status.lower()  # cancelled: no page starts after it
    start, end = _moments(job)
    orders, after = orders_placed_between(start, end, job.cursor, PAGE_SIZE)
    tally = replay(orders, window(job))
    last = after is None
    status = _record(job, page, orders[-1]["order_id"] if orders else None, tally.as_adds(), last)
    if status == RUNNING:
        send_page(job_id, page + 1)
    log.info("backfill %s page %d: %d orders, %s; %s", job_id, page, len(orders), tally.as_adds(), status)
    return status or "duplicate"


def window(job: BackfillJob):
    from chalicelib.analytics.replay import Window

    fresh_from = days.shift(days.parse_day(days.today()), -(MARK_DAYS - FRESH_MARGIN_DAYS)).isoformat()
    return Window(live_since=job.live_since, fresh_from=fresh_from)


def _moments(job: BackfillJob) -> tuple[datetime, datetime]:
    """The first and last moment of the job's shop days."""
    zone = days.shop_zone()
    start = datetime.combine(days.parse_day(job.from_day), time.min, tzinfo=zone)
    end = datetime.combine(days.parse_day(job.to_day), time.max, tzinfo=zone)
    return start, end


def _record(job: BackfillJob, page: int, cursor: str | None, tally: dict[str, int], last: bool) -> str | None:
    """Adds the page's tally once (condition: `pages` is still `page`); the job's status after, None when another
    delivery recorded the page first. Its own token (`recorded_by`) tells a resent write from another delivery."""
    model, now, token = BackfillJob, clock.now(), new_id()
    actions = [model.pages.set(page + 1), model.updated_at.set(now), model.recorded_by.set(token),
               *(getattr(model, name).add(count) for name, count in tally.items() if count)]
    if cursor:
        actions.append(model.cursor.set(cursor))
    finish = [model.status.set(DONE), model.finished_at.set(now)] if last else []
    if _update(job, actions + finish, (model.pages == page) & (model.status == RUNNING)):
        return DONE if last else RUNNING
    if _update(job, actions, model.pages == page):  # cancelled while this page counted: its tally still goes in
        return CANCELLED
    stored = db.get_or_none(BackfillJob, job.job_id)
    return stored.status if stored is not None and stored.recorded_by == token else None


def _update(job: BackfillJob, actions: list, condition: Any) -> bool:
    from pynamodb.exceptions import UpdateError

    try:
        BackfillJob(job.job_id).update(actions=actions, condition=condition)
        return True
    except UpdateError as exc:
        if db.condition_failed(exc):
            return False
        raise


# --- the queue -----------------------------------------------------------------------------

_queue_urls: dict[tuple[str | None, str], str] = {}


def _sqs() -> Any:
    import boto3

    return boto3.client("sqs", endpoint_url=config.dynamodb_endpoint(), region_name=config.region())


def send_page(job_id: str, page: int) -> None:
    client = _sqs()
    key = (config.dynamodb_endpoint(), events.queue_name(QUEUE))
    if key not in _queue_urls:
        _queue_urls[key] = client.get_queue_url(QueueName=key[1])["QueueUrl"]
    client.send_message(QueueUrl=_queue_urls[key], MessageBody=json.dumps({"job_id": job_id, "page": page}))


def page_of(body: str) -> tuple[str, int]:
    """(job_id, page) from a message body; ValueError for one the mall did not write."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        raise ValueError(f"not a backfill page message: {body[:200]!r}") from None
    job_id, page = (data.get("job_id"), data.get("page")) if isinstance(data, dict) else (None, None)
    if not isinstance(job_id, str) or not isinstance(page, int) or isinstance(page, bool) or page < 0:
        raise ValueError(f"not a backfill page message: {body[:200]!r}")
    return job_id, page
