"""What each event trigger does with a batch its handler fails: one description, read by the cloud and the local pump.

In AWS these are the event source mapping's settings (retry attempts, splitting a failing
batch, maximum record age, an on-failure destination, partial-batch responses). The local
event pump reads the same settings, so a failing record behaves the same on a laptop as in
the cloud.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TriggerSettings:
    maximum_retry_attempts: int = 2
    bisect_batch_on_function_error: bool = True
    maximum_record_age_seconds: int = 3600
    # Logical queue name (prefixed like every queue) that receives what still fails; None: dropped, with an error log.
    on_failure_queue: str | None = None
    report_batch_item_failures: bool = False


DEFAULT = TriggerSettings()


def trigger_settings(handler_name: str) -> TriggerSettings:
    """The settings of the trigger that invokes `handler_name` (a Chalice event handler's name)."""
    return DEFAULT
