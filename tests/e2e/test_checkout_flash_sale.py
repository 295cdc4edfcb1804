"""A flash sale over real HTTP against `make run`: never oversold, all or nothing, unpaid orders expire.

Fifty buyers log in, add an address and then, released together by a barrier,
each POST /orders for one unit of a SKU with 20 in stock. The stack's embedded
DynamoDB listens on a port this module picks, so the inventory row itself is
read back (available + reserved + sold) beside what the API says.

A second stack runs with MALL_ORDER_PAYMENT_TIMEOUT=2 and its schedules every
second, so its event pump's sweeper cancels unpaid orders while the test
watches through the API.
"""
from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from tests.e2e.stack import RunningStack, eventually, free_port

SALE_STOCK = 20
BUYERS = 50
ADDRESS = {"name": "张三", "phone": "13800138000", "province": "广东省", "city": "深圳市",
           "district": "南山区", "detail": "科技园 1 号", "is_default": True}
TABLE_PREFIX = "micromall-local-"  # what `make run` names its tables


class Stack(RunningStack):
    """`make run` with its embedded DynamoDB on a known port, so tests can read tables directly."""

    def __init__(self, local_dir, extra_env: dict[str, str] | None = None):
        self.dynamodb_port = free_port()
        super().__init__(local_dir, extra_env={"MALL_LOCAL_DYNAMODB_PORT": str(self.dynamodb_port),
                                               **(extra_env or {})})

    def inventory(self, sku_id: str) -> dict[str, int]:
        import boto3

        client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{self.dynamodb_port}",
                              region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local")
        item = client.get_item(TableName=f"{TABLE_PREFIX}inventory", ConsistentRead=True,
                               Key={"sku_id": {"S": sku_id}, "shard": {"N": "0"}})["Item"]
        return {name: int(item[name]["N"]) for name in ("available", "reserved", "sold")}

    def stock(self, product_id: str) -> dict[str, int]:
        """What a buyer sees: SKU id -> stock on the product page."""
        status, product = self.request("GET", f"/catalog/products/{product_id}")
        assert status == 200, f"expected the product page, got {status}: {product}"
        return {sku["sku_id"]: sku["stock"] for sku in product["skus"]}

    def new_product(self, stocks: list[int], price: int = 990) -> dict:
        """A product with one SKU per entry of `stocks`, created by the seeded admin over the console API."""
        status, login = self.request("POST", "/admin/login", {"username": "admin", "password": "admin"})
        assert status == 200, f"expected the seeded admin to log in, got {status}: {login}"
        staff = login["token"]
        status, category = self.request("POST", "/admin/categories", {"name": f"秒杀{time.monotonic_ns() % 10**6}"},
                                        token=staff)
        assert status == 201, f"expected a new category, got {status}: {category}"
        skus = [{"specs": {"款式": f"{n}号"}, "price": price, "stock": stock} for n, stock in enumerate(stocks)]
        status, product = self.request("POST", "/admin/products", {
            "title": "秒杀测试商品", "category_id": category["category_id"], "skus": skus}, token=staff)
        assert status == 201, f"expected a new product, got {status}: {product}"
        return product

    def buyer(self, name: str) -> tuple[str, str, str]:
        """(token, user_id, address_id) of the sandbox buyer `dev:<name>`, with one address."""
        status, login = self.request("POST", "/auth/login", {"code": f"dev:{name}"})
        assert status == 200, f"expected buyer {name} to log in, got {status}: {login}"
        status, address = self.request("POST", "/me/addresses", ADDRESS, token=login["token"])
        assert status == 201, f"expected buyer {name}'s address to be saved, got {status}: {address}"
        return login["token"], login["user"]["user_id"], address["address_id"]

    def order(self, token: str, address_id: str, items: dict[str, int], key: str):
        body = {"address_id": address_id, "items": [{"sku_id": s, "quantity": q} for s, q in items.items()]}
        return self.request("POST", "/orders", body, token=token, headers={"Idempotency-Key": key}, timeout=30)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = Stack(tmp_path_factory.mktemp("flash-sale")).wait_ready()
    yield running
    assert running.stop() == 0, running.output()


@pytest.fixture(scope="module")
def expiring_stack(tmp_path_factory):
    """Unpaid orders expire after 2 s, and the event pump runs the sweeper every second."""
    running = Stack(tmp_path_factory.mktemp("expiring"), extra_env={
        "MALL_ORDER_PAYMENT_TIMEOUT": "2", "MALL_LOCAL_SCHEDULE_SECONDS": "1"}).wait_ready()
    yield running
    assert running.stop() == 0, running.output()


def in_parallel(count: int, work) -> list:
    """Run work(i) for i in range(count) on `count` threads; results in order (an exception is a result)."""
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results



def test_fifty_buyers_racing_for_twenty_units_get_twenty_orders_and_thirty_out_of_stock(stack):
    product = stack.new_product([SALE_STOCK])
    sku_id = product["skus"][0]["sku_id"]
    buyers = in_parallel(BUYERS, lambda i: stack.buyer(f"flash-{i:02d}"))
    failed = [b for b in buyers if isinstance(b, BaseException)]
    assert not failed, f"expected every buyer to log in and add an address, got {failed[:3]}"
    assert len({user_id for _, user_id, _ in buyers}) == BUYERS, "expected 50 distinct buyers"

    gate = threading.Barrier(BUYERS)

    def buy(i: int):
        token, _, address_id = buyers[i]
        gate.wait()
        return stack.order(token, address_id, {sku_id: 1}, key=f"flash-sale-{i:02d}")

    answers = in_parallel(BUYERS, buy)

    errors = [a for a in answers if isinstance(a, BaseException)]
    assert not errors, f"expected every order request answered, got {errors[:3]}"
    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: SALE_STOCK, 409: BUYERS - SALE_STOCK}, \
        f"expected {SALE_STOCK} x 201 and {BUYERS - SALE_STOCK} x 409, got {dict(statuses)}: " \
        f"{[body for status, body in answers if status not in (201, 409)][:3]}"
    codes = Counter(body["error"]["code"] for status, body in answers if status == 409)
    assert codes == {"OUT_OF_STOCK": BUYERS - SALE_STOCK}, f"expected only OUT_OF_STOCK refusals, got {dict(codes)}"
    orders = [body for status, body in answers if status == 201]
    assert len({order["order_id"] for order in orders}) == SALE_STOCK, "expected 20 distinct orders"
    owners = {buyers[i][1] for i, (status, _) in enumerate(answers) if status == 201}
    assert {order["user_id"] for order in orders} == owners, "expected each order to belong to the buyer who placed it"
    assert all(order["status"] == "PENDING_PAYMENT" and order["items"][0]["quantity"] == 1 for order in orders)

    assert stack.stock(product["product_id"]) == {sku_id: 0}, "expected the product page to show no stock left"
    row = stack.inventory(sku_id)
    assert row == {"available": 0, "reserved": SALE_STOCK, "sold": 0}, \
        f"expected available 0, reserved {SALE_STOCK}, sold 0, got {row}"
    assert sum(row.values()) == SALE_STOCK, f"expected available + reserved + sold == {SALE_STOCK}, got {row}"

    listed = []
    for i, (status, _) in enumerate(answers):
        if status == 201:
            status, page = stack.request("GET", "/orders", token=buyers[i][0])
            assert status == 200, page
            listed.extend(page["items"])
    assert sum(order["items"][0]["quantity"] for order in listed) == SALE_STOCK, \
        f"expected the buyers' own order lists to hold {SALE_STOCK} units, got {len(listed)} orders"


def test_an_order_with_one_short_sku_among_several_reserves_nothing(stack):
    product = stack.new_product([5, 5, 1])
    plenty_a, plenty_b, short = (sku["sku_id"] for sku in product["skus"])
    token, _, address_id = stack.buyer("short-line")
    before = {sku_id: stack.inventory(sku_id) for sku_id in (plenty_a, plenty_b, short)}

    status, body = stack.order(token, address_id, {plenty_a: 2, plenty_b: 2, short: 3}, key="short-line-0001")

    assert status == 409 and body["error"]["code"] == "OUT_OF_STOCK", f"expected 409 OUT_OF_STOCK, got {status}: {body}"
    assert [line["sku_id"] for line in body["error"]["details"]["lines"]] == [short], \
        f"expected only the short SKU named, got {body['error']['details']}"
    after = {sku_id: stack.inventory(sku_id) for sku_id in (plenty_a, plenty_b, short)}
    assert after == before, f"expected no stock moved, got {before} -> {after}"
    assert stack.stock(product["product_id"]) == {plenty_a: 5, plenty_b: 5, short: 1}
    status, page = stack.request("GET", "/orders", token=token)
    assert status == 200 and page["items"] == [], f"expected no order for the buyer, got {page}"


def test_the_stack_sweeper_cancels_unpaid_orders_after_the_timeout_and_returns_their_stock(expiring_stack):
    stack = expiring_stack
    product = stack.new_product([5])
    sku_id = product["skus"][0]["sku_id"]
    placed = []
    for n in range(3):
        token, _, address_id = stack.buyer(f"late-payer-{n}")
        status, order = stack.order(token, address_id, {sku_id: 1}, key=f"late-payer-{n}-key")
        assert status == 201, f"expected order {n} placed, got {status}: {order}"
        placed.append((token, order["order_id"]))
        if n == 0:  # this buyer cancels at once: the stock comes back now, and the sweeper must not release it again
            status, cancelled = stack.request("POST", f"/orders/{order['order_id']}/cancel", token=token)
            assert status == 200 and cancelled["cancel_reason"] == "BUYER", \
                f"expected the buyer's cancel within the 2 s timeout, got {status}: {cancelled}"

    def orders() -> dict[str, dict]:
        return {order_id: stack.request("GET", f"/orders/{order_id}", token=token)[1] for token, order_id in placed}

    def all_cancelled() -> dict[str, dict] | None:
        seen = orders()
        return seen if all(order["status"] == "CANCELLED" for order in seen.values()) else None

    final = eventually(all_cancelled, timeout=20)
    assert final, f"expected every order CANCELLED within 20 s of a 2 s timeout, got {orders()}\n{stack.output()}"
    reasons = [final[order_id]["cancel_reason"] for _, order_id in placed]
    assert reasons == ["BUYER", "TIMEOUT", "TIMEOUT"], \
        f"expected the buyer's cancel kept and the other two timed out, got {reasons}"
    assert stack.inventory(sku_id) == {"available": 5, "reserved": 0, "sold": 0}, \
        f"expected all 5 units back once each, got {stack.inventory(sku_id)}"
    assert stack.stock(product["product_id"]) == {sku_id: 5}
