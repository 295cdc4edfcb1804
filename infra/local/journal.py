"""Durable local data: a journal of every acknowledged write, folded into a snapshot now and then.

The embedded server appends one line per successful write request *before* it
replies: the after-image of every item the request changed (and its
before-image, for the stream). A line is one `write()` of a whole request, so a
restart sees all of a transaction or none of it; a `kill -9` cannot lose a line
the kernel took (`MALL_LOCAL_FSYNC=1` also survives a power cut, at a cost per
write). Every `compact_seconds` with new lines, the journal is rotated (under the
server's lock, so the cut is between two requests) and folded into
`dynamodb.json` off the lock. After-images are absolute, so folding a segment
twice (a crash mid-compaction) is harmless.

Queue messages are journaled beside the items (`queue_state`): each line may also
carry what a request sent to or deleted from the embedded SQS queues.

Files under the data directory:
    dynamodb.json                  {table: [items]}: the last folded state
    sqs.json                       {queue: {message id: message}}: the queues' last folded state
    dynamodb.journal               lines since that state
    dynamodb.journal.compacting    a rotated segment being folded (present only mid-compaction)
    dynamodb.journal.previous      the last folded segment: its stream records are delivered
                                   again after a restart, as at-least-once delivery allows
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local import queue_state

KeySchema = Callable[[str], "tuple[str, str | None] | None"]
Change = tuple[str, "dict | None", "dict | None"]  # table, before, after (DynamoDB JSON attributes)


@dataclass
class Restored:
    tables: dict[str, list[dict]] = field(default_factory=dict)
    queues: dict[str, dict[str, dict]] = field(default_factory=dict)
    changes_to_redeliver: list[Change] = field(default_factory=list)
    lines_replayed: int = 0


class Journal:
    def __init__(self, directory: Path, key_schema: KeySchema, *, fsync: bool = False):
        self.directory = directory
        self._key_schema = key_schema
        self._fsync = fsync
        self.snapshot_path = directory / "dynamodb.json"
        self.queues_path = directory / "sqs.json"
        self.path = directory / "dynamodb.journal"
        self.compacting_path = directory / "dynamodb.journal.compacting"
        self.previous_path = directory / "dynamodb.journal.previous"
        self._fd: int | None = None
        self.lines_since_compaction = 0
        self._compaction_lock = threading.Lock()

    # --- writing (the server calls these under its request lock) ------------------------------

    def open(self) -> Journal:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size and not self.lines_since_compaction:
            self.lines_since_compaction = 1  # lines a killed run left: the next compaction folds them too
        return self

    def append(self, changes: list[Change], queue_changes: list[list] | None = None) -> None:
        if self._fd is None:
            raise RuntimeError("journal is not open")
        entry: dict[str, Any] = {"w": changes}
        if queue_changes:
            entry["q"] = queue_changes
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode())
        if self._fsync:
            os.fsync(self._fd)
        self.lines_since_compaction += 1

    def rotate(self) -> bool:
        """Starts a new journal file; the old one becomes the segment to fold. Call between two requests."""
        if self._fd is None or self.lines_since_compaction == 0 or self.compacting_path.exists():
            return False
        os.close(self._fd)
        os.replace(self.path, self.compacting_path)
        self.lines_since_compaction = 0
        self.open()
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # --- folding and restoring (off the request lock) -----------------------------------------------

    def fold_rotated(self) -> int:
        """Folds the rotated segment into the snapshot (written atomically). Returns the items saved."""
        with self._compaction_lock:
            if not self.compacting_path.exists():
                return 0
            tables, queues = self._keyed(self._read_snapshot()), self._read_queues()
            for entry in _lines(self.compacting_path):
                self._apply(tables, entry["w"])
                queue_state.apply(queues, entry.get("q", []))
            saved = self._write_snapshot(tables)
            _write_atomically(self.queues_path, queues)
            os.replace(self.compacting_path, self.previous_path)
            return saved

    def restore(self) -> Restored:
        """The state to load at start: the snapshot plus every journal line, and the stream records to redeliver."""
        tables = self._keyed(self._read_snapshot())
        restored = Restored(queues=self._read_queues())
        for path in (self.previous_path, self.compacting_path, self.path):
            for entry in _lines(path):
                if path is not self.previous_path:  # the previous segment is in the snapshot already
                    self._apply(tables, entry["w"])
                    queue_state.apply(restored.queues, entry.get("q", []))
                    restored.lines_replayed += 1
                restored.changes_to_redeliver.extend(entry["w"])
        restored.tables = {name: list(items.values()) for name, items in tables.items()}
        return restored

    def _read_snapshot(self) -> dict[str, list[dict]]:
        if not self.snapshot_path.exists():
            return {}
        return json.loads(self.snapshot_path.read_text(encoding="utf-8"))

    def _read_queues(self) -> dict[str, dict[str, dict]]:
        return json.loads(self.queues_path.read_text(encoding="utf-8")) if self.queues_path.exists() else {}

    def _write_snapshot(self, tables: dict[str, dict[str, dict]]) -> int:
        plain = {name: list(items.values()) for name, items in tables.items()}
        _write_atomically(self.snapshot_path, plain)
        return sum(len(items) for items in plain.values())

    def _keyed(self, tables: dict[str, list[dict]]) -> dict[str, dict[str, dict]]:
        keyed: dict[str, dict[str, dict]] = {}
        for name, items in tables.items():
            schema = self._key_schema(name)
            if schema is None:
                continue  # a table the code no longer defines
            keyed[name] = {_key(item, schema): item for item in items}
        return keyed

    def _apply(self, tables: dict[str, dict[str, dict]], changes: list[Change]) -> None:
        for name, before, after in changes:
            schema = self._key_schema(name)
            if schema is None:
                continue
            key = _key(after or before, schema)
            if after is None:
                tables.setdefault(name, {}).pop(key, None)
            else:
                tables.setdefault(name, {})[key] = after


def _write_atomically(path: Path, data: Any) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    os.replace(temporary, path)  # atomic: a crash never leaves half a snapshot


def _key(item: dict[str, Any], schema: tuple[str, str | None]) -> str:
    hash_attribute, range_attribute = schema
    return json.dumps([item[hash_attribute], item.get(range_attribute) if range_attribute else None], sort_keys=True)


def _lines(path: Path) -> Iterator[dict[str, list]]:
    """Each complete line ({"w": item changes, "q": queue changes}); a torn last line (a kill mid-write) is skipped."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.endswith("\n"):
                return
            entry = json.loads(line)
            yield {"w": [tuple(change) for change in entry["w"]], "q": entry.get("q", [])}
