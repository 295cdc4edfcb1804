"""Group-buy over real HTTP against `make run`, paying with the sandbox WeChat Pay.

- A group of 3 whose last two places five buyers race for (join, then pay at once):
  never more than 3 places held, exactly 3 members, every member's order PAID once the
  group's settlement has run, nobody charged without a place or a refund.
- A group that fails at its deadline (1 minute after the leader paid, the schedules
  running every second, so the expiry job runs dozens of times over it): each paid
  member refunded once against their own order, the unpaid holder's order cancelled
  with GROUP_FAILED, the SKU's stock whole again.
- Twelve buyers each firing two openings at a campaign of 5 groups, one per buyer: exactly
  5 groups, no buyer twice, one unit reserved per group.
- A joiner's payment sent at the group's deadline while the expiry job runs: whichever
  lands first, the payer's trade is refunded exactly once, and the leader's too.
"""
from __future__ import annotations

import json
import threading
import time

import pytest

from tests.e2e.test_checkout_flash_sale import TABLE_PREFIX, Stack, eventually, in_parallel


class GroupStack(Stack):
    def staff(self) -> str:
        status, login = self.request("POST", "/admin/login", {"username": "admin", "password": "admin"})
        assert status == 200, login
        return login["token"]

    def campaign(self, **terms) -> dict:
        product = self.new_product([30], price=5000)
        body = {"product_id": product["product_id"], "sku_id": product["skus"][0]["sku_id"], "group_price": 2990,
                "stock": 20, **terms}
        status, campaign = self.request("POST", "/admin/groupbuy/campaigns", body, token=self.staff())
        assert status == 201, f"expected a new campaign, got {status}: {campaign}"
        return campaign

    def pay(self, token: str, order_id: str) -> tuple[int, dict]:
        return self.request("POST", "/payments/sandbox/pay", {"order_id": order_id}, token=token, timeout=30)

    def holders(self, group_id: str) -> int:
        import boto3

        client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{self.dynamodb_port}",
                              region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local")
        item = client.get_item(TableName=f"{TABLE_PREFIX}groupbuys", ConsistentRead=True,
                               Key={"group_id": {"S": group_id}})["Item"]
        return int(item["holders"]["N"])

    def provider_refunds(self, order_id: str) -> list[str]:
        """The refund numbers the sandbox WeChat Pay holds for the order's trade."""
        trades = json.loads((self.local_dir / "keys" / "sandbox-trades.json").read_text())
        return sorted(trades.get("wechatpay", {}).get(order_id, {}).get("refunds", {}))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = GroupStack(tmp_path_factory.mktemp("groupbuy")).wait_ready()
    yield running
    assert running.stop() == 0, running.output()


def test_five_buyers_race_for_the_last_two_places_of_a_group_of_three(stack):
    campaign = stack.campaign(group_size=3, duration_minutes=30)
    leader_token, _, leader_address = stack.buyer("gb-leader")
    status, opened = stack.request("POST", "/groupbuy/groups", {"campaign_id": campaign["campaign_id"],
                                                                "address_id": leader_address}, token=leader_token)
    assert status == 201 and opened["status"] == "PENDING", opened
    group_id = opened["group_id"]
    assert stack.pay(leader_token, opened["order"]["order_id"])[0] == 200
    racers = [stack.buyer(f"gb-racer-{n}") for n in range(5)]
    watching, seen = [True], []

    def watch() -> None:
        while watching[0]:
            seen.append(stack.holders(group_id))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()

    def race(i: int):
        token, _, address = racers[i]
        status, body = stack.request("POST", f"/groupbuy/groups/{group_id}/join", {"address_id": address},
                                     token=token, timeout=30)
        if status != 201:
            return status, body["error"]["code"], None
        return status, stack.pay(token, body["order"]["order_id"])[0], (token, body["order"]["order_id"])

    results = in_parallel(5, race)
    watching[0] = False
    watcher.join()
    placed = [r for r in results if r[0] == 201]
    assert len(placed) == 2 and all(r[1] == 200 for r in placed), results
    # refused: every place held, or the group already complete (SUCCEEDED is no longer open to join)
    assert {(r[0], r[1]) for r in results if r[0] != 201} <= {(409, "GROUP_FULL"), (409, "GROUP_NOT_OPEN"),
                                                              (503, "BUSY")}, results
    assert max(seen + [stack.holders(group_id)]) <= 3, f"more than 3 places held at once: {max(seen)}"

    def settled():
        page = stack.request("GET", f"/groupbuy/groups/{group_id}")[1]
        orders = [stack.request("GET", f"/orders/{order_id}", token=token)[1] for _, _, (token, order_id) in placed]
        orders.append(stack.request("GET", f"/orders/{opened['order']['order_id']}", token=leader_token)[1])
        return page if page["status"] == "SUCCEEDED" and all(o["status"] == "PAID" for o in orders) else None

    page = eventually(settled, timeout=30)
    assert page, "expected the group to succeed and every member's order to become PAID"
    assert (page["paid_members"], page["places_left"], len(page["members"])) == (3, 0, 3)
    for _, _, (_token, order_id) in placed:
        assert stack.provider_refunds(order_id) == [], "a member is charged once and keeps the purchase"


def test_a_failing_group_refunds_each_paid_member_once_against_their_own_order(stack):
    campaign = stack.campaign(group_size=4, duration_minutes=1)
    leader_token, _, leader_address = stack.buyer("gf-leader")
    status, opened = stack.request("POST", "/groupbuy/groups", {"campaign_id": campaign["campaign_id"],
                                                                "address_id": leader_address}, token=leader_token)
    assert status == 201, opened
    group_id = opened["group_id"]
    assert stack.pay(leader_token, opened["order"]["order_id"])[0] == 200
    members = [(leader_token, opened["order"]["order_id"])]
    for name in ("gf-payer",):
        token, _, address = stack.buyer(name)
        status, joined = stack.request("POST", f"/groupbuy/groups/{group_id}/join", {"address_id": address},
                                       token=token)
        assert status == 201, joined
        assert stack.pay(token, joined["order"]["order_id"])[0] == 200
        members.append((token, joined["order"]["order_id"]))
    idler_token, _, idler_address = stack.buyer("gf-idler")
    status, held = stack.request("POST", f"/groupbuy/groups/{group_id}/join", {"address_id": idler_address},
                                 token=idler_token)
    assert status == 201, held
    for token, order_id in members:
        assert stack.request("GET", f"/orders/{order_id}", token=token)[1]["status"] == "AWAITING_GROUP"

    def failed_and_refunded():
        orders = [stack.request("GET", f"/orders/{order_id}", token=token)[1] for token, order_id in members]
        return orders if all(o["status"] == "REFUNDED" for o in orders) else None

    orders = eventually(failed_and_refunded, timeout=120, every=1)
    assert orders, "expected each paid member's order to be REFUNDED after the group's minute"
    time.sleep(3)  # a few more expiry runs over the failed group change nothing
    for token, order_id in members:
        order = stack.request("GET", f"/orders/{order_id}", token=token)[1]
        assert [(r["out_refund_no"], r["amount"], r["status"]) for r in order["refunds"]] == \
            [(f"{order_id}-R1", order["payable"], "SUCCESS")], order["refunds"]
        assert stack.provider_refunds(order_id) == [f"{order_id}-R1"], "the provider refunded the trade once"
    cancelled = stack.request("GET", f"/orders/{held['order']['order_id']}", token=idler_token)[1]
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("CANCELLED", "GROUP_FAILED")
    page = stack.request("GET", f"/groupbuy/groups/{group_id}")[1]
    assert (page["status"], page["places_left"]) == ("FAILED", 0)
    sku_id = campaign["sku_id"]
    assert eventually(lambda: stack.inventory(sku_id) == {"available": 30, "reserved": 0, "sold": 0}, timeout=10), \
        stack.inventory(sku_id)


def test_openings_racing_for_a_campaign_hold_its_stock_and_each_buyers_limit(stack):
    """Twelve buyers each fire two openings at once at a campaign of 5 groups, one per buyer."""
    campaign = stack.campaign(group_size=2, duration_minutes=30, stock=5, per_user_limit=1)
    buyers = [stack.buyer(f"gs-opener-{n}") for n in range(12)]

    def open_one(i: int):
        token, user_id, address = buyers[i // 2]
        status, body = stack.request("POST", "/groupbuy/groups", {"campaign_id": campaign["campaign_id"],
                                                                  "address_id": address}, token=token, timeout=30)
        return user_id, status, body["group_id"] if status == 201 else body["error"]["code"]

    results = in_parallel(24, open_one)
    opened = [r for r in results if r[1] == 201]
    assert len(opened) == 5, f"exactly the campaign's 5 groups open: {results}"
    assert len({user_id for user_id, _, _ in opened}) == 5, f"no buyer opens twice: {opened}"
    assert {code for _, status, code in results if status != 201} <= {"SOLD_OUT", "LIMIT_REACHED", "BUSY"}, results
    status, page = stack.request("GET", f"/groupbuy/campaigns/{campaign['campaign_id']}")
    assert status == 200, page
    assert stack.inventory(campaign["sku_id"])["reserved"] == 5, "one unit reserved per opened group"


def test_a_payment_in_flight_as_its_group_expires_is_refunded_once(stack, monkeypatch):
    """The joiner pays at the group's deadline, while the expiry job runs every second: whichever lands first,
    the payer ends with exactly one refund of their own trade, and the leader too."""
    import datetime as dt
    import urllib.request

    monkeypatch.setenv("MALL_SANDBOX_KEYS_DIR", str(stack.local_dir / "keys"))
    from chalicelib.payments.providers import sandbox

    campaign = stack.campaign(group_size=3, duration_minutes=1)
    leader_token, _, leader_address = stack.buyer("gi-leader")
    status, opened = stack.request("POST", "/groupbuy/groups", {"campaign_id": campaign["campaign_id"],
                                                                "address_id": leader_address}, token=leader_token)
    assert status == 201, opened
    assert stack.pay(leader_token, opened["order"]["order_id"])[0] == 200
    joiner_token, _, joiner_address = stack.buyer("gi-joiner")
    status, joined = stack.request("POST", f"/groupbuy/groups/{opened['group_id']}/join",
                                   {"address_id": joiner_address}, token=joiner_token)
    assert status == 201, joined
    order_id, payable = joined["order"]["order_id"], joined["order"]["payable"]
    status, _ = stack.request("POST", "/payments/prepay", {"order_id": order_id, "provider": "wechat"},
                              token=joiner_token)
    assert status == 200
    expires_at = stack.request("GET", f"/groupbuy/groups/{opened['group_id']}")[1]["expires_at"]
    deadline = dt.datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()
    time.sleep(max(0.0, deadline - time.time() - 0.2))
    headers, body = sandbox.twin("wechat").build_payment_notification(order_id, payable, "sandbox-in-flight")
    request = urllib.request.Request(stack.url + "/payments/wechat/notify", data=body, method="POST",
                                     headers={**headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204, "the mall takes the notification, whatever it then does with it"

    def settled():
        leader = stack.request("GET", f"/orders/{opened['order']['order_id']}", token=leader_token)[1]
        joiner = stack.request("GET", f"/orders/{order_id}", token=joiner_token)[1]
        refunded = [r for r in joiner.get("refunds") or [] if r["status"] == "SUCCESS"]
        done = leader["status"] == "REFUNDED" and len(refunded) == 1
        return (leader, joiner) if done else None

    outcome = eventually(settled, timeout=120, every=1)
    assert outcome, "expected the leader refunded and the joiner's payment returned"
    leader, joiner = outcome
    assert joiner["status"] in ("REFUNDED", "CANCELLED"), joiner
    assert len(stack.provider_refunds(order_id)) == 1, "the joiner's trade was refunded exactly once"
    assert len(stack.provider_refunds(opened["order"]["order_id"])) == 1, "and the leader's once"
    time.sleep(3)  # more expiry runs and reconciliation change nothing
    assert len(stack.provider_refunds(order_id)) == 1
