"""Coupons and points over real HTTP against `make run`: the races of issue 13 with real concurrent clients.

Thirty buyers claim the last coupon: one gets it. One coupon on five parallel orders: one order. The same
points on five parallel orders: spent once. The stack runs with MALL_REFUND_WINDOW_DAYS=0, so points a
completed order earns are released by the stack's own schedule within a second or two, and its event pump
delivers the orders stream to the points handler as Lambda would.
"""
from __future__ import annotations

import threading
from collections import Counter

import pytest

from tests.e2e.test_checkout_flash_sale import Stack, eventually, in_parallel

CLAIMERS = 30


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = Stack(tmp_path_factory.mktemp("marketing"), extra_env={"MALL_REFUND_WINDOW_DAYS": "0"}).wait_ready()
    yield running
    assert running.stop() == 0, running.output()


def staff_token(stack) -> str:
    status, login = stack.request("POST", "/admin/login", {"username": "admin", "password": "admin"})
    assert status == 200, login
    return login["token"]


def template(stack, **fields) -> dict:
    body = {"name": "满100减20", "kind": "AMOUNT_OFF", "amount_off": 2000, "min_spend": 10000, "total": 100,
            "per_user_limit": 1, "valid_days": 30, **fields}
    status, created = stack.request("POST", "/admin/coupon-templates", body, token=staff_token(stack))
    assert status == 201, f"expected a new template, got {status}: {created}"
    return created


def together(count: int, work) -> list:
    gate = threading.Barrier(count)

    def run(i: int):
        gate.wait()
        return work(i)

    answers = in_parallel(count, run)
    errors = [a for a in answers if isinstance(a, BaseException)]
    assert not errors, f"expected every request to be answered, got {errors[:3]}"
    return answers


def test_thirty_buyers_claiming_the_last_coupon_get_exactly_one(stack):
    last = template(stack, total=1)
    buyers = in_parallel(CLAIMERS, lambda i: stack.buyer(f"claimer-{i:02d}"))
    answers = together(CLAIMERS, lambda i: stack.request(
        "POST", f"/marketing/coupons/{last['template_id']}/claim", token=buyers[i][0]))
    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: 1, 409: CLAIMERS - 1}, statuses
    assert {body["error"]["code"] for status, body in answers if status == 409} == {"SOLD_OUT"}
    status, listed = stack.request("GET", "/marketing/coupons")
    assert status == 200 and last["template_id"] not in {t["template_id"] for t in listed["items"] if t["remaining"]}


def test_one_coupon_on_five_parallel_orders_makes_one_order(stack):
    token, _, address_id = stack.buyer("coupon-spender")
    product = stack.new_product([50], price=12000)
    sku_id = product["skus"][0]["sku_id"]
    status, coupon = stack.request("POST", f"/marketing/coupons/{template(stack)['template_id']}/claim", token=token)
    assert status == 201, coupon
    body = {"address_id": address_id, "items": [{"sku_id": sku_id, "quantity": 1}], "coupon_id": coupon["coupon_id"]}
    answers = together(5, lambda i: stack.request("POST", "/orders", body, token=token,
                                                  headers={"Idempotency-Key": f"coupon-race-{i}"}, timeout=30))
    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: 1, 422: 4}, answers
    assert {b["error"]["code"] for s, b in answers if s == 422} == {"COUPON_LOCKED"}
    order = next(b for s, b in answers if s == 201)
    assert (order["coupon_discount"], order["payable"]) == (2000, 10000)
    assert stack.inventory(sku_id)["reserved"] == 1, "the refused orders reserved nothing"
    status, mine = stack.request("GET", "/marketing/coupons/mine?status=LOCKED", token=token)
    assert [c["order_id"] for c in mine["items"]] == [order["order_id"]]


def test_the_same_points_on_five_parallel_orders_are_spent_once_and_a_cancel_returns_them(stack):
    token, _, address_id = stack.buyer("points-spender")
    product = stack.new_product([50], price=20000)
    sku_id = product["skus"][0]["sku_id"]
    status, earned = stack.order(token, address_id, {sku_id: 1}, key="points-earn-1")
    assert status == 201, earned
    order_id = earned["order_id"]
    assert stack.request("POST", "/payments/sandbox/pay", {"order_id": order_id}, token=token)[0] in (200, 204)
    staff = staff_token(stack)
    shipped = stack.request("POST", f"/admin/orders/{order_id}/ship", {"carrier": "顺丰", "tracking_no": "SF1"},
                            token=staff)
    assert shipped[0] == 200, shipped
    assert stack.request("POST", f"/orders/{order_id}/confirm", token=token)[0] == 200
    me = eventually(lambda: (lambda m: m if m["points"] == 200 else None)(stack.request("GET", "/me", token=token)[1]))
    assert me and me["growth"] == 200, f"expected 200 points released by the stack's schedule, got {me}"

    body = {"address_id": address_id, "items": [{"sku_id": sku_id, "quantity": 1}], "points": 200}
    answers = together(5, lambda i: stack.request("POST", "/orders", body, token=token,
                                                  headers={"Idempotency-Key": f"points-race-{i}"}, timeout=30))
    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: 1, 422: 4}, answers
    assert {b["error"]["code"] for s, b in answers if s == 422} == {"INSUFFICIENT_POINTS"}
    spent = next(b for s, b in answers if s == 201)
    assert spent["points_discount"] == 200 and stack.request("GET", "/me", token=token)[1]["points"] == 0

    assert stack.request("POST", f"/orders/{spent['order_id']}/cancel", token=token)[0] == 200
    back = eventually(lambda: stack.request("GET", "/me", token=token)[1]["points"] == 200)
    assert back, "expected the cancelled order's points back"
    status, page = stack.request("GET", "/me/points", token=token)
    assert [entry["reason"] for entry in page["items"]][::-1] == \
        ["ORDER_COMPLETED", "REDEEMED", "REDEMPTION_RETURNED"], page
