"""analytics test fixtures: a shop, buyers acting over HTTP, the event pump, an owner, the raw events' twin."""
from __future__ import annotations

import pytest

from tests.conftest import staff_token
from tests.payments.conftest import keys_dir, session_keys  # noqa: F401 - the payment sandbox's keys


@pytest.fixture
def raw_events():
    """The event sink's test twin, installed for the test: every raw event written, in order."""
    from chalicelib.analytics import sink

    twin = sink.MemorySink()
    previous = sink.use(twin)
    yield twin
    sink.use(previous)


@pytest.fixture
def pump(app):
    from infra.local.pump import EventPump

    events = EventPump(app, raise_errors=True)
    events.create_queues()
    return events


@pytest.fixture
def shop(app):
    from tests.cart.conftest import Shop

    return Shop()


@pytest.fixture
def owner(client):
    from chalicelib.admin import service
    from chalicelib.admin.passwords import ScryptCost

    service.create_staff("analyst", "analyst-password", "owner", cost=ScryptCost(n=2**4, r=8, p=1))
    return Owner(client)


class Owner:
    """The shop's owner over HTTP, with a token issued at each request (tests move the clock by days)."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, method: str):
        return getattr(self._client.as_token(staff_token("analyst", "owner")), method)


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
