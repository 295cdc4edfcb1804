"""Where the mall's log lines go: structured JSON in Lambda, readable lines locally.

Chalice configures the app's logger ("micromall", the app name) at ERROR without
propagation, so every `micromall.*` logger inherited ERROR and each `log.info` and
`log.warning` of the mall was dropped. The app is built with Chalice's logging off
(`configure_logs=False`) and `configure()` owns the "micromall" logger instead:

- its level is `MALL_LOG_LEVEL` (default INFO);
- in Lambda (AWS_LAMBDA_FUNCTION_NAME set) each line is one JSON object from Powertools'
  formatter, with the invocation's keys (request id, cold start, function) and the
  ones a request adds (`bind(buyer_id=..., order_id=...)`) as top-level keys;
- elsewhere a line is `time LEVEL logger: message key=value ...`.

Powertools is imported by the first line written in Lambda, not at cold start: a
product page that logs nothing never pays for it.
"""
from __future__ import annotations

import logging
import os
import sys
from contextvars import ContextVar
from typing import Any

from chalicelib.core import tracing

ROOT = "micromall"
DEFAULT_LEVEL = "INFO"

# One dict per invocation (and per thread of the local server: a new thread starts with the default).
_keys: ContextVar[dict[str, Any] | None] = ContextVar("micromall_log_keys", default=None)
_cold_start = True


def bind(**keys: Any) -> None:
    """Adds keys (buyer_id, order_id, group_id, ...) to every line written until the invocation ends,
    and to the invocation's trace as annotations (when it is traced: core.tracing)."""
    keys = {key: value for key, value in keys.items() if value is not None}
    current = dict(_keys.get() or {})
    current.update(keys)
    _keys.set(current)
    tracing.annotate(**keys)


def bound() -> dict[str, Any]:
    return dict(_keys.get() or {})


def start_invocation(context: Any) -> None:
    """Forget the previous invocation's keys; name this one's (request id, cold start, function)."""
    global _cold_start
    keys: dict[str, Any] = {"cold_start": _cold_start}
    _cold_start = False
    if context is not None:
        for key, attribute in (("function_request_id", "aws_request_id"), ("function_name", "function_name"),
                               ("function_memory_size", "memory_limit_in_mb"),
                               ("function_arn", "invoked_function_arn")):
            value = getattr(context, attribute, None)
            if value is not None:
                keys[key] = value
    _keys.set(keys)


def invocation_middleware(event: Any, get_response):
    """Chalice middleware for every event type: each invocation starts with its own keys."""
    context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
    start_invocation(context)
    return get_response(event)


class _KeysFilter(logging.Filter):
    """Copies the bound keys onto each record, where both formatters find them."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_keys.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        record.mall_keys = tuple(_keys.get() or {})
        return True


class _StdoutHandler(logging.StreamHandler):
    """Writes to the current sys.stdout (Lambda ships stdout to CloudWatch; tests capture it)."""

    def __init__(self, json_lines: bool) -> None:
        super().__init__(sys.stdout)
        self.json_lines = json_lines
        self.addFilter(_KeysFilter())
        if not json_lines:
            self.setFormatter(PlainFormatter())

    def format(self, record: logging.LogRecord) -> str:
        # Nothing logs a buyer's phone; this masks one that reaches a line anyway (an exception's text).
        from chalicelib.core.masking import redact

        return redact(super().format(record))

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        if self.formatter is None:  # the first JSON line imports Powertools
            from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

            self.setFormatter(_JsonFormatter(LambdaPowertoolsFormatter(
                service=os.environ.get("POWERTOOLS_SERVICE_NAME", ROOT), utc=True)))
        super().emit(record)


class _JsonFormatter(logging.Formatter):
    """Powertools' JSON, without the bookkeeping attribute the filter adds."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        record.__dict__.pop("mall_keys", None)
        return self.inner.format(record)


# Lambda's bookkeeping: in CloudWatch it finds an invocation; on a laptop it only makes lines long.
_NOT_SHOWN_LOCALLY = frozenset({"cold_start", "function_request_id", "function_memory_size", "function_arn"})


class PlainFormatter(logging.Formatter):
    """`12:00:01 WARNING micromall.checkout: message buyer_id=... order_id=...`"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        keys = [key for key in getattr(record, "mall_keys", ()) if key not in _NOT_SHOWN_LOCALLY]
        if keys:
            first, newline, rest = line.partition("\n")  # a traceback stays below the keys
            line = first + " " + " ".join(f"{key}={getattr(record, key)}" for key in keys) + newline + rest
        return line


def level_from_env() -> int:
    name = (os.environ.get("MALL_LOG_LEVEL") or DEFAULT_LEVEL).strip().upper()
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO


def in_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def configure(json_lines: bool | None = None) -> logging.Logger:
    """Set up the "micromall" logger once per process (again when the mode or level changes)."""
    json_lines = in_lambda() if json_lines is None else json_lines
    logger = logging.getLogger(ROOT)
    logger.setLevel(level_from_env())
    logger.propagate = False  # one line per record: Lambda's root handler would print it a second time
    ours = [handler for handler in logger.handlers if isinstance(handler, _StdoutHandler)]
    if ours and ours[0].json_lines == json_lines:
        return logger
    for handler in ours:
        logger.removeHandler(handler)
    logger.addHandler(_StdoutHandler(json_lines))
    return logger
