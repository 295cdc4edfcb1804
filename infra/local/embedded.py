"""An embedded DynamoDB (and SQS) on loopback: moto's server, one request at a time.

Moto's backends are not atomic under concurrent requests: two conditional
updates racing on one item can both pass their condition (we saw a conditional
stock decrement oversell in one of three runs at 128 threads). DynamoDB
guarantees a conditional write is atomic, and the mall's correctness rests on
that, so this server runs each request to completion behind one lock.

Data survives restarts: after any write the tables are snapshotted to a JSON
file (at most every `snapshot_seconds`, and once more on stop), and restored
into freshly created tables on start. A hard kill loses at most the last
interval.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

MUTATING_TARGETS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
                    "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction")


class SerializedApp:
    """WSGI wrapper: one request at a time, and a flag raised by every write."""

    def __init__(self, app: Any):
        self._app = app
        self._lock = threading.Lock()
        self.dirty = threading.Event()

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        with self._lock:
            body = list(self._app(environ, start_response))
        if target.startswith("DynamoDB_") and target.split(".")[-1] in MUTATING_TARGETS:
            self.dirty.set()
        return body


def _quiet_handler() -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    return QuietHandler


class EmbeddedAws:
    """Moto's server on `host:port` (0 = any free port), serialized."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.app = SerializedApp(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(host, port, self.app, threaded=True, request_handler=_quiet_handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-aws", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> EmbeddedAws:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def reset(self) -> None:
        """Forget every table and queue (moto's backends are per process, shared by all servers)."""
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=5)


def dynamodb_client(endpoint: str | None, region: str) -> Any:
    import boto3

    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="local", aws_secret_access_key="local")


class Snapshots:
    """Saves every table's items to one JSON file and loads them back."""

    def __init__(self, client: Any, path: Path):
        self._client = client
        self.path = path

    def save(self) -> int:
        tables = {name: self._scan(name) for name in self._table_names()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(tables), encoding="utf-8")
        os.replace(temporary, self.path)  # atomic: a crash never leaves half a snapshot
        return sum(len(items) for items in tables.values())

    def restore(self) -> int:
        if not self.path.exists():
            return 0
        tables = json.loads(self.path.read_text(encoding="utf-8"))
        existing = set(self._table_names())
        restored = 0
        for name, items in tables.items():
            if name not in existing:
                continue  # a table the code no longer defines
            for start in range(0, len(items), 25):
                self._write_batch(name, items[start:start + 25])
            restored += len(items)
        return restored

    def _write_batch(self, table: str, items: list[dict]) -> None:
        pending = {table: [{"PutRequest": {"Item": item}} for item in items]}
        while pending:
            pending = self._client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    def _table_names(self) -> list[str]:
        names: list[str] = []
        for page in self._client.get_paginator("list_tables").paginate():
            names.extend(page["TableNames"])
        return names

    def _scan(self, table: str) -> list[dict]:
        items: list[dict] = []
        for page in self._client.get_paginator("scan").paginate(TableName=table):
            items.extend(page["Items"])
        return items


class SnapshotLoop:
    """Snapshots after writes, at most every `interval` seconds, and once more on stop."""

    def __init__(self, snapshots: Snapshots, dirty: threading.Event, interval: float = 2.0):
        self._snapshots = snapshots
        self._dirty = dirty
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapshots", daemon=True)

    def start(self) -> SnapshotLoop:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def flush(self) -> None:
        if self._dirty.is_set():
            self._dirty.clear()
            self._snapshots.save()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.flush()
