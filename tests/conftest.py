"""Shared fixtures: moto in-process DynamoDB with every table, a frozen clock, HTTP clients.

The environment is set before anything from the mall is imported, because table
names and endpoints are read when the models are defined.
"""
from __future__ import annotations

import os

os.environ.update({
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "MALL_TABLE_PREFIX": "test-",
    "MALL_JWT_SECRET": "test-secret-for-hs256-signing-0123456789",
    "MALL_PROVIDERS": "sandbox",
    "MALL_FEATURES": "all",
    "POWERTOOLS_TRACE_DISABLED": "true",  # tests/unit/test_tracing.py turns it on in a child process
    # personal data is sealed under a key made for this test run (core/pii.py); tests/members/test_pii.py
    # also runs the KMS path against moto's KMS
    "MALL_PII_LOCAL_KEY": __import__("base64").urlsafe_b64encode(os.urandom(32)).decode("ascii"),
    # raw analytics events as JSON lines (chalicelib/analytics/sink.py), somewhere that is not the checkout's .local
    "MALL_EVENTS_DIR": __import__("tempfile").mkdtemp(prefix="micromall-test-events-"),
})
os.environ.pop("MALL_EVENTS_FIREHOSE", None)
os.environ.pop("MALL_PII_KMS_KEY_ID", None)
os.environ.pop("MALL_DYNAMODB_ENDPOINT", None)
os.environ.pop("AWS_PROFILE", None)

import json  # noqa: E402

import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from chalicelib.core import auth, clock  # noqa: E402
from chalicelib.core.clock import FrozenClock  # noqa: E402


@pytest.fixture(autouse=True)
def answers_match_their_documentation():
    """Every route a test drives answers what /openapi.json documents, field for field (tests/contracts.py)."""
    from tests import contracts

    with contracts.checking() as broken:
        yield
    assert not broken, "answers that do not match their documented model:\n" + "\n".join(dict.fromkeys(broken))


@pytest.fixture
def aws():
    """moto in-process, with every table of every feature created."""
    from infra.local import moto_serialize, moto_streams, moto_tables

    moto_tables.install()
    moto_streams.install()
    moto_serialize.install()
    with mock_aws():
        from infra.tables import create_tables

        create_tables()
        yield


@pytest.fixture
def atomic_dynamodb(monkeypatch):
    """Each in-process moto call runs alone, as each real DynamoDB request is atomic.

    Moto can interleave two threads inside one conditional write or transaction
    (a failed transaction restores a table copy taken before the other committed);
    real DynamoDB never does. Threads still interleave between calls, which is where
    a feature's races live. The embedded server of the local stack serializes
    requests the same way (infra/local/embedded.py).
    """
    import threading

    import botocore.client

    lock = threading.Lock()
    real_call = botocore.client.BaseClient._make_api_call

    def atomic_call(client, operation_name, api_params):
        with lock:
            return real_call(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", atomic_call)


class DynamoCalls(list):
    """The DynamoDB operations called while a test ran, in order."""

    def counts(self) -> dict[str, int]:
        from collections import Counter

        return dict(Counter(self))


@pytest.fixture
def dynamodb_calls(monkeypatch) -> DynamoCalls:
    """Records every DynamoDB API call (any client, any thread) by operation name."""
    import botocore.client

    calls = DynamoCalls()
    real_call = botocore.client.BaseClient._make_api_call

    def counting_call(client, operation_name, api_params):
        if client.meta.service_model.service_name == "dynamodb":
            calls.append(operation_name)
        return real_call(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting_call)
    return calls


@pytest.fixture
def frozen_clock():
    frozen = FrozenClock("2026-11-25T04:00:00Z")
    previous = clock.use(frozen)
    yield frozen
    clock.use(previous)


@pytest.fixture
def app(aws, frozen_clock):
    import app as app_module

    return app_module.app


class Api:
    """chalice.test.Client with JSON in, JSON out and a bearer token."""

    def __init__(self, client, token: str | None = None):
        self._client = client
        self.token = token

    def as_token(self, token: str | None) -> Api:
        return Api(self._client, token)

    def call(self, method: str, path: str, body=None, headers=None, raw: bytes | str | None = None):
        all_headers = {"Content-Type": "application/json"}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        all_headers.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = self._client.http.request(method, path, headers=all_headers, body=payload)
        response.data = json.loads(response.body) if response.body else None
        return response

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


@pytest.fixture
def client(app, tmp_path):
    """The app over chalice's test Client, in the test environment set above.

    The Client is given a project without `.chalice/config.json`: otherwise it
    would load the dev stage's deploy settings (live providers, SSM) into the
    environment of every request.
    """
    from chalice.test import Client

    with Client(app, project_dir=str(tmp_path)) as chalice_client:
        yield Api(chalice_client)


def buyer_token(user_id: str = "U-test-buyer") -> str:
    return auth.issue_buyer_token(user_id)


def staff_token(username: str = "admin", role: str = "owner") -> str:
    return auth.issue_staff_token(username, role)


# --- what the feature suites share: a shop, staff hashed at test speed, the event pump ----------------

FAST_SCRYPT = {"n": 2**4, "r": 8, "p": 1}  # staff password hashing at test speed (real accounts, cheap to make)


def add_staff(username: str, role: str, grants: list[str] | None = None) -> None:
    """A real staff account (the staff gate refuses a token whose account does not exist), hashed at test speed."""
    from chalicelib.admin import service
    from chalicelib.admin.passwords import ScryptCost

    service.create_staff(username, f"{username}-password", role, cost=ScryptCost(**FAST_SCRYPT))
    if grants:
        service.update_staff(username, grants=grants)


class StaffApi:
    """A staff member over HTTP (an Api), with a token minted at each request: tests move the clock past a
    token's 12 hours."""

    def __init__(self, client: Api, username: str, role: str):
        self._client, self.username, self.role = client, username, role

    def __getattr__(self, name: str):
        return getattr(self._client.as_token(staff_token(self.username, self.role)), name)


@pytest.fixture
def owner(client) -> StaffApi:
    """The shop's owner `boss`, a real account."""
    add_staff("boss", "owner")
    return StaffApi(client, "boss", "owner")


@pytest.fixture
def shop(app):
    from tests.cart.conftest import Shop

    return Shop()


@pytest.fixture
def pump_raises_errors() -> bool:
    """Whether `pump` fails the test on a handler's error (the default), or treats a failing batch as its trigger
    would (retries, halving, the on-failure queue): a suite that tests those overrides this fixture."""
    return True


@pytest.fixture
def pump(app, pump_raises_errors):
    """Delivers pending stream records, queue messages and schedules to the app's handlers (infra/local/pump.py)."""
    from infra.local.pump import EventPump

    events = EventPump(app, raise_errors=pump_raises_errors)
    events.create_queues()
    return events


@pytest.fixture
def limited(monkeypatch):
    """Rate limits on, as deployed (sandbox mode, as in tests and the local stack, has them off unless told)."""
    monkeypatch.setenv("MALL_RATE_LIMITS", "on")


@pytest.fixture
def from_ip(monkeypatch):
    """Requests come from `from_ip(address)` (chalice's local gateway otherwise says 127.0.0.1)."""
    from chalice.local import LambdaEventConverter

    def use(address: str) -> None:
        monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", address)
    return use
