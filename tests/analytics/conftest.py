"""analytics test fixtures: buyers acting over HTTP, the raw events' twin (the shop, the event pump and the owner
are tests/conftest.py's)."""
from __future__ import annotations

import pytest

from tests.payments.conftest import keys_dir, session_keys  # noqa: F401 - the payment sandbox's keys


@pytest.fixture
def raw_events():
    """The event sink's test twin, installed for the test: every raw event written, in order."""
    from chalicelib.analytics import sink

    twin = sink.MemorySink()
    previous = sink.use(twin)
    yield twin
    sink.use(previous)


def buyer(client, name: str):
    from tests.checkout.conftest import Buyer

    return Buyer(client, f"U-{name}")


@pytest.fixture
def alice(client):
    return buyer(client, "alice")


@pytest.fixture
def bob(client):
    return buyer(client, "bob")


def dashboard(owner, start: str | None = None, end: str | None = None) -> dict:
    query = "&".join(f"{name}={value}" for name, value in (("from", start), ("to", end)) if value)
    response = owner.get("/admin/dashboard" + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.data
    return response.data


def day_figures(owner, day: str) -> dict:
    return dashboard(owner, day, day)["totals"]


def pay(buyer_api, order_id: str) -> None:
    """Pay in the sandbox: a signed WeChat Pay notification through the real webhook."""
    response = buyer_api.post("/payments/sandbox/pay", {"order_id": order_id})
    assert response.status_code == 200 and response.data["status"] in ("PAID", "AWAITING_GROUP"), response.data


def track(client, events: list[dict], *, device: str | None = None, token: str | None = None):
    headers = {"X-Device-Id": device} if device else {}
    return client.as_token(token).post("/track", {"events": events}, headers=headers)
