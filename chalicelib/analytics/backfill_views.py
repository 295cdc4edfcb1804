"""What the backfill routes answer, for /openapi.json only: the handlers answer plain dicts of this shape."""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from chalicelib.core.schema import Schema


class BackfillJobView(Schema):
    job_id: str
    from_: str = Field(alias="from")  # first shop day of the orders replayed
    to: str
    status: str  # RUNNING, DONE, CANCELLED
    live_since: str  # the first shop day the live stream counted orders on
    pages: int  # pages of up to 100 orders counted
    orders_read: int
    counted: int  # facts (placed, paid, refunded, a first payment) this job counted
    already_counted: int  # facts the live stream or an earlier job had counted: left as they were
    left_to_live: int  # facts of days the live stream counted whose markers may have expired: not touched
    stalled: bool  # RUNNING and untouched for 15 minutes: resume it
    created_by: str
    cancelled_by: Optional[str]
    started_at: str
    updated_at: str
    finished_at: Optional[str]
