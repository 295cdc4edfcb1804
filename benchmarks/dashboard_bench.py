"""The dashboard's DynamoDB calls for 7 and 30 days, with 10 and then 10,000 paid orders in the tables.

The orders are written to the orders table as they are (one item each, never read by the dashboard) and
counted by the analytics feature's own order path (`analytics.orders.count_changes`, what the orders
stream's reader calls): each order placed and paid on a day of the last 30, a buyer for every three orders,
one of 200 products, and one order in five with a coupon. The dashboard is then read over
HTTP (chalice.test.Client, an owner's token) and its DynamoDB calls counted with the same botocore hook as
the per-request table above. They must be the same with 10 and 10,000 orders.
"""
from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta

ORDER_COUNTS = (10, 10_000)
SPANS = (7, 30)
PRODUCTS = 200
TIMED_READS = 5
LAST_DAY = "2026-11-25"


def dashboard_section() -> str:
    from chalice.test import Client

    import app as app_module
    from benchmarks.dynamodb_calls import counting_dynamodb_calls
    from chalicelib.admin.service import ensure_admin
    from chalicelib.analytics import sink
    from chalicelib.core import auth, clock

    started = time.monotonic()
    previous_clock = clock.use(clock.FrozenClock(f"{LAST_DAY}T04:00:00Z"))
    previous_sink = sink.use(sink.MemorySink())
    try:
        ensure_admin("bench-analyst", "bench-analyst-password")
        headers = {"Authorization": f"Bearer {auth.issue_staff_token('bench-analyst', 'owner')}"}
        rows = []
        seeded = 0
        with Client(app_module.app) as client:
            for orders in ORDER_COUNTS:
                seed_seconds = seed_orders(seeded, orders - seeded)
                seeded = orders
                for span in SPANS:
                    path = f"/admin/dashboard?from={first_day(span)}&to={LAST_DAY}"
                    with counting_dynamodb_calls() as calls:
                        response = client.http.get(path, headers=headers)
                    assert response.status_code == 200, response.body
                    answer = json.loads(response.body)
                    assert answer["totals"]["paid_orders"] == expected_in(span, orders), answer["totals"]
                    timings = []
                    for _ in range(TIMED_READS):
                        begun = time.perf_counter()
                        client.http.get(path, headers=headers)
                        timings.append(time.perf_counter() - begun)
                    rows.append((span, orders, list(calls), statistics.median(timings), answer, seed_seconds))
    finally:
        clock.use(previous_clock)
        sink.use(previous_sink)
    return render(rows, time.monotonic() - started)


def first_day(span: int) -> str:
    from chalicelib.analytics.days import parse_day, shift

    return str(shift(parse_day(LAST_DAY), 1 - span))


def day_of_order(n: int) -> int:
    """Days before LAST_DAY the n-th order is placed and paid on: spread over the last 30."""
    return n % 30


def exact_buyers(span: int, orders: int) -> int:
    return len({n // 3 for n in range(orders) if day_of_order(n) < span})


def expected_in(span: int, orders: int) -> int:
    return sum(1 for n in range(orders) if day_of_order(n) < span)


def seed_orders(first: int, how_many: int) -> float:
    """Writes `how_many` orders (numbered from `first`) and counts them placed and paid; returns the seconds it took."""
    from chalicelib.analytics.orders import count_changes
    from chalicelib.core import config, db

    begun = time.monotonic()
    client = db.connection().client
    table = config.table_name("orders")
    batch = 500
    for start in range(first, first + how_many, batch):
        numbers = range(start, min(start + batch, first + how_many))
        images = [order_image(n) for n in numbers]
        for chunk in range(0, len(images), 25):
            client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item_of(image)}}
                                                          for image in images[chunk:chunk + 25]]})
        changes = []
        for image in images:
            changes.append(({}, {**image, "status": "PENDING_PAYMENT", "version": 1}))
            changes.append(({**image, "status": "PENDING_PAYMENT", "version": 1}, image))
        count_changes(changes)
    return time.monotonic() - begun


def order_image(n: int) -> dict:
    from chalicelib.core import clock

    moment = clock.parse_iso(f"{LAST_DAY}T04:00:00Z") - timedelta(days=day_of_order(n), minutes=n % 600)
    at = moment.isoformat()
    product = f"BENCHP{n % PRODUCTS:04d}"
    image = {"order_id": f"BENCHORDER{n:08d}", "user_id": f"BENCHBUYER{n // 3:08d}",
             "status": "PAID", "version": 2, "created_at": at, "updated_at": at, "paid_at": at, "payable": 2990,
             "coupon_discount": 0,
             "payment": {"provider": "wechat", "transaction_id": f"42{n:018d}", "paid_at": at, "amount": 2990},
             "lines": [{"product_id": product, "sku_id": f"{product}S", "price": 2990, "quantity": 1,
                        "line_total": 2990}]}
    if n % 5 == 0:
        image["coupon"] = {"coupon_id": f"BENCHCOUPON{n:08d}", "template_id": f"BENCHTEMPLATE{n % 3}",
                           "name": "基准券", "discount": 0}
    return image


def item_of(image: dict) -> dict:
    """The order as the orders table holds it, in DynamoDB's typed JSON (only what a bench needs)."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {key: serializer.serialize(value) for key, value in image.items()}


def render(rows: list, seconds: float) -> str:
    table = "\n".join(
        f"| {span} | {orders:,} | {len(calls)} | {', '.join(calls)} | {median * 1000:.0f} ms |"
        f" {answer['totals']['paid_orders']:,} | {answer['totals']['buyers']:,} ({exact_buyers(span, orders):,}) |"
        for span, orders, calls, median, answer, _ in rows)
    constant = all(len(a[2]) == len(b[2]) for a in rows for b in rows if a[0] == b[0])
    seeding = ", ".join(f"{orders:,} orders {seed:.0f} s" for _, orders, _, _, _, seed in rows[::len(SPANS)])
    return f"""## Dashboard: DynamoDB calls per read, by days and by orders

`GET /admin/dashboard?from=&to=` over the last 7 and 30 days, with 10 and then 10,000 orders in the tables
(each placed and paid on one of the last 30 days, counted through the analytics feature's order path;
`benchmarks/dashboard_bench.py`). Calls counted with the botocore hook of the per-request table; the time is the
median of {TIMED_READS} reads through `chalice.test.Client` against the embedded DynamoDB. The calls must not
depend on the orders: {"they do not" if constant else "THEY DO"}. The staff gate's `GetItem`, the counter rows
(12 a day, 100 keys a `BatchGetItem`), the top products' titles. Buyers over several days are the union of
the days' HyperLogLog sketches (standard error 1.6 %); the exact number, from how the bench made its orders, is
beside it. Section time {seconds:.0f} s (seeding: {seeding}).

| days | orders in the tables | calls | operations | read time | paid orders shown | buyers shown (exact) |
| ---: | ---: | ---: | --- | ---: | ---: | ---: |
{table}
"""
