"""`make bench`: measure, then write benchmarks/report.md.

Every figure in one report comes from one run on one machine, so ratios are
comparable even when the machine is noisy; absolute times are not.
`python -m benchmarks.run --only dashboard` (`make bench SECTION=dashboard`) runs one
section that needs nothing but the tables and puts it in place in the report.
`python -m benchmarks.run cold-start [function ...]` runs the cold start section alone (for the functions named,
default all) and prints it without touching the report: what a change to a function's first request is judged by.
`python -m benchmarks.run first-requests` answers each first request once in a fresh process and prints, per
request, a JSON line of its status and the heavy modules it loaded (tests/unit/test_lazy_imports.py reads them).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "benchmarks" / "report.md"
COLD_STARTS = int(os.environ.get("BENCH_COLD_STARTS", "9"))
COLD_START_TARGET = 1.3


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--only"] and len(argv) == 2:
        return run_one(argv[1])
    if argv[:1] == ["cold-start"]:
        return with_bench_tables(lambda fixtures: print(cold_start_section(fixtures, set(argv[1:]) or None)),
                                 argv[1:])
    if argv == ["first-requests"]:
        return with_bench_tables(print_first_requests, [])
    if argv:
        print(f"usage: python -m benchmarks.run [--only {'|'.join(SINGLE_SECTIONS)} | cold-start [function ...] "
              "| first-requests]", file=sys.stderr)
        return 2
    from benchmarks.checkout import checkout_section
    from benchmarks.dashboard_bench import dashboard_section
    from benchmarks.flash_bench import flash_stack_section
    from benchmarks.flash_capacity import flash_capacity_section
    from benchmarks.local_stack import local_stack_section
    from benchmarks.packages import section as packages_section
    from benchmarks.web_bench import web_section

    with bench_server() as endpoint:
        fixtures = prepare(endpoint)
        sections = [
            cold_start_section(fixtures),
            import_section(),
            dynamodb_calls_section(),
            dashboard_section(),
            checkout_section(),
            local_stack_section(),
            flash_stack_section(),
            flash_capacity_section(),
            packages_section(),
            web_section(),
        ]
    write_report(sections)
    print(REPORT.read_text())
    return 0


# Sections that need only the embedded DynamoDB and the tables (no shared fixtures): `--only <name>` runs one of
# them alone and puts its text in place of the same section of report.md (the rest of the report is kept).
SINGLE_SECTIONS = {"dashboard": "benchmarks.dashboard_bench:dashboard_section", "web": "benchmarks.web_bench:web_section"}


def run_one(name: str) -> int:
    import importlib

    from infra.tables import create_tables

    if name not in SINGLE_SECTIONS:
        print(f"no section {name!r}; one of: {', '.join(SINGLE_SECTIONS)}", file=sys.stderr)
        return 2
    module, _, function = SINGLE_SECTIONS[name].partition(":")
    with bench_server():
        create_tables(wait=True)
        section = getattr(importlib.import_module(module), function)()
    replace_section(section)
    print(section)
    return 0


def replace_section(section: str) -> None:
    """report.md with `section` in place of the section of the same heading (or appended)."""
    heading = section.lstrip().splitlines()[0]
    text = REPORT.read_text(encoding="utf-8") if REPORT.exists() else ""
    parts = text.split("\n## ")
    for index, part in enumerate(parts[1:], start=1):
        if "## " + part.splitlines()[0] == heading:
            parts[index] = section.lstrip().removeprefix("## ").rstrip("\n") + "\n"
            REPORT.write_text("\n## ".join(parts), encoding="utf-8")
            return
    REPORT.write_text(text.rstrip("\n") + "\n\n" + section.lstrip(), encoding="utf-8")


@contextmanager
def bench_server() -> Iterator[str]:
    """A fresh embedded DynamoDB and SQS with the bench's own local folder and table prefix, configured as the
    process's AWS; yields its endpoint and stops it after."""
    from infra.local.__main__ import configure_environment
    from infra.local.embedded import EmbeddedAws

    os.environ["MALL_LOCAL_DIR"] = tempfile.mkdtemp(prefix="micromall-bench-")
    os.environ["MALL_TABLE_PREFIX"] = "bench-"
    server = EmbeddedAws().start()
    configure_environment(server.url)
    try:
        yield server.url
    finally:
        server.stop()


def with_bench_tables(run: Callable[[dict], None], functions: list[str]) -> int:
    """`run(fixtures)` against a fresh embedded DynamoDB holding the bench tables (`functions`: known stages)."""
    known = {request.function for request in first_requests()}
    if unknown := set(functions) - known:
        print(f"no first request for {sorted(unknown)}; known: {sorted(known)}", file=sys.stderr)
        return 2
    with bench_server() as endpoint:
        run(prepare(endpoint))
    return 0


def print_first_requests(fixtures: dict) -> None:
    """Each first request once, in a fresh process: a JSON line each of its status and the heavy modules it loaded."""
    for number, request in enumerate(first_requests()):
        _, data = probe(request.function, request.spec(fixtures, number), check=False)
        print(json.dumps({"function": request.function, "request": request.label, "status": data["status"],
                          "heavy": data["heavy"], "body": data["body"]}, ensure_ascii=False), flush=True)


# --- fixtures --------------------------------------------------------------

def prepare(endpoint: str) -> dict:
    """The bench tables: a product, buyers with addresses, an unpaid order, coupons, a campaign, a staff account."""
    import boto3

    from chalicelib.catalog import service as catalog
    from infra.local.__main__ import ensure_payment_sandbox
    from infra.tables import create_tables

    create_tables(wait=True)
    ensure_payment_sandbox()
    category = catalog.create_category("基准")
    product = catalog.create_product("冷启动测试商品", category.category_id, [
        {"specs": {"颜色": "红"}, "price": 1990, "stock": 1000},
        {"specs": {"颜色": "蓝"}, "price": 1990, "stock": 1000}])
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    dynamodb.create_table(TableName="bench-bare", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "product_id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "product_id", "AttributeType": "S"}])
    dynamodb.put_item(TableName="bench-bare", Item={"product_id": {"S": "P1"}, "title": {"S": "bare"}})
    return {"product_id": product.product_id, "bare_id": "P1", **cold_start_fixtures(product)}


def cold_start_fixtures(product) -> dict:
    """What each function's first request needs: buyers (one per order submitted, under the per-buyer order
    limit), each with an address and a cart line; an unpaid order to prepay; coupons; a campaign; staff."""
    from chalicelib.admin.service import ensure_admin
    from chalicelib.cart import service as cart
    from chalicelib.checkout import service as checkout
    from chalicelib.checkout.inputs import OrderSubmission
    from chalicelib.core import auth
    from chalicelib.groupbuy.campaigns import create_campaign
    from chalicelib.groupbuy.inputs import NewCampaign
    from chalicelib.marketing.demo import seed_demo_coupons
    from chalicelib.members import service as members

    red, blue = (sku.sku_id for sku in product.skus)
    buyers = []
    for number in range(COLD_START_RUNS + 1):
        user_id = members.login(f"dev:bench-buyer-{number}").user.user_id
        address = members.add_address(user_id, members.AddressFields(
            name="张三", phone="13800000000", province="浙江省", city="杭州市", district="西湖区", detail="文三路 1 号"))
        cart.add_item(user_id, red, 1)
        buyers.append({"user_id": user_id, "token": auth.issue_buyer_token(user_id),
                       "address_id": address.address_id})
    unpaid = checkout.submit_order(buyers[0]["user_id"], OrderSubmission(
        items=[{"sku_id": red, "quantity": 1}], address_id=buyers[0]["address_id"]), "bench-unpaid-order")
    seed_demo_coupons()
    create_campaign(NewCampaign(product_id=product.product_id, sku_id=blue, group_price=990, group_size=2,
                                duration_minutes=60, stock=10), actor="bench")
    ensure_admin("bench-admin", "bench-admin-password")
    return {"red_sku": red, "buyers": buyers, "unpaid_order": unpaid.order_id,
            "staff_token": auth.issue_staff_token("bench-admin", "owner")}


# --- cold start ---------------------------------------------------------------

COLD_START_RUNS = int(os.environ.get("BENCH_COLD_START_RUNS", "7"))
PYC_CACHE = Path(tempfile.gettempdir()) / "micromall-bench-pycache"


@dataclass(frozen=True)
class FirstRequest:
    """A function's representative first request: what its cold starts mostly answer."""
    function: str  # the stage (MALL_FEATURES)
    label: str
    spec: Callable[[dict, int], str]  # (fixtures, run number) -> the probe's argument


def buyer(fixtures: dict, run: int) -> dict:
    return fixtures["buyers"][run % len(fixtures["buyers"])]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def first_requests() -> list[FirstRequest]:
    from benchmarks.coldstart_probe import request_spec as mall

    def submit(f: dict, run: int) -> str:
        who = buyer(f, run)  # a buyer per run: the order limit is 10 a minute per buyer
        return mall("mall", "POST", "/orders", "/orders", headers={
            **bearer(who["token"]), "Idempotency-Key": f"bench-cold-{run}-{time.time_ns()}"},
            body={"items": [{"sku_id": f["red_sku"], "quantity": 1}], "address_id": who["address_id"]})

    return [
        FirstRequest("members", "`GET /me`", lambda f, r: mall(
            "mall", "GET", "/me", "/me", headers=bearer(buyer(f, r)["token"]))),
        FirstRequest("catalog", "`GET /catalog/products/{id}`", lambda f, r: mall(
            "mall", "GET", f"/catalog/products/{f['product_id']}", "/catalog/products/{product_id}",
            params={"product_id": f["product_id"]})),
        FirstRequest("cart", "`GET /cart`", lambda f, r: mall(
            "mall", "GET", "/cart", "/cart", headers=bearer(buyer(f, r)["token"]))),
        FirstRequest("checkout", "`POST /orders` (validated body)", submit),
        FirstRequest("checkout", "`GET /orders`", lambda f, r: mall(
            "mall", "GET", "/orders", "/orders", headers=bearer(buyer(f, r)["token"]))),
        FirstRequest("payments", "`POST /payments/prepay` (WeChat Pay sandbox)", lambda f, r: mall(
            "mall", "POST", "/payments/prepay", "/payments/prepay", headers=bearer(f["buyers"][0]["token"]),
            body={"order_id": f["unpaid_order"], "provider": "wechat"})),
        FirstRequest("marketing", "`GET /marketing/coupons`", lambda f, r: mall(
            "mall", "GET", "/marketing/coupons", "/marketing/coupons")),
        FirstRequest("groupbuy", "`GET /groupbuy/campaigns`", lambda f, r: mall(
            "mall", "GET", "/groupbuy/campaigns", "/groupbuy/campaigns")),
        FirstRequest("admin", "`GET /admin/orders`", lambda f, r: mall(
            "mall", "GET", "/admin/orders", "/admin/orders", headers=bearer(f["staff_token"]))),
    ]


def probe(function: str | None, spec: str, *, check: bool = True) -> tuple[float, dict]:
    """One cold start of `function` (None: the bare app) answering the request `spec` names (`check`: a 2xx)."""
    # Every module, the mall's and the libraries', loads from a .pyc in the bench's own cache (written by the
    # warm-up runs), whatever the machine's PYTHONDONTWRITEBYTECODE or __pycache__ folders: what the code costs,
    # not what compiling it costs (README, "Cold starts", on packages that ship no .pyc).
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env.update({"BARE_TABLE": "bench-bare", "PYTHONPYCACHEPREFIX": str(PYC_CACHE),
                **({"MALL_FEATURES": function} if function else {})})
    result = subprocess.run([sys.executable, "-m", "benchmarks.coldstart_probe", spec], cwd=ROOT,
                            env=env, capture_output=True, text=True, check=True)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    if check and data["status"] not in (200, 201):
        raise RuntimeError(f"{function} answered {data['status']}: {result.stdout}{result.stderr}")
    return data["seconds"], data


def bare_spec(fixtures: dict) -> str:
    from benchmarks.coldstart_probe import request_spec

    item = fixtures["bare_id"]
    return request_spec("bare", "GET", f"/items/{item}", "/items/{item_id}", params={"item_id": item})


def cold_starts(request: FirstRequest, fixtures: dict) -> dict:
    """COLD_START_RUNS fresh processes of the function and of the bare app, interleaved, after one warm-up each."""
    probe(request.function, request.spec(fixtures, COLD_START_RUNS))  # warm the OS file cache and the .pyc files
    probe(None, bare_spec(fixtures))
    mall, bare, data = [], [], {}
    for run in range(COLD_START_RUNS):  # interleaved, so drift in machine load hits both alike
        seconds, data = probe(request.function, request.spec(fixtures, run))
        mall.append(seconds)
        bare.append(probe(None, bare_spec(fixtures))[0])
    return {"mall": statistics.median(mall), "bare": statistics.median(bare), "heavy": data["heavy"],
            "modules": data["modules"], "spread": (min(mall), max(mall))}


def cold_start_section(fixtures: dict, functions: set[str] | None = None) -> str:
    started = time.perf_counter()
    rows, verdicts, strays = [], [], []
    for request in first_requests():
        if functions is not None and request.function not in functions:
            continue
        result = cold_starts(request, fixtures)
        ratio = result["mall"] / result["bare"]
        verdicts.append(ratio <= COLD_START_TARGET)
        heavy = ", ".join(result["heavy"]) or "none"
        rows.append(f"| {request.function} | {request.label} | {ms(result['mall'])} | {ms(result['bare'])} "
                    f"| **{ratio:.2f}x** | {'meets' if verdicts[-1] else 'MISSES'} | {heavy} |")
        others = sorted({m.split(".")[1] for m in result["modules"]} - {"core", request.function})
        if others:
            strays.append(f"{request.function} ({', '.join(others)})")
    table = "\n".join(rows)
    return f"""## Cold start: each function's first answered request in a fresh process

A fresh Python process imports the handler (`MALL_FEATURES=<function>`, as its Lambda function does) and answers
one API Gateway event: the request that function's cold starts mostly answer, against the embedded DynamoDB
with a buyer's or a staff account's token (bench tables: buyers with an address and a cart line, an unpaid order,
coupons, a running campaign, a staff account). The baseline is a bare Chalice app answering `GET /items/{{id}}`
with one boto3 `GetItem` on the same server. {COLD_START_RUNS} runs each, each function's runs interleaved with
the bare app's; medians ("first line of Python -> response", what a Lambda init plus first invoke costs). Every
module loads from a `.pyc` in the bench's own cache, as it does from the packages in Lambda (README, "Cold starts").
Section time {time.perf_counter() - started:.0f} s.

| function | first request | mall | bare Chalice + boto3 | ratio | target <= {COLD_START_TARGET}x | heavy modules loaded |
| --- | --- | ---: | ---: | ---: | --- | --- |
{table}

{sum(verdicts)} of {len(verdicts)} meet the target. None of these requests imports pydantic, PyJWT or python-ulid
(README, "Cold starts": runtime views, committed request schemas; tests/unit/test_lazy_imports.py). The admin's list
reads eight index shards, one round trip each. Other features' modules these requests load:
{"; ".join(strays) or "none"}.
"""


# --- imports -----------------------------------------------------------------

def import_seconds(statement: str, features: str = "all") -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {**os.environ, "MALL_FEATURES": features}
    samples = [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                                    text=True, check=True).stdout) for _ in range(COLD_STARTS)]
    return statistics.median(samples)


def import_section() -> str:
    import_seconds("import app")  # warm .pyc files
    baseline = import_seconds("import chalice, boto3")
    rows = [("`import chalice, boto3`", baseline)]
    rows.append(("`import app` (all features)", import_seconds("import app")))
    for feature in ("members", "catalog", "cart", "admin"):
        rows.append((f"`import app` (`MALL_FEATURES={feature}`)", import_seconds("import app", feature)))
    table = "\n".join(f"| {label} | {ms(seconds)} | {seconds / baseline:.2f}x |" for label, seconds in rows)
    steps = import_steps()
    breakdown = "\n".join(f"| {label} | {ms(seconds)} |" for label, seconds in steps.items())
    return f"""## Import time

Median of {COLD_STARTS} fresh processes each.

| import | time | vs chalice + boto3 |
| --- | ---: | ---: |
{table}

Where the catalog function's import time goes (one process importing in steps, median of {COLD_STARTS}).
Request and response models are named lazily, so a cold start whose first request is a read (a product
page) never imports pydantic:

| step | time |
| --- | ---: |
{breakdown}
"""


def import_steps() -> dict[str, float]:
    code = """import time, json
marks = [time.perf_counter()]
import chalice, boto3
marks.append(time.perf_counter())
import pynamodb.models, pynamodb.connection
marks.append(time.perf_counter())
import app
marks.append(time.perf_counter())
import chalicelib.catalog.inputs, chalicelib.catalog.views
marks.append(time.perf_counter())
print(json.dumps([b - a for a, b in zip(marks, marks[1:])]))"""
    env = {**os.environ, "MALL_FEATURES": "catalog"}
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                                      text=True, check=True).stdout) for _ in range(COLD_STARTS)]
    labels = ["chalice + boto3", "+ pynamodb", "+ the mall's own modules (`import app`, catalog + core)",
              "later, on the first request that validates: + pydantic and the catalog's models"]
    return {label: statistics.median(run[i] for run in runs) for i, label in enumerate(labels)}


# --- DynamoDB calls per request -------------------------------------------------

@contextmanager
def counting_dynamodb_calls():
    """Counts DynamoDB API calls with a botocore event hook on the one client every table shares."""
    from chalicelib.core import db

    calls: list[str] = []

    def count(model, **_):
        calls.append(model.name)

    events = db.connection().client.meta.events
    events.register("before-call.dynamodb", count)
    try:
        yield calls
    finally:
        events.unregister("before-call.dynamodb", count)


def dynamodb_calls_section() -> str:
    from chalice.test import Client

    import app as app_module
    from chalicelib.catalog import service as catalog
    from chalicelib.core import auth

    category = catalog.create_category("调用计数")
    rows = []
    with Client(app_module.app) as client:
        for sku_count in (1, 30, 99):  # 99: product + SKU cards fit one 100-item transaction
            skus = [{"specs": {"编号": str(n)}, "price": 100 + n, "stock": 5} for n in range(sku_count)]
            product = catalog.create_product(f"计数商品{sku_count}", category.category_id, skus)
            with counting_dynamodb_calls() as calls:
                response = client.http.get(f"/catalog/products/{product.product_id}")
            assert response.status_code == 200, response.body
            rows.append((f"product page, {sku_count} SKU(s)", calls))
        cart_skus = [sku.sku_id for batch in range(2) for sku in catalog.create_product(
            f"购物车计数商品{batch}", category.category_id,
            [{"specs": {"编号": str(n)}, "price": 100, "stock": 5} for n in range(50)]).skus]
        for line_count in (1, 50, 100):
            buyer = f"bench-buyer-{line_count}"
            headers = {"Authorization": f"Bearer {auth.issue_buyer_token(buyer)}",
                       "Content-Type": "application/json"}
            for sku_id in cart_skus[:line_count]:
                added = client.http.post("/cart/items", headers=headers,
                                         body=json.dumps({"sku_id": sku_id, "quantity": 1}))
                assert added.status_code in (200, 201), added.body
            with counting_dynamodb_calls() as calls:
                response = client.http.get("/cart", headers=headers)
            assert response.status_code == 200, response.body
            rows.append((f"cart view, {line_count} line(s)", calls))
        rows += checkout_call_rows(client, cart_skus)
    table = "\n".join(f"| {label} | {len(calls)} | {', '.join(calls)} |" for label, calls in rows)
    return f"""## DynamoDB calls per request

Counted with a botocore `before-call.dynamodb` event hook on the one client all tables share. Target: 2 for a
product page and 2 for a cart view, whatever the number of SKUs or lines; a checkout's calls the same for 1 or 45
lines, and with a coupon and points one GetItem more (the coupon read; the coupon's lock and the points' debit join
the order's one transaction). A checkout's first BatchGetItem and TransactWriteItems are its rate-limit buckets
(per buyer, device and IP; on in live mode, as here), then the idempotency key, address, the SKU cards, the member
account with the level table (one BatchGetItem) and the order's transaction.

| request | calls | operations |
| --- | ---: | --- |
{table}
"""


def checkout_call_rows(client, skus: list[str]) -> list[tuple[str, list[str]]]:
    """POST /orders for 1 and 45 lines, plain and with a coupon and points, each by a buyer of its own."""
    from chalicelib.core import auth
    from chalicelib.marketing import service as marketing
    from chalicelib.marketing import templates
    from chalicelib.marketing.inputs import NewTemplate
    from chalicelib.members import points
    from chalicelib.members import service as members

    template = templates.create_template(NewTemplate(
        name="计数券", kind="NO_THRESHOLD", amount_off=30, total=100, per_user_limit=10, valid_days=7), actor="bench")
    rows = []
    for line_count in (1, 45):
        for with_discounts in (False, True):
            buyer = f"bench-checkout-{line_count}-{int(with_discounts)}"
            address = members.add_address(buyer, members.AddressFields(
                name="张三", phone="13800138000", province="广东省", city="深圳市", district="南山区", detail="科技园 1 号"))
            body = {"items": [{"sku_id": sku_id, "quantity": 1} for sku_id in skus[:line_count]],
                    "address_id": address.address_id}
            if with_discounts:
                points.adjust(buyer, 500, "bench", actor="bench")
                body.update(coupon_id=marketing.claim(buyer, template.template_id).coupon_id, points=20)
            headers = {"Authorization": f"Bearer {auth.issue_buyer_token(buyer)}", "Content-Type": "application/json",
                       "Idempotency-Key": f"bench-calls-{line_count}-{int(with_discounts)}"}
            with counting_dynamodb_calls() as calls:
                response = client.http.post("/orders", headers=headers, body=json.dumps(body))
            assert response.status_code == 201, response.body
            label = f"checkout, {line_count} line(s)" + (", a coupon and points" if with_discounts else "")
            rows.append((label, calls))
    return rows


# --- report ------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def write_report(sections: list[str]) -> None:
    header = f"""# micromall benchmarks

Written by `make bench` on {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC;
Python {platform.python_version()}, {os.cpu_count()} CPU(s), {platform.machine()}. One run: compare ratios, not
absolute times, across machines.
"""
    REPORT.write_text("\n".join([header, *sections]), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
