"""Low-stock alerts from real inventory stream records: one alert per crossing, sent to subscribed staff."""
from __future__ import annotations

from tests.notify.conftest import logged_in_buyer, notifications, subscribe


def set_stock(admin, sku_id: str, stock: int) -> None:
    response = admin.put(f"/admin/skus/{sku_id}/stock", {"stock": stock, "reason": "count"})
    assert response.status_code == 200, response.data


def alerts(admin) -> list[dict]:
    response = admin.get("/admin/low-stock-alerts")
    assert response.status_code == 200, response.data
    return response.data["items"]


def test_a_crossing_below_the_threshold_alerts_once_until_the_stock_recovers(app, shop, admin, pump):
    sku_id = shop.sku(stock=20)
    response = admin.put(f"/admin/skus/{sku_id}/low-stock-threshold", {"threshold": 10})
    assert response.status_code == 200 and response.data == {"sku_id": sku_id, "low_stock_threshold": 10}

    set_stock(admin, sku_id, 12)
    pump.drain()
    assert alerts(admin) == [], "alerted above the threshold"

    set_stock(admin, sku_id, 9)
    set_stock(admin, sku_id, 5)
    set_stock(admin, sku_id, 11)  # recovered (not below 10) ...
    set_stock(admin, sku_id, 10)
    pump.drain()
    from infra.local.pump import EventPump

    EventPump(app, starting_position="TRIM_HORIZON").drain()  # every record delivered again
    [alert] = alerts(admin)
    assert (alert["sku_id"], alert["available"], alert["threshold"]) == (sku_id, 9, 10)
    assert alert["title"].startswith("商品")

    set_stock(admin, sku_id, 3)  # ... so crossing below again is a new alert
    pump.drain()
    assert [a["available"] for a in alerts(admin)] == [3, 9]


def test_setting_a_threshold_above_the_stock_alerts_at_once_and_removing_it_stops_alerts(shop, admin, pump):
    sku_id = shop.sku(stock=4)
    admin.put(f"/admin/skus/{sku_id}/low-stock-threshold", {"threshold": 5})
    pump.drain()
    assert [a["available"] for a in alerts(admin)] == [4]

    assert admin.put(f"/admin/skus/{sku_id}/low-stock-threshold", {"threshold": None}).status_code == 200
    set_stock(admin, sku_id, 50)
    set_stock(admin, sku_id, 1)
    pump.drain()
    assert len(alerts(admin)) == 1


def test_buying_the_stock_down_alerts_the_staff_who_subscribed(client, shop, admin, pump, sandbox_wechat):
    keeper = logged_in_buyer(client, "store-keeper")  # staff receive messages on their own WeChat
    other = logged_in_buyer(client, "other-staff")
    response = admin.put("/admin/notification-templates/LOW_STOCK", {
        "template_id": "tmpl-low-stock", "fields": [{"key": "thing1", "source": "product_title"},
                                                    {"key": "number2", "source": "available"}],
        "recipients": [keeper.user_id, other.user_id]})
    assert response.status_code == 200, response.data
    subscribe(keeper, "tmpl-low-stock")
    sku_id = shop.sku(stock=3)
    admin.put(f"/admin/skus/{sku_id}/low-stock-threshold", {"threshold": 2})
    pump.drain()

    keeper.placed({sku_id: 2})
    pump.drain()

    sent = {n.user_id: n.status for n in notifications("LOW_STOCK")}
    assert sent == {keeper.user_id: "SENT", other.user_id: "NOT_SUBSCRIBED"}
    [delivery] = sandbox_wechat.deliveries
    assert delivery["touser"] == "sandbox-openid-store-keeper" and delivery["data"]["number2"] == {"value": "1"}


def test_threshold_route_errors(client, shop, admin):
    sku_id = shop.sku()
    path = f"/admin/skus/{sku_id}/low-stock-threshold"
    assert admin.put("/admin/skus/NOPE/low-stock-threshold", {"threshold": 3}).data["error"]["code"] == \
        "SKU_NOT_FOUND"
    assert admin.put(path, {"threshold": 0}).status_code == 400
    assert admin.put(path, {"threshold": "3"}).status_code == 400
    assert admin.put(path, {}).status_code == 400
    assert client.put(path, {"threshold": 3}).status_code == 401
    from tests.conftest import buyer_token

    assert client.as_token(buyer_token()).put(path, {"threshold": 3}).status_code == 403
    assert client.get("/admin/low-stock-alerts").status_code == 401
    assert admin.get("/admin/low-stock-alerts?cursor=bad").status_code == 400


def test_a_staff_recipient_must_be_a_user_of_the_mini_program(admin):
    response = admin.put("/admin/notification-templates/LOW_STOCK", {
        "template_id": "tmpl-low-stock", "fields": [{"key": "thing1", "source": "product_title"}],
        "recipients": ["U-nobody"]})
    assert response.status_code == 400 and "U-nobody" in response.data["error"]["message"], response.data
