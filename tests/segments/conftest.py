"""segments test fixtures: buyers registered through the sandbox login (the segments read registrations from
members), orders paid and refunded through the real payment path, staff with and without `segments.grant`,
the event pump (tests/conftest.py's) that delivers the orders stream and the grant queue."""
from __future__ import annotations

from itertools import count

import pytest

from tests.checkout.conftest import Buyer
from tests.conftest import Api, add_staff, staff_token
from tests.payments.conftest import keys_dir, session_keys  # noqa: F401  (fixtures: sandbox payments)

_skus = count(1)


def registered(client, name: str) -> Buyer:
    """A buyer who logs in for the first time now (the mall's clock), with an address."""
    from chalicelib.members import service as members

    return Buyer(client, members.login(f"dev:{name}").user.user_id)


@pytest.fixture
def operator(client) -> Api:
    """An operator as the role comes: marketing.manage, but not segments.grant."""
    add_staff("clerk", "operator")
    return client.as_token(staff_token("clerk", "operator"))


def fresh(api: Api, username: str = "boss", role: str = "owner") -> Api:
    """The same staff with a token minted now (tests move the clock past a token's 12 hours)."""
    return api.as_token(staff_token(username, role))


def paid_order(shop, buyer: Buyer, price: int) -> str:
    """One unit at `price` (shipping is free from ¥99), paid through the sandbox as the buyer would."""
    from tests.marketing.conftest import pay_in_sandbox

    sku = shop.sku(price=price)
    order = buyer.placed({sku: 1})
    pay_in_sandbox(buyer, order["order_id"])
    return order["order_id"]


def refunded(buyer: Buyer, owner: Api, order_id: str) -> None:
    from tests.marketing.conftest import refund_in_full

    refund_in_full(buyer, owner, order_id)


def facts_of(user_id: str) -> dict:
    from chalicelib.segments.models import BuyerFactsModel

    row = BuyerFactsModel.get(user_id, consistent_read=True)
    return {"paid_orders": int(row.paid_orders), "refunded_orders": int(row.refunded_orders),
            "paid_total": int(row.paid_total), "first_paid_at": row.first_paid_at, "last_paid_at": row.last_paid_at,
            "paid_by_day": dict(row.paid_by_day)}


def members_of(segment: str) -> set[str]:
    from chalicelib.segments.models import SegmentMemberModel

    return {row.user_id for row in SegmentMemberModel.query(segment, consistent_read=True)}


def new_template(owner: Api, **fields) -> dict:
    body = {"name": "回归礼", "kind": "NO_THRESHOLD", "amount_off": 500, "total": 100, "per_user_limit": 1,
            "valid_days": 30, "claimable": False, **fields}
    response = fresh(owner).post("/admin/coupon-templates", body)
    assert response.status_code == 201, response.data
    return response.data


def run_schedule(app) -> None:
    """segments_schedule, invoked as EventBridge invokes it (the other schedules stay still)."""
    import uuid

    from chalicelib.core import config
    from infra.local.pump import LocalLambdaContext

    event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "000000000000", "time": "2026-11-25T04:00:00Z", "region": config.region(),
             "resources": ["arn:aws:events:us-east-1:000000000000:rule/segments_schedule"], "detail": {}}
    app.handler_map["segments_schedule"](event, LocalLambdaContext("segments_schedule"))


def new_buyers(app, how_many: int, prefix: str = "buyer") -> list[str]:
    """`how_many` buyers registered now, the NEW segment computed: their user ids in the order a grant walks them."""
    from chalicelib.members import service as members

    user_ids = sorted(members.login(f"dev:{prefix}-{number:03d}").user.user_id for number in range(how_many))
    run_schedule(app)
    assert members_of("NEW") >= set(user_ids)
    return user_ids


def coupons_of(user_id: str, template_id: str) -> list:
    from chalicelib.marketing.models import CouponModel

    return [coupon for coupon in CouponModel.query(user_id, consistent_read=True) if coupon.template_id == template_id]


def start_grant(owner: Api, template_id: str, segment: str = "NEW", key: str = "grant-key-0001") -> dict:
    response = fresh(owner).post(f"/admin/segments/{segment}/coupon-grants", {"template_id": template_id},
                                 headers={"Idempotency-Key": key})
    assert response.status_code == 202, response.data
    return response.data


def grant_now(owner: Api, grant_id: str) -> dict:
    response = fresh(owner).get(f"/admin/coupon-grants/{grant_id}")
    assert response.status_code == 200, response.data
    return response.data


def visible_again_at_once(queue: str = "segments-grants") -> None:
    """A failed message comes back at the next receive (its visibility timeout is minutes in the stack)."""
    import boto3

    from chalicelib.core import config, events

    sqs = boto3.client("sqs", region_name=config.region())
    url = sqs.get_queue_url(QueueName=events.queue_name(queue))["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})


def purge(queue: str = "segments-grants") -> None:
    import boto3

    from chalicelib.core import config, events

    sqs = boto3.client("sqs", region_name=config.region())
    sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=events.queue_name(queue))["QueueUrl"])


def queued(queue: str = "segments-grants") -> list[dict]:
    """The messages waiting on the queue (received, so hidden for their visibility timeout)."""
    import json

    import boto3

    from chalicelib.core import config, events

    sqs = boto3.client("sqs", region_name=config.region())
    url = sqs.get_queue_url(QueueName=events.queue_name(queue))["QueueUrl"]
    return [json.loads(message["Body"]) for message in
            sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
