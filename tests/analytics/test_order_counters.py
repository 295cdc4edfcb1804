"""Orders, payments and refunds move the dashboard's counters once each, on the shop day they happened."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.core import clock
from tests.analytics.conftest import buyer, dashboard, day_figures, pay
from tests.checkout.conftest import new_key

DAY = "2026-11-25"  # the frozen clock's 04:00 UTC is noon in Shanghai


def redeliver_every_stream_record(app) -> None:
    """A new pump reads every stream from its oldest record: each record of the test delivered again."""
    from infra.local.pump import EventPump

    EventPump(app, raise_errors=True).drain()


def test_a_paid_order_counts_once_in_every_figure(shop, alice, owner, pump, raw_events):
    order = alice.placed({shop.sku(price=3000): 2})
    pay(alice.api, order["order_id"])
    pump.drain()

    totals = day_figures(owner, DAY)
    assert totals["orders"] == 1 and totals["paid_orders"] == 1
    assert totals["gmv"] == order["payable"] == totals["net_gmv"] and totals["refunds"] == 0
    assert totals["buyers"] == 1 and totals["new_buyers"] == 1 and totals["average_order_value"] == order["payable"]
    assert totals["repeat_buyer_rate"] == 0.0
    types = [event["type"] for event in raw_events.events]
    assert types.count("ORDER_CREATED") == 1 and types.count("ORDER_PAID") == 1


def test_every_counter_moves_exactly_once_across_redeliveries(app, shop, alice, bob, owner, pump, raw_events):
    product = shop.product(prices=[3000, 4500])
    first = alice.placed({product.skus[0].sku_id: 2})
    second = bob.placed({product.skus[1].sku_id: 1})
    alice.api.post("/cart/items", {"sku_id": product.skus[1].sku_id, "quantity": 1})
    pay(alice.api, first["order_id"])
    assert bob.api.post(f"/orders/{second['order_id']}/cancel").status_code == 200
    pump.drain()
    once = dashboard(owner, DAY, DAY)
    written = len(raw_events.events)

    redeliver_every_stream_record(app)
    redeliver_every_stream_record(app)

    assert dashboard(owner, DAY, DAY) == once, "a redelivered record moved a counter"
    assert once["totals"]["orders"] == 2 and once["totals"]["paid_orders"] == 1
    assert once["totals"]["cart_adds"] == 1
    assert once["orders_by_status"]["PAID"] == 1 and once["orders_by_status"]["CANCELLED"] == 1
    assert once["orders_by_status"]["PENDING_PAYMENT"] == 0
    assert once["funnel"] == {"visitors": 2, "product_viewers": 0, "cart_adders": 1, "order_creators": 2,
                              "payers": 1}
    assert len(raw_events.events) == 3 * written, "raw events are written at least once, each time delivered"
    assert len({event["event_id"] for event in raw_events.events}) == written


def test_a_refund_lowers_net_gmv_on_the_day_it_settles(shop, alice, owner, pump, frozen_clock):
    order = alice.placed({shop.sku(price=12000): 1})
    pay(alice.api, order["order_id"])
    assert alice.api.post(f"/orders/{order['order_id']}/refund", {"reason": "拍错了"}).status_code == 200
    frozen_clock.advance(days=2)  # the merchant decides two days later; the sandbox refunds at once
    approved = owner.post(f"/admin/orders/{order['order_id']}/refund/approve")
    assert approved.status_code == 200 and approved.data["status"] == "REFUNDED", approved.data
    pump.drain()

    paid_day, settle_day = day_figures(owner, DAY), day_figures(owner, "2026-11-27")
    assert (paid_day["gmv"], paid_day["refunds"], paid_day["net_gmv"]) == (order["payable"], 0, order["payable"])
    assert (settle_day["gmv"], settle_day["refunds"], settle_day["net_gmv"]) == (0, order["payable"],
                                                                                 -order["payable"])
    whole = dashboard(owner, DAY, "2026-11-27")
    assert whole["totals"]["net_gmv"] == 0 and whole["totals"]["gmv"] == order["payable"]
    assert [day["refunds"] for day in whole["by_day"]] == [0, 0, order["payable"]]
    assert whole["orders_by_status"]["REFUNDED"] == 1 and whole["orders_by_status"]["PAID"] == 0


def test_a_returned_payment_is_no_refund_of_gmv():
    """Money an order never took (a second or late payment, sent back: kind RETURN) never counted in GMV."""
    from chalicelib.analytics.orders import settled_refunds

    returned = {"out_refund_no": "O1-L1", "amount": 500, "status": "SUCCESS", "kind": "RETURN"}
    buyers = {"out_refund_no": "O1-R1", "amount": 500, "status": "SUCCESS", "kind": "BUYER"}
    old = {"order_id": "O1", "refunds": [{**returned, "status": "PROCESSING"}, {**buyers, "status": "PROCESSING"}]}
    assert settled_refunds(old, {"order_id": "O1", "refunds": [returned, buyers]}) == [buyers]
    assert settled_refunds({"order_id": "O1", "refunds": [buyers]}, {"order_id": "O1", "refunds": [buyers]}) == []


def test_days_are_shop_days_in_asia_shanghai(shop, alice, owner, pump, frozen_clock):
    frozen_clock.set("2026-11-25T15:59:59Z")  # 23:59:59 in Shanghai
    late = alice.placed({shop.sku(price=1000): 1})
    frozen_clock.set("2026-11-25T16:00:00Z")  # midnight: the 26th there, still the 25th in UTC
    early = alice.placed({shop.sku(price=2000): 1})
    pay(alice.api, late["order_id"])
    pump.drain()

    by_day = {day["day"]: day for day in dashboard(owner, "2026-11-25", "2026-11-26")["by_day"]}
    assert by_day["2026-11-25"]["orders"] == 1 and by_day["2026-11-26"]["orders"] == 1
    assert by_day["2026-11-25"]["gmv"] == 0, "paid after midnight: GMV of the day of the payment"
    assert by_day["2026-11-26"]["gmv"] == late["payable"] and early["payable"] != late["payable"]


def test_the_shop_time_zone_is_configurable(shop, alice, owner, pump, frozen_clock, monkeypatch):
    monkeypatch.setenv("MALL_SHOP_TIMEZONE", "UTC")
    frozen_clock.set("2026-11-25T16:30:00Z")
    alice.placed({shop.sku(price=1000): 1})
    pump.drain()
    answer = dashboard(owner, "2026-11-25", "2026-11-25")
    assert answer["time_zone"] == "UTC" and answer["totals"]["orders"] == 1


def test_new_and_repeat_buyers(client, shop, alice, bob, owner, pump, frozen_clock):
    sku = shop.sku(price=5000)
    for who in (alice, alice, bob):  # alice pays twice on the 25th, bob once
        pay(who.api, who.placed({sku: 1})["order_id"])
    frozen_clock.advance(days=1)
    pay(bob.api, bob.placed({sku: 1})["order_id"])  # bob comes back on the 26th
    pump.drain()

    first, second = day_figures(owner, DAY), day_figures(owner, "2026-11-26")
    assert (first["buyers"], first["new_buyers"], first["repeat_buyer_rate"]) == (2, 2, 0.5)
    assert (second["buyers"], second["new_buyers"], second["repeat_buyer_rate"]) == (1, 0, 1.0)
    both = dashboard(owner, DAY, "2026-11-26")
    assert both["distinct"]["method"] == "hyperloglog"
    assert both["totals"]["buyers"] == 2 and both["totals"]["new_buyers"] == 2
    assert both["totals"]["repeat_buyer_rate"] == 1.0, "both paid for an order that was not their first"
    assert both["totals"]["paid_orders"] == 4 and both["totals"]["average_order_value"] == both["totals"]["gmv"] // 4


def test_top_products_rank_by_amount_paid_with_their_titles(shop, alice, owner, pump):
    cheap, dear = shop.product(prices=[1000]), shop.product(prices=[9000])
    pay(alice.api, alice.placed({cheap.skus[0].sku_id: 3, dear.skus[0].sku_id: 1})["order_id"])
    alice.placed({cheap.skus[0].sku_id: 5})  # placed, never paid: no units sold
    pump.drain()

    top = dashboard(owner, DAY, DAY)["top_products"]
    assert [(p["product_id"], p["title"], p["units"], p["paid_amount"]) for p in top] == [
        (dear.product_id, dear.title, 1, 9000), (cheap.product_id, cheap.title, 3, 3000)]


def test_campaign_results_per_coupon_template_and_flash_sale(client, shop, alice, bob, owner, pump):
    from chalicelib.marketing import service as marketing
    from chalicelib.marketing import templates
    from chalicelib.marketing.inputs import NewTemplate

    template = templates.create_template(NewTemplate(name="立减 5 元", kind="NO_THRESHOLD", amount_off=500,
                                                     total=10, per_user_limit=1, valid_days=7), actor="analyst")
    coupon = marketing.claim(alice.user_id, template.template_id).coupon_id
    with_coupon = alice.placed({shop.sku(price=8000): 1}, coupon_id=coupon)
    pay(alice.api, with_coupon["order_id"])

    flash_sku = shop.sku(price=5000, stock=20)
    now = clock.now()
    sale = owner.post("/admin/flash-sales", {
        "sku_id": flash_sku, "sale_price": 2000, "stock": 4, "per_user_limit": 2, "shards": 1,
        "starts_at": clock.iso(now - timedelta(seconds=1)), "ends_at": clock.iso(now + timedelta(hours=1))})
    assert sale.status_code == 201, sale.data
    flash = bob.api.post("/orders", {"address_id": bob.address_id, "flash_sale_id": sale.data["sale_id"],
                                     "items": [{"sku_id": flash_sku, "quantity": 2}]},
                         headers={"Idempotency-Key": new_key()})
    assert flash.status_code == 201, flash.data
    pay(bob.api, flash.data["order_id"])
    pump.drain()

    results = {entry["kind"]: entry for entry in dashboard(owner, DAY, DAY)["campaigns"]}
    assert results["COUPON"] == {"kind": "COUPON", "campaign_id": template.template_id, "name": "立减 5 元",
                                 "orders": 1, "paid_orders": 1, "paid_amount": with_coupon["payable"],
                                 "discount": 500}
    assert results["FLASH_SALE"] == {"kind": "FLASH_SALE", "campaign_id": sale.data["sale_id"],
                                     "name": sale.data["title"], "orders": 1, "paid_orders": 1,
                                     "paid_amount": flash.data["payable"], "discount": (5000 - 2000) * 2}


def test_group_buy_campaign_results(client, shop, owner, pump):
    from chalicelib.members import service as members
    from tests.checkout.conftest import Buyer

    product = shop.product(prices=[5000])
    campaign = owner.post("/admin/groupbuy/campaigns", {
        "product_id": product.product_id, "sku_id": product.skus[0].sku_id, "group_price": 2990,
        "group_size": 2, "duration_minutes": 60, "stock": 10})
    assert campaign.status_code == 201, campaign.data
    leader, joiner = (Buyer(client, members.login(f"dev:analytics-group-{n}").user.user_id) for n in (1, 2))
    opened = leader.api.post("/groupbuy/groups", {"campaign_id": campaign.data["campaign_id"],
                                                  "address_id": leader.address_id})
    assert opened.status_code == 201, opened.data
    pay(leader.api, opened.data["order"]["order_id"])
    joined = joiner.api.post(f"/groupbuy/groups/{opened.data['group_id']}/join",
                             {"address_id": joiner.address_id})
    assert joined.status_code == 201, joined.data
    pump.drain()

    [result] = dashboard(owner, DAY, DAY)["campaigns"]
    assert result == {"kind": "GROUP_BUY", "campaign_id": campaign.data["campaign_id"],
                      "name": campaign.data["title"], "orders": 2, "paid_orders": 1,
                      "paid_amount": opened.data["order"]["payable"], "discount": 5000 - 2990}


def test_each_buyer_is_one_payer_however_many_orders(client, shop, owner, pump):
    sku = shop.sku(price=1000, stock=100)
    buyers = [buyer(client, f"many-{n}") for n in range(3)]
    for who in buyers:
        for _ in range(3):
            pay(who.api, who.placed({sku: 1})["order_id"])
    pump.drain()
    figures = dashboard(owner, DAY, DAY)
    assert figures["totals"]["paid_orders"] == 9 and figures["totals"]["buyers"] == 3
    assert figures["funnel"]["payers"] == 3 and figures["funnel"]["order_creators"] == 3
