"""A merchant works the order queue in the console, in a real browser: ships a paid order, approves a buyer's
refund and watches the money go back; an operator without the refund and stock permissions is told so in words."""
from __future__ import annotations

import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.console_session import buyer, desk_page, first_product, paid_order, sign_in, staff_token
from tests.e2e.stack import eventually


@pytest.fixture
def desk(browser, stack):
    with desk_page(browser, stack) as page:
        yield page


def test_merchant_ships_a_paid_order_and_approves_a_refund(stack, desk, shoot):
    product = first_product(stack)
    sku = product["skus"][0]
    shipper = buyer(stack, "console-shipper")
    to_ship = paid_order(stack, shipper, sku["sku_id"], quantity=2)
    refunder = buyer(stack, "console-refunder")
    to_refund = paid_order(stack, refunder, sku["sku_id"])
    status, asked = stack.request("POST", f"/orders/{to_refund['order_id']}/refund", {"reason": "尺码不合适"},
                                  token=refunder)
    assert status == 200 and asked["status"] == "REFUND_REQUESTED", asked

    desk.goto("/console/")
    expect(desk.get_by_role("button", name="登录")).to_be_visible()
    shoot(desk, "console-login")
    sign_in(desk, "admin", "admin")

    # The paid order waits under 待发货: open it, ship it with a carrier and a tracking number.
    desk.get_by_test_id("nav-orders").click()
    desk.get_by_test_id("filter-PAID").click()
    row = desk.locator(f"[data-order='{to_ship['order_id']}']")
    expect(row).to_contain_text(product["title"])
    expect(row).to_contain_text("¥")
    shoot(desk, "console-orders-to-ship")
    row.get_by_role("link").click()
    expect(desk.get_by_test_id("order-status")).to_have_attribute("data-status", "PAID")
    desk.get_by_label("快递公司").fill("顺丰速运")
    desk.get_by_label("运单号").fill("SF1234567890")
    desk.get_by_role("button", name="确认发货").click()
    expect(desk.get_by_test_id("done")).to_have_text("已发货")
    expect(desk.get_by_test_id("order-status")).to_have_attribute("data-status", "SHIPPED")
    expect(desk.get_by_test_id("shipment")).to_have_text("顺丰速运 SF1234567890")
    shoot(desk, "console-order-shipped")

    status, seen = stack.request("GET", f"/orders/{to_ship['order_id']}", token=shipper)
    assert status == 200 and seen["status"] == "SHIPPED", seen
    assert seen["shipment"]["carrier"] == "顺丰速运" and seen["shipment"]["tracking_no"] == "SF1234567890", seen

    # The refund request waits under 退款待审核: the buyer's reason is shown; approving sends the money back,
    # and the page follows the refund until the provider's notification settles it.
    desk.get_by_role("link", name="← 返回订单列表").click()
    desk.get_by_test_id("filter-REFUND_REQUESTED").click()
    desk.locator(f"[data-order='{to_refund['order_id']}']").get_by_role("link").click()
    expect(desk.get_by_test_id("refund-reason")).to_have_text("尺码不合适")
    shoot(desk, "console-refund-requested")
    desk.get_by_role("button", name="同意退款").click()
    expect(desk.get_by_test_id("done")).to_contain_text("已同意退款")
    expect(desk.get_by_test_id("order-status")).to_have_attribute("data-status", "REFUNDED", timeout=30_000)
    expect(desk.get_by_test_id("refunds")).to_contain_text(f"{to_refund['order_id']}-R1")
    expect(desk.get_by_test_id("refunds")).to_contain_text("已退回")
    shoot(desk, "console-order-refunded")

    status, seen = stack.request("GET", f"/orders/{to_refund['order_id']}", token=refunder)
    assert status == 200 and seen["status"] == "REFUNDED", seen
    assert [(r["amount"], r["status"]) for r in seen["refunds"]] == [(to_refund["payable"], "SUCCESS")], seen


def test_operator_without_refund_and_stock_permissions_is_told_why(stack, desk, shoot):
    owner = staff_token(stack)
    status, created = stack.request("POST", "/admin/staff",
                                    {"username": "console-op", "password": "operator-pass-1", "role": "operator"},
                                    token=owner)
    assert status == 201, created
    product = first_product(stack)
    sku = product["skus"][-1]
    asker = buyer(stack, "console-asker")
    order = paid_order(stack, asker, sku["sku_id"])
    status, asked = stack.request("POST", f"/orders/{order['order_id']}/refund", {"reason": "不想要了"}, token=asker)
    assert status == 200, asked

    sign_in(desk, "console-op", "operator-pass-1")
    expect(desk.get_by_test_id("who")).to_contain_text("运营")
    desk.goto(f"/console/orders/{order['order_id']}")
    expect(desk.get_by_text("你的账号没有“审核退款”权限")).to_be_visible()
    desk.get_by_role("button", name="同意退款").click()
    refusal = desk.get_by_test_id("error")
    expect(refusal).to_contain_text("你的账号没有“审核退款”权限，请联系店主授权")
    expect(refusal).to_contain_text("refunds.decide")
    expect(refusal).to_contain_text("403 PERMISSION_DENIED")
    expect(desk.get_by_test_id("order-status")).to_have_attribute("data-status", "REFUND_REQUESTED")
    shoot(desk, "console-operator-refund-refused")
    status, seen = stack.request("GET", f"/orders/{order['order_id']}", token=asker)
    assert seen["status"] == "REFUND_REQUESTED" and not seen["refunds"], seen

    desk.goto(f"/console/products/{product['product_id']}")
    panel = desk.locator(f"[data-sku='{sku['sku_id']}']")
    before = panel.get_by_test_id("available").inner_text()
    panel.get_by_test_id("stock-set").fill("5")
    panel.get_by_test_id("stock-set-submit").click()
    expect(panel.get_by_test_id("error")).to_contain_text("你的账号没有“调整库存”权限")
    expect(panel.get_by_test_id("error")).to_contain_text("stock.adjust")
    expect(panel.get_by_test_id("error")).to_contain_text("403 PERMISSION_DENIED")
    expect(panel.get_by_test_id("available")).to_have_text(before)
    shoot(desk, "console-operator-stock-refused")
    status, detail = stack.request("GET", f"/catalog/products/{product['product_id']}")
    assert next(s for s in detail["skus"] if s["sku_id"] == sku["sku_id"])["stock"] == int(before), detail


def test_a_signed_out_session_returns_to_the_login_page(stack, desk):
    sign_in(desk, "admin", "admin")
    desk.get_by_test_id("nav-orders").click()
    expect(desk.get_by_test_id("orders").locator("tbody tr").first).to_be_visible()
    desk.wait_for_load_state("networkidle")
    # Another device (or an owner) ends every session of this account: the next request is 401, and the console
    # says so on the login page instead of showing an empty list.
    owner = staff_token(stack)
    status, ended = stack.request("DELETE", "/admin/staff/admin/sessions", token=owner)
    assert status == 200 and ended["ended"] >= 1, ended
    desk.get_by_test_id("nav-products").click()
    expect(desk.get_by_role("button", name="登录")).to_be_visible()
    expect(desk.get_by_test_id("notice")).to_contain_text("登录已失效")
    assert eventually(lambda: "/console/login" in desk.url, timeout=5)


def test_merchant_signs_in_and_opens_an_order_with_the_keyboard_alone(stack, desk):
    token = buyer(stack, "console-keyboard")
    order = paid_order(stack, token, first_product(stack)["skus"][0]["sku_id"])
    desk.goto("/console/login")
    expect(desk.get_by_label("用户名")).to_be_focused()
    desk.keyboard.type("admin")
    desk.keyboard.press("Tab")
    desk.keyboard.type("admin")
    desk.keyboard.press("Enter")
    expect(desk.get_by_test_id("logout")).to_be_visible()
    desk.goto("/console/orders")
    link = desk.get_by_role("link", name=order["order_id"])
    for _ in range(40):  # skip link, brand, sign-out, the menu, the status filters ... to the order
        desk.keyboard.press("Tab")
        if link.evaluate("element => element === document.activeElement"):
            break
    expect(link).to_be_focused()
    assert link.evaluate("element => getComputedStyle(element).outlineStyle") != "none", "focus is not visible"
    desk.keyboard.press("Enter")
    expect(desk.get_by_test_id("order-id")).to_have_text(order["order_id"])


def test_a_payment_for_the_wrong_amount_shows_as_a_payment_anomaly(stack, desk, shoot):
    from chalicelib.payments.providers.sandbox import ensure_sandbox_keys, wechat_twin

    token = buyer(stack, "console-mispaid")
    status, me = stack.request("GET", "/me", token=token)
    assert status == 200, me
    status, addresses = stack.request("GET", "/me/addresses", token=token)
    items = addresses["items"] if isinstance(addresses, dict) else addresses
    status, order = stack.request("POST", "/orders", {
        "items": [{"sku_id": first_product(stack)["skus"][0]["sku_id"], "quantity": 1}],
        "address_id": items[0]["address_id"]}, token=token, headers={"Idempotency-Key": "console-mispaid-0001"})
    assert status == 201, order
    status, prepay = stack.request("POST", "/payments/prepay", {"order_id": order["order_id"], "provider": "wechat"},
                                   token=token)
    assert status == 200, prepay
    # WeChat Pay notifies a payment of one fen less than the order asks, signed with the sandbox's keys.
    twin = wechat_twin(ensure_sandbox_keys(stack.local_dir / "keys"))
    headers, body = twin.build_payment_notification(order["order_id"], order["payable"] - 1, me["openid"])
    request = urllib.request.Request(stack.url + "/payments/wechat/notify", data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status in (200, 204), answer.read()

    sign_in(desk, "admin", "admin")
    desk.get_by_test_id("nav-payment-anomalies").click()
    row = desk.get_by_test_id("anomalies").locator("tr[data-code='AMOUNT_MISMATCH']")
    expect(row).to_contain_text("金额与订单不符")
    expect(row).to_contain_text(order["order_id"])
    shoot(desk, "console-payment-anomalies")
    row.get_by_role("link", name=order["order_id"]).click()
    expect(desk.get_by_test_id("order-id")).to_have_text(order["order_id"])
