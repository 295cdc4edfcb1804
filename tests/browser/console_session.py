"""What the console's browser tests share: a desktop-sized page, a merchant signing in as a person would, and buyers
who buy through the API (the storefront's part is tested on its own)."""
from __future__ import annotations

import contextlib
import itertools
import time

DESK = {"width": 1280, "height": 900}
_keys = itertools.count(1)


@contextlib.contextmanager
def desk_page(browser, stack):
    """A fresh desktop page (a merchant's screen) on the stack's origin; uncaught page errors fail the test."""
    context = browser.new_context(viewport=DESK, locale="zh-CN", timezone_id="Asia/Shanghai", base_url=stack.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def sign_in(page, username: str, password: str) -> None:
    page.goto("/console/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_test_id("logout").wait_for()


def staff_token(stack, username: str = "admin", password: str = "admin") -> str:
    status, answer = stack.request("POST", "/admin/login", {"username": username, "password": password})
    assert status == 200, answer
    return answer["token"]


def buyer(stack, name: str) -> str:
    status, login = stack.request("POST", "/auth/login", {"code": f"dev:{name}"})
    assert status == 200, login
    token = login["token"]
    address = {"name": "王小明", "phone": "13800138000", "province": "广东省", "city": "深圳市", "district": "南山区",
               "detail": "科技园路 1 号"}
    status, saved = stack.request("POST", "/me/addresses", address, token=token)
    assert status in (200, 201), saved
    return token


def first_product(stack) -> dict:
    status, page = stack.request("GET", "/catalog/products?limit=1")
    assert status == 200 and page["items"], page
    status, product = stack.request("GET", f"/catalog/products/{page['items'][0]['product_id']}")
    assert status == 200, product
    return product


def paid_order(stack, token: str, sku_id: str, quantity: int = 1) -> dict:
    """A buyer's order for `quantity` of `sku_id`, paid through the WeChat Pay sandbox."""
    status, addresses = stack.request("GET", "/me/addresses", token=token)
    assert status == 200, addresses
    items = addresses["items"] if isinstance(addresses, dict) else addresses
    body = {"items": [{"sku_id": sku_id, "quantity": quantity}], "address_id": items[0]["address_id"]}
    status, order = stack.request("POST", "/orders", body, token=token,
                                  headers={"Idempotency-Key": f"console-test-{time.time_ns()}-{next(_keys)}"})
    assert status == 201, order
    status, prepay = stack.request("POST", "/payments/prepay", {"order_id": order["order_id"], "provider": "wechat"},
                                   token=token)
    assert status == 200, prepay
    status, paid = stack.request("POST", "/payments/sandbox/pay", {"order_id": order["order_id"]}, token=token)
    assert status == 200 and paid["status"] == "PAID", paid
    return paid

