"""X-Ray traces: off (and inert) outside Lambda; in Lambda each invocation is a subsegment annotated
with the buyer and order its log lines name, and DynamoDB calls are subsegments of it."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.core import tracing
from tests.conftest import buyer_token
from tests.unit.traced_invocation import BUYER, ORDER_ID

ROOT = Path(__file__).resolve().parents[2]
TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
LAMBDA_PARENT = "53995c3f42cd8ad8"


def test_tracing_is_off_outside_lambda_and_a_request_builds_no_tracer(client, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED")  # off without it too: not in Lambda
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "micromall-checkout")  # JSON logs, but no LAMBDA_TASK_ROOT
    assert tracing.enabled() is False

    response = client.as_token(buyer_token("U-local")).get("/orders/01JNOTTRACED00000000000000")

    assert response.status_code == 404
    assert tracing._tracer is None, "a request outside Lambda built the X-Ray tracer"


@pytest.mark.parametrize("switch", [{"POWERTOOLS_TRACE_DISABLED": "true"}, {"AWS_SAM_LOCAL": "true"},
                                    {"AWS_CHALICE_CLI_MODE": "true"}])
def test_powertools_switches_turn_tracing_off_even_in_lambda(monkeypatch, switch):
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED")  # the tests' own switch (tests/conftest.py)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    assert tracing.enabled() is True
    for name, value in switch.items():
        monkeypatch.setenv(name, value)
    assert tracing.enabled() is False


@pytest.fixture
def daemon():
    """A fake X-Ray daemon: the UDP socket the SDK's emitter sends each document to."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        yield sock


def received(sock: socket.socket) -> list[dict]:
    documents = []
    while True:
        try:
            datagram = sock.recv(65535).decode()
        except TimeoutError:
            return documents
        header, _, body = datagram.partition("\n")
        assert json.loads(header) == {"format": "json", "version": 1}, datagram
        documents.append(json.loads(body))


def cold_start_in_lambda(daemon: socket.socket, **extra: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "POWERTOOLS_TRACE_DISABLED"}
    env.update({"LAMBDA_TASK_ROOT": str(ROOT), "AWS_LAMBDA_FUNCTION_NAME": "micromall-checkout",
                "_X_AMZN_TRACE_ID": f"Root={TRACE_ROOT};Parent={LAMBDA_PARENT};Sampled=1",
                "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
                "MALL_FEATURES": "checkout", "MALL_TABLE_PREFIX": "traced-", **extra})
    result = subprocess.run([sys.executable, "-m", "tests.unit.traced_invocation"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads([line for line in result.stdout.splitlines() if line.startswith('{"statuses"')][-1])


def test_in_lambda_a_request_is_a_subsegment_annotated_with_buyer_and_order_and_its_dynamodb_calls(daemon):
    seen = cold_start_in_lambda(daemon)

    assert seen["statuses"] == [404, 200], seen
    assert seen["xray_at_import"] is False, "the X-Ray SDK was imported by the cold start's init, not on use"
    assert seen["botocore_patched"] is True
    documents = received(daemon)
    invocations = [doc for doc in documents if doc["name"] == "## micromall-checkout"]
    assert [doc["annotations"] for doc in invocations] == [
        {"ColdStart": True, "Service": "micromall", "route": "GET /orders/{order_id}", "order_id": ORDER_ID,
         "buyer_id": BUYER},
        {"ColdStart": False, "Service": "micromall", "route": "GET /orders", "buyer_id": BUYER},
    ], documents
    assert all(doc["trace_id"] == TRACE_ROOT and doc["parent_id"] == LAMBDA_PARENT for doc in invocations)
    calls = [(doc["parent_id"], doc["aws"]["operation"], doc["aws"]["table_name"])
             for doc in documents if doc.get("namespace") == "aws" and doc["name"] == "dynamodb"]
    assert calls == [(invocations[0]["id"], "GetItem", "traced-orders"),
                     (invocations[1]["id"], "Query", "traced-orders")], documents


def test_in_lambda_with_tracing_disabled_nothing_is_imported_patched_or_sent(daemon):
    seen = cold_start_in_lambda(daemon, POWERTOOLS_TRACE_DISABLED="true")

    assert seen["statuses"] == [404, 200], seen
    assert (seen["xray_after_requests"], seen["botocore_patched"]) == (False, False), seen
    assert received(daemon) == []
