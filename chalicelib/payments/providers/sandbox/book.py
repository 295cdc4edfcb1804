"""The twins' trades (one JSON file beside the keys), and what both twins share.

The twins keep their trades in `sandbox-trades.json` rather than deriving a query's
answer from the notification they built: a query must answer after a restart, for a
trade prepaid but never paid (NOTPAY), and after refunds changed the trade, and the
local server and a tester's script must see the same trades. Each write replaces the
file atomically under a per-file lock; two processes writing in the same instant may
lose one update, which a local stack can live with.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chalicelib.core.money import check_fen

_book_locks: dict[Path, threading.Lock] = {}
_book_locks_guard = threading.Lock()


class TradeBook:
    """The twins' trades by provider section and out_trade_no, in one JSON file."""

    def __init__(self, path: Path):
        self.path = path
        with _book_locks_guard:
            self._lock = _book_locks.setdefault(path.resolve(), threading.Lock())

    def read(self, section: str, out_trade_no: str) -> dict[str, Any] | None:
        return self._load().get(section, {}).get(out_trade_no)

    def update(self, section: str, out_trade_no: str,
               change: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
        """Store `change(current trade or None)`; an exception from `change` stores nothing."""
        with self._lock:
            document = self._load()
            trade = change(document.get(section, {}).get(out_trade_no))
            document.setdefault(section, {})[out_trade_no] = trade
            self._save(document)
            return trade

    def all(self, section: str) -> dict[str, dict[str, Any]]:
        return self._load().get(section, {})

    def script(self, section: str, out_trade_no: str, outcomes: tuple[str, ...]) -> None:
        """Queue what the next refunds of a trade end as (tests, the local tester); unscripted ones succeed."""
        self.update(f"{section}-scripts", out_trade_no, lambda queued: [*(queued or []), *outcomes])

    def next_outcome(self, section: str, out_trade_no: str, default: str) -> str:
        """The oldest queued outcome for a trade's refund call, taken off the queue; `default` when none waits."""
        taken: list[str] = []

        def take(queued: list[str] | None) -> list[str]:
            queued = list(queued or [])
            if queued:
                taken.append(queued.pop(0))
            return queued

        self.update(f"{section}-scripts", out_trade_no, take)
        return taken[0] if taken else default

    def _load(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _save(self, document: dict[str, Any]) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        temporary.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(temporary, self.path)  # readers see the old file or the new one, never half


class Refused(Exception):
    """A twin refusing a request, as the provider would: `status` is WeChat's HTTP status or Alipay's gateway code."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


# --- shared by both twins ---------------------------------------------------------

def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_request(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        raise Refused(400, "PARAM_ERROR", "the body is not JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, "PARAM_ERROR", "the body is not a JSON object")
    return value


def biz_content(params: dict[str, str]) -> dict[str, Any]:
    try:
        biz = json.loads(params.get("biz_content") or "{}")
    except ValueError:
        biz = None
    if not isinstance(biz, dict):
        raise Refused(40002, "isv.invalid-parameter", "biz_content is not a JSON object")
    return biz


def field(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def positive_fen(value: Any) -> bool:
    try:
        return check_fen(value) > 0
    except ValueError:
        return False
