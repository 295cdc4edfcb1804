"""An embedded DynamoDB (and SQS) on loopback: moto's server, one request at a time, durable.

Moto's backends are not atomic under concurrent requests: two conditional
updates racing on one item can both pass their condition (we saw a conditional
stock decrement oversell in one of three runs at 128 threads). DynamoDB
guarantees a conditional write is atomic, and the mall's correctness rests on
that, so this server runs each request to completion behind one lock.

Moto is made to cost what DynamoDB costs (`moto_tables`: transactions with an
undo log, queries that read one partition; `moto_streams`: bounded stream
memory). With a data directory, every acknowledged write is journaled before the
reply and the journal is folded into a snapshot now and then (`journal`): a
`kill -9` loses nothing the server acknowledged, and a restart never shows half
a transaction.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from infra.local import moto_pin, moto_serialize, moto_streams, moto_tables, queue_state
from infra.local.journal import Journal, Restored

DYNAMODB_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
                   "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction")
# ReceiveMessage too: past a queue's maxReceiveCount it moves the message to the dead-letter queue.
QUEUE_WRITES = ("SendMessage", "SendMessageBatch", "DeleteMessage", "DeleteMessageBatch", "PurgeQueue",
                "ReceiveMessage", "DeleteQueue")
COMPACT_SECONDS = 30.0


class SerializedApp:
    """WSGI wrapper: one request at a time; each acknowledged write journaled, then announced on `written`."""

    def __init__(self, app: Any):
        self._app = app
        self.lock = threading.Lock()
        self.written = threading.Event()
        self.journal: Journal | None = None

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        service, _, operation = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")
        if service.startswith("DynamoDB_") and operation in DYNAMODB_WRITES:
            return self._write(environ, start_response)
        if service.startswith("AmazonSQS") and operation in QUEUE_WRITES:
            return self._queue_write(environ, start_response, wakes=operation != "ReceiveMessage")
        with self.lock:
            return list(self._app(environ, start_response))

    def _queue_write(self, environ: dict, start_response: Any, wakes: bool) -> list[bytes]:
        with self.lock:
            before = queue_state.message_ids() if self.journal is not None else {}
            body = list(self._app(environ, start_response))
            changes = queue_state.changes_since(before) if self.journal is not None else []
            if changes:
                self.journal.append([], changes)
        if wakes:
            self.written.set()
        return body

    def _write(self, environ: dict, start_response: Any) -> list[bytes]:
        statuses: list[str] = []

        def recording_start_response(status: str, headers: list, exc_info: Any = None) -> Any:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        with self.lock:
            with moto_tables.recording(moto_tables.ChangeSet()) as change_set:
                body = list(self._app(environ, recording_start_response))
            changes = change_set.changes() if statuses and statuses[0].startswith("200") else []
            if changes and self.journal is not None:
                self.journal.append([(table.name, _attributes(before), _attributes(after))
                                     for table, before, after in changes])
        if changes:
            self.written.set()
        return body


def _attributes(item: Any) -> dict | None:
    return None if item is None else item.to_json()["Attributes"]


def _quiet_handler() -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietHandler(MotoRequestHandler):
        # A reply goes out as headers, then body: with Nagle's algorithm on, a keep-alive client's delayed
        # ACK holds the second segment for 40 ms on every call.
        disable_nagle_algorithm = True

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    return QuietHandler


class EmbeddedAws:
    """Moto's server on `host:port` (0 = any free port), serialized; durable when given a data directory."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        moto_tables.install()
        moto_streams.install()
        moto_serialize.install()
        moto_streams.release_read_records(True)
        self.app = SerializedApp(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(host, port, self.app, threaded=True, request_handler=_quiet_handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-aws", daemon=True)
        self._compactor: Compactor | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> EmbeddedAws:
        self._thread.start()
        return self

    def keep_data(self, directory: Path, compact_seconds: float = COMPACT_SECONDS) -> Restored:
        """Loads the data kept in `directory` into the (already created) tables and journals from now on."""
        fsync = os.environ.get("MALL_LOCAL_FSYNC", "") not in ("", "0")
        schemas = {name: (table.hash_key_attr, table.range_key_attr) for name, table in moto_tables_by_name().items()}
        journal = Journal(directory, schemas.get, fsync=fsync)
        with self.app.lock:
            journal.fold_rotated()  # a compaction a crash interrupted
            restored = journal.restore()
            _load(restored)
            queue_state.load(restored.queues)
            self.app.journal = journal.open()
        self._compactor = Compactor(journal, self.app.lock, compact_seconds).start()
        return restored

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        if self._compactor is not None:
            self._compactor.stop()
            self._compactor = None
        if self.app.journal is not None:
            self.app.journal.close()
            self.app.journal = None

    def reset(self) -> None:
        """Forget every table and queue (moto's backends are per process, shared by all servers)."""
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=5)


class Compactor:
    """Folds the journal into the snapshot every `interval` seconds with new writes, and once more on stop."""

    def __init__(self, journal: Journal, request_lock: threading.Lock, interval: float):
        self._journal = journal
        self._request_lock = request_lock
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="journal-compactor", daemon=True)

    def start(self) -> Compactor:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.compact()

    def compact(self) -> int:
        with self._request_lock:  # the cut falls between two requests
            rotated = self._journal.rotate()
        return self._journal.fold_rotated() if rotated else 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.compact()


def moto_tables_by_name() -> dict[str, Any]:
    from moto.dynamodb.models import dynamodb_backends

    return moto_pin.resources(dynamodb_backends, "tables")


def _load(restored: Restored) -> None:
    """Puts restored items straight into moto's tables, then re-adds the journal's stream records."""
    tables = moto_tables_by_name()
    for name, items in restored.tables.items():
        table = tables[name]
        for attributes in items:
            item = moto_tables.item_from_json(table, attributes)
            moto_tables.put_raw(table, item.hash_key, item.range_key, item)
    for name, before, after in restored.changes_to_redeliver:
        table = tables.get(name)
        if table is not None and table.stream_shard is not None:
            table.stream_shard.add(*(None if image is None else moto_tables.item_from_json(table, image)
                                     for image in (before, after)))


def dynamodb_client(endpoint: str | None, region: str) -> Any:
    import boto3

    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="local", aws_secret_access_key="local")
