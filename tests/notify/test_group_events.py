"""A group-buy's end is news to each of its paid members: GROUP_SUCCEEDED or GROUP_FAILED, once each."""
from __future__ import annotations

from tests.groupbuy.conftest import buyers, campaign, joined, later, open_group, paid, run_group_jobs, staff  # noqa: F401
from tests.notify.conftest import notifications, subscribe
from tests.notify.test_outbox import redeliver_every_stream_record

GROUP_FIELDS = [{"key": "thing1", "source": "product_title"}, {"key": "number2", "source": "group_size"},
                {"key": "amount3", "source": "group_price"}, {"key": "phrase4", "source": "status_text"}]


def enable(admin, kind: str, template_id: str) -> None:
    response = admin.put(f"/admin/notification-templates/{kind}",
                         {"template_id": template_id, "page": "pages/group/detail", "fields": GROUP_FIELDS})
    assert response.status_code == 200, response.data


def test_a_completed_group_tells_each_paid_member_once_across_redeliveries(
        app, admin, campaign, buyers, pump, sandbox_wechat):  # noqa: F811
    enable(admin, "GROUP_SUCCEEDED", "tmpl-group-ok")
    sale = campaign(group_size=2)
    leader, friend = buyers(2)
    for buyer in (leader, friend):
        subscribe(buyer, "tmpl-group-ok", times=2)
    opened = open_group(leader, sale["campaign_id"])
    paid(opened["order"]["order_id"])
    paid(joined(friend, opened["group_id"])["order"]["order_id"])

    pump.drain()
    redeliver_every_stream_record(app)
    pump.drain()

    sent = notifications("GROUP_SUCCEEDED")
    assert sorted(item.user_id for item in sent) == sorted([leader.user_id, friend.user_id]), sent
    assert {item.status for item in sent} == {"SENT"}
    assert len(sandbox_wechat.deliveries) == 2, "one message per member, however often the group's record came"
    assert {d["data"]["phrase4"]["value"] for d in sandbox_wechat.deliveries} == {"拼团成功"}
    assert not notifications("GROUP_FAILED")


def test_a_failed_group_tells_its_paid_leader_and_not_an_unpaid_joiner(
        app, admin, campaign, buyers, pump, sandbox_wechat, frozen_clock):  # noqa: F811
    enable(admin, "GROUP_FAILED", "tmpl-group-failed")
    sale = campaign(group_size=3, duration_minutes=30)
    leader, unpaid = buyers(2)
    for buyer in (leader, unpaid):
        subscribe(buyer, "tmpl-group-failed")
    opened = open_group(leader, sale["campaign_id"])
    paid(opened["order"]["order_id"])
    joined(unpaid, opened["group_id"])
    later(frozen_clock, minutes=31)
    run_group_jobs()
    run_group_jobs()

    pump.drain()
    redeliver_every_stream_record(app)
    pump.drain()

    [failed] = notifications("GROUP_FAILED")
    assert failed.user_id == leader.user_id and failed.status == "SENT"
    assert [d["data"]["phrase4"]["value"] for d in sandbox_wechat.deliveries] == ["拼团失败"]
