"""The notify routes' contract: subscriptions under /me, templates and notifications under /admin, every error."""
from __future__ import annotations

import pytest

from tests.conftest import buyer_token
from tests.notify.conftest import PAID_FIELDS, enable_order_paid, paid_order, subscribe


def test_subscriptions_count_accepts_ignore_rejects_and_a_ban_clears_credits(client, alice):
    answer = alice.api.post("/me/subscriptions", {"results": {"t-a": "accept", "t-b": "reject", "t-c": "ban"}})
    assert answer.status_code == 200
    assert answer.data == {"subscriptions": [{"template_id": "t-a", "credits": 1, "banned": False},
                                             {"template_id": "t-c", "credits": 0, "banned": True}]}
    again = alice.api.post("/me/subscriptions", {"results": {"t-a": "accept", "t-c": "accept"}}).data
    assert again["subscriptions"] == [{"template_id": "t-a", "credits": 2, "banned": False},
                                      {"template_id": "t-c", "credits": 1, "banned": False}]
    other = client.as_token(buyer_token("U-other")).post("/me/subscriptions", {"results": {"t-a": "reject"}})
    assert other.data == {"subscriptions": []}, "another buyer sees these credits"


def test_subscription_answers_that_are_not_wechats_are_400(client, alice):
    for body in ({}, {"results": {}}, {"results": {"t-a": "yes"}}, {"results": {"t a": "accept"}},
                 {"results": {"t-a": "accept"}, "extra": 1}, {"results": {f"t{n}": "accept" for n in range(21)}}):
        response = alice.api.post("/me/subscriptions", body)
        assert response.status_code == 400, (body, response.data)
    assert client.post("/me/subscriptions", {"results": {"t-a": "accept"}}).status_code == 401


def test_templates_list_every_kind_with_its_variables_and_a_put_turns_one_on(admin):
    listed = admin.get("/admin/notification-templates").data["items"]
    kinds = {item["kind"]: item for item in listed}
    assert set(kinds) == {"ORDER_PAID", "ORDER_SHIPPED", "REFUND_SETTLED", "GROUP_SUCCEEDED", "GROUP_FAILED", "LOW_STOCK"}
    assert not any(item["enabled"] for item in listed)
    assert "paid_at" in kinds["ORDER_PAID"]["variables"] and kinds["LOW_STOCK"]["audience"] == "STAFF"

    enable_order_paid(admin)
    paid = {i["kind"]: i for i in admin.get("/admin/notification-templates").data["items"]}["ORDER_PAID"]
    assert paid["enabled"] and paid["template_id"] == "tmpl-order-paid" and paid["fields"] == PAID_FIELDS

    assert admin.delete("/admin/notification-templates/ORDER_PAID").status_code == 204
    assert not {i["kind"]: i for i in admin.get("/admin/notification-templates").data["items"]}[
        "ORDER_PAID"]["enabled"]


def test_a_template_that_wechat_or_the_kind_cannot_fill_is_400_and_an_unknown_kind_404(client, admin):
    def put(kind, **body):
        return admin.put(f"/admin/notification-templates/{kind}",
                         {"template_id": "tmpl", "fields": [{"key": "thing1", "source": "product_title"}], **body})

    assert put("ORDER_PAID").status_code == 200
    assert put("ORDER_PAID", fields=[{"key": "title1", "source": "product_title"}]).data["error"]["code"] == \
        "INVALID_TEMPLATE"
    assert put("ORDER_PAID", fields=[{"key": "thing1", "source": "tracking_no"}]).status_code == 400
    assert put("ORDER_PAID", fields=[{"key": "thing1", "source": "order_id"},
                                     {"key": "thing1", "source": "payable"}]).status_code == 400
    assert put("ORDER_PAID", recipients=["U-1"]).status_code == 400, "a buyer kind takes no staff recipients"
    assert put("ORDER_PAID", fields=[]).status_code == 400
    assert put("ORDER_PAID", template_id=5).status_code == 400
    assert put("NO_SUCH_KIND").data["error"]["code"] == "KIND_NOT_FOUND"
    assert admin.delete("/admin/notification-templates/NO_SUCH_KIND").status_code == 404
    assert client.put("/admin/notification-templates/ORDER_PAID", {}).status_code == 401
    assert client.as_token(buyer_token()).get("/admin/notification-templates").status_code == 403


def test_notifications_page_newest_first_with_a_cursor(shop, admin, alice, pump):
    enable_order_paid(admin)
    subscribe(alice)
    orders = [paid_order(shop, alice) for _ in range(3)]
    pump.drain()

    first = admin.get("/admin/notifications?limit=2")
    assert first.status_code == 200, first.data
    second = admin.get(f"/admin/notifications?limit=2&cursor={first.data['next_cursor']}").data
    items = first.data["items"] + second["items"]
    assert [item["order_id"] for item in items] == orders[::-1] and second["next_cursor"] is None
    assert [item["status"] for item in items] == ["NOT_SUBSCRIBED", "NOT_SUBSCRIBED", "SENT"]
    assert set(items[0]) >= {"notification_id", "kind", "order_id", "user_id", "template_id", "status",
                             "created_at", "data"}


def test_notifications_errors(client, admin):
    assert admin.get("/admin/notifications?cursor=nope").data["error"]["code"] == "INVALID_CURSOR"
    assert admin.get("/admin/notifications?limit=0").status_code == 400
    assert client.get("/admin/notifications").status_code == 401
    assert client.as_token(buyer_token()).get("/admin/notifications").status_code == 403


def test_a_resent_accept_after_a_lost_reply_adds_one_credit(alice):
    from tests.faults import reply_lost_after_commit

    with reply_lost_after_commit("TransactWriteItems") as lost:
        answer = alice.api.post("/me/subscriptions", {"results": {"t-a": "accept"}})
    assert lost and answer.status_code == 200, answer.data
    assert answer.data["subscriptions"] == [{"template_id": "t-a", "credits": 1, "banned": False}]


@pytest.mark.parametrize("round_", range(5))
def test_accepts_from_two_phones_at_once_both_count(alice, atomic_dynamodb, round_):
    import threading

    from chalicelib.notify import service

    start = threading.Barrier(4)

    def phone():
        start.wait()
        service.record_subscriptions(alice.user_id, {"t-race": "accept"})

    threads = [threading.Thread(target=phone) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    credits = service.record_subscriptions(alice.user_id, {"t-race": "reject"}).subscriptions[0].credits
    assert credits == 4, f"4 accepts made {credits} credits"
