"""A merchant keeps the catalog in the console, in a real browser: a category, a product with two SKUs that buyers
see at once, stock set and adjusted (audited), a low-stock threshold whose crossing raises an alert, and the
product taken off sale."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.console_session import desk_page, sign_in
from tests.e2e.stack import eventually

CATEGORY = "控制台测试类目"
TITLE = "控制台测试·纯棉T恤"


@pytest.fixture
def desk(browser, stack):
    with desk_page(browser, stack) as page:
        yield page


def test_merchant_adds_a_product_keeps_its_stock_and_sees_the_low_stock_alert(stack, desk, shoot):
    sign_in(desk, "admin", "admin")
    desk.get_by_test_id("nav-categories").click()
    desk.get_by_test_id("category-name").fill(CATEGORY)
    desk.get_by_role("button", name="新建类目").click()
    expect(desk.get_by_test_id("done")).to_have_text("类目已创建")
    expect(desk.get_by_test_id("categories")).to_contain_text(CATEGORY)

    desk.get_by_test_id("nav-products").click()
    desk.get_by_role("link", name="新建商品").click()
    desk.get_by_label("标题").fill(TITLE)
    desk.get_by_label("类目").select_option(label=CATEGORY)
    desk.get_by_test_id("sku-specs-0").fill("颜色: 白 / 尺码: M")
    desk.get_by_test_id("sku-price-0").fill("39.9")
    desk.get_by_test_id("sku-stock-0").fill("8")
    desk.get_by_role("button", name="添加规格").click()
    desk.get_by_test_id("sku-specs-1").fill("颜色: 黑 / 尺码: M")
    desk.get_by_test_id("sku-price-1").fill("42")
    desk.get_by_test_id("sku-stock-1").fill("3")
    shoot(desk, "console-product-new")
    desk.get_by_role("button", name="创建商品").click()
    desk.wait_for_url(re.compile(r"/console/products/[0-9A-Z]{26}$"))
    product_id = desk.url.rsplit("/", 1)[1]

    status, seen = stack.request("GET", f"/catalog/products/{product_id}")
    assert status == 200 and seen["title"] == TITLE, seen
    skus = {tuple(sorted(s["specs"].items())): s for s in seen["skus"]}
    white = skus[(("尺码", "M"), ("颜色", "白"))]
    black = skus[(("尺码", "M"), ("颜色", "黑"))]
    assert (white["price"], white["stock"], black["price"], black["stock"]) == (3990, 8, 4200, 3), seen

    white_panel = desk.locator(f"[data-sku='{white['sku_id']}']")
    black_panel = desk.locator(f"[data-sku='{black['sku_id']}']")
    expect(white_panel.get_by_test_id("available")).to_have_text("8")
    white_panel.get_by_test_id("stock-set").fill("20")
    white_panel.get_by_test_id("stock-set-submit").click()
    expect(white_panel.get_by_test_id("available")).to_have_text("20")
    black_panel.get_by_test_id("stock-delta").fill("-1")
    black_panel.get_by_test_id("stock-delta-reason").fill("样品破损")
    black_panel.get_by_test_id("stock-adjust-submit").click()
    expect(black_panel.get_by_test_id("available")).to_have_text("2")
    black_panel.get_by_role("button", name="查看库存变动记录").click()
    expect(black_panel.get_by_role("row").filter(has_text="样品破损")).to_contain_text("-1")

    # The storekeeper is told of low stock: the LOW_STOCK kind on, with its WeChat template and its recipient.
    status, keeper = stack.request("POST", "/auth/login", {"code": "dev:console-storekeeper"})
    assert status == 200, keeper
    desk.get_by_test_id("nav-notifications").click()
    desk.get_by_test_id("tab-templates").click()
    low_stock = desk.get_by_test_id("notification-templates").locator("tr[data-kind='LOW_STOCK']")
    low_stock.get_by_role("button", name="设置").click()
    desk.get_by_label("微信模板编号").fill("tmpl-low-stock-01")
    desk.get_by_label("字段映射").fill("thing1 = product_title\nnumber2 = available")
    desk.get_by_label("接收员工的用户编号").fill(keeper["user"]["user_id"])
    desk.get_by_role("button", name="保存并开启").click()
    expect(desk.get_by_test_id("done")).to_have_text("已开启“库存不足”通知")
    expect(low_stock).to_contain_text("已开启")
    expect(low_stock).to_contain_text("tmpl-low-stock-01")
    desk.goto(f"/console/products/{product_id}")

    # A threshold, then a count below it: one LOW_STOCK alert for that SKU, and its notification.
    white_panel.get_by_test_id("threshold").fill("5")
    white_panel.get_by_test_id("threshold-submit").click()
    expect(white_panel.get_by_test_id("done")).to_have_text("库存低于 5 时提醒")
    white_panel.get_by_test_id("stock-delta").fill("-17")
    white_panel.get_by_test_id("stock-delta-reason").fill("调往门店")
    white_panel.get_by_test_id("stock-adjust-submit").click()
    expect(white_panel.get_by_test_id("available")).to_have_text("3")
    shoot(desk, "console-product-stock")
    status, seen = stack.request("GET", f"/catalog/products/{product_id}")
    assert {s["sku_id"]: s["stock"] for s in seen["skus"]} == {white["sku_id"]: 3, black["sku_id"]: 2}, seen

    desk.get_by_test_id("nav-notifications").click()
    desk.get_by_test_id("tab-alerts").click()
    alert = desk.get_by_test_id("alerts").locator(f"tr[data-sku='{white['sku_id']}']")

    def alerted() -> bool:
        desk.get_by_role("button", name="刷新").click()
        expect(desk.get_by_text("加载中…")).to_have_count(0)
        return alert.count() == 1
    assert eventually(alerted, timeout=20, every=1), "no low-stock alert for the SKU below its threshold"
    expect(alert).to_contain_text(TITLE)
    expect(alert.locator("td.num").first).to_have_text("3")
    expect(alert.locator("td.num").last).to_have_text("5")
    shoot(desk, "console-low-stock-alerts")

    desk.get_by_test_id("tab-notifications").click()
    notice = desk.get_by_test_id("notifications").locator("tr[data-kind='LOW_STOCK']")

    def notified() -> bool:
        desk.get_by_role("button", name="刷新").click()
        expect(desk.get_by_text("加载中…")).to_have_count(0)
        return notice.count() == 1
    assert eventually(notified, timeout=20, every=1), "no LOW_STOCK notification for the storekeeper"
    expect(notice).to_contain_text("库存不足")
    expect(notice).to_contain_text(keeper["user"]["user_id"])
    expect(notice).to_contain_text(TITLE)
    shoot(desk, "console-notifications")

    desk.goto(f"/console/products/{product_id}")
    desk.get_by_role("button", name="下架").click()
    expect(desk.get_by_test_id("done")).to_have_text("商品已下架")
    expect(desk.get_by_test_id("on-sale")).not_to_be_checked()
    status, listing = stack.request("GET", "/catalog/products?limit=50")
    assert product_id not in {p["product_id"] for p in listing["items"]}, listing
