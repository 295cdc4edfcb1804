"""What the storefront's browser tests share: the stack's API as the merchant or a buyer sees it (to set a scene
the page then plays: a campaign, a sale, points granted), and the steps a buyer takes in the page again and again.

The pages are driven as a person would: by roles, labels and visible words; `data-test` only where the words are
not unique (a total, a status).
"""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE

SHOP = "/shop/"
WECHAT_BROWSER = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                  "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def in_minutes(minutes: float) -> str:
    return iso(datetime.now(UTC) + timedelta(minutes=minutes))


class Mall:
    """The running stack through its API, for arranging a scene and checking what the page did."""

    def __init__(self, stack):
        self.stack = stack
        self._staff = None

    def call(self, method: str, path: str, body=None, token: str | None = None, headers=None, expect_status=None):
        status, answer = self.stack.request(method, path, body, token=token, headers=headers)
        if expect_status is None:
            assert 200 <= status < 300, f"{method} {path}: expected success, got {status} {answer}"
        else:
            assert status == expect_status, f"{method} {path}: expected {expect_status}, got {status} {answer}"
        return answer

    def staff(self) -> str:
        if self._staff is None:
            self._staff = self.call("POST", "/admin/login", {"username": "admin", "password": "admin"})["token"]
        return self._staff

    def buyer(self, name: str) -> tuple[str, str]:
        """(token, user_id) of the sandbox buyer `dev:<name>`, the one the login page signs in as <name>."""
        answer = self.call("POST", "/auth/login", {"code": f"dev:{name}"})
        return answer["token"], answer["user"]["user_id"]

    def grant_points(self, user_id: str, points: int) -> None:
        self.call("POST", f"/admin/members/{user_id}/points", {"delta": points, "note": "browser test"},
                  token=self.staff())

    def product(self, title: str) -> dict:
        """A demo product by its title, read from the listing (the search index may still be filling on a fresh
        stack)."""
        found, cursor = [], ""
        while True:
            page = self.call("GET", f"/catalog/products?limit=50{'&cursor=' + quote(cursor) if cursor else ''}")
            found += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        match = [p for p in found if p["title"] == title]
        assert match, f"expected the demo catalog to hold {title!r}, it holds {[p['title'] for p in found]}"
        return self.call("GET", f"/catalog/products/{match[0]['product_id']}")

    def wait_until_searchable(self, words: str, title: str) -> None:
        """The search index is filled from the products' stream: on a fresh stack, wait until it finds `title`."""
        def found():
            items = self.call("GET", f"/catalog/products?q={quote(words)}")["items"]
            assert title in [item["title"] for item in items], f"expected a search for {words!r} to find {title!r}"
        eventually(found, timeout=30)

    def order(self, order_id: str, token: str) -> dict:
        return self.call("GET", f"/orders/{order_id}", token=token)

    def add_address(self, token: str) -> str:
        return self.call("POST", "/me/addresses", {"name": "李四", "phone": "13900139000", "province": "浙江省",
                                                   "city": "杭州市", "district": "西湖区", "detail": "文三路 1 号"},
                         token=token)["address_id"]


def new_phone(browser, stack, user_agent: str | None = None):
    """Another buyer's phone (a fresh context, as the `phone` fixture makes): for scenes with two people, or with
    another browser's `user_agent` (WECHAT_BROWSER)."""
    more = {"user_agent": user_agent} if user_agent else {}
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN", timezone_id="Asia/Shanghai", base_url=stack.url, **more)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


def log_in(page: Page, name: str) -> None:
    """On the login page: the sandbox's demo buyer name, then 登录; the page goes back where it was sent from."""
    expect(page.get_by_role("heading", name="登录微商城")).to_be_visible()
    field = page.get_by_label("演示买家名")
    field.fill(name)
    page.get_by_role("button", name="登录", exact=True).click()  # not 支付宝登录 (the web login above it)
    expect(page.get_by_role("heading", name="登录微商城")).to_have_count(0)


def fill_address(page: Page) -> None:
    form = page.locator("[data-test=address-form]")
    form.get_by_label("收货人").fill("王小明")
    form.get_by_label("手机号").fill("13812345678")
    form.get_by_label("省份").fill("上海市")
    form.get_by_label("城市").fill("上海市")
    form.get_by_label("区县").fill("浦东新区")
    form.get_by_label("详细地址").fill("世纪大道 100 号 8 楼")
    form.get_by_role("button", name="保存地址").click()
    expect(form).to_have_count(0)


def pay_in_sandbox(page: Page) -> None:
    """The cashier: Alipay's H5 pay cannot be reached locally, so the sandbox's cashier confirms the payment."""
    expect(page.get_by_role("heading", name="收银台")).to_be_visible()
    page.get_by_role("button", name="支付宝支付").click()
    cashier = page.get_by_role("region", name="沙箱收银台")
    expect(cashier).to_be_visible()
    cashier.get_by_role("button", name=re.compile("确认付款")).click()


def order_id_from(page: Page) -> str:
    match = re.search(r"[?&](?:id|order_id)=([0-9A-Z]{26})", page.url)
    assert match, f"expected an order id in the page's address, got {page.url}"
    return match.group(1)


def snap(shoot, page: Page, name: str) -> None:
    """The whole page from its top (a sticky header stays where the page was scrolled to otherwise)."""
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, name)


def fits_phone_width(page: Page) -> None:
    """Nothing on the page is wider than the 375 px phone (no sideways scrolling)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"expected the page to fit {PHONE['width']} px, it is {width} px wide"


def eventually(check, timeout: float = 15, every: float = 0.3, page: Page | None = None):
    """check() until it stops raising AssertionError. With a page, wait through it: Playwright's sync API only
    dispatches the page's events (routes, requests) while a call of its own is waiting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            if page is not None:
                page.wait_for_timeout(every * 1000)
            else:
                time.sleep(every)
