"""The owner's backfill of the orders placed before analytics counted them, from the console in a real browser:
started from the dashboard, followed to DONE as the stack's queue worker counts its pages, cancelled and resumed
while it runs, a refusal shown in words, and an operator told it is the owner's.

A page is counted within milliseconds of being queued on the stack, too fast to cancel by hand. To hold a job
RUNNING, the stack's own SQS queue (`analytics-backfill`, on the embedded AWS) is given a delivery delay, an SQS
setting like any other: the job's pages wait in the queue, as they would behind a slow or busy worker.
"""
from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import boto3
import pytest
from playwright.sync_api import expect

from tests.browser.console_session import buyer, desk_page, first_product, paid_order, sign_in, staff_token
from tests.e2e.stack import RunningStack, eventually, free_port

SHOP_ZONE = ZoneInfo("Asia/Shanghai")  # the stack's MALL_SHOP_TIMEZONE (its default)
QUEUE = "micromall-local-analytics-backfill"
HOLD_SECONDS = 30


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The `make run` stack, its embedded AWS on a port this module knows (to hold the backfill's queue)."""
    aws_port = free_port()
    running = RunningStack(tmp_path_factory.mktemp("browser-stack"),
                           extra_env={"MALL_LOCAL_DYNAMODB_PORT": str(aws_port)}).wait_ready()
    running.aws_url = f"http://127.0.0.1:{aws_port}"
    yield running
    assert running.stop() == 0, running.output()


@pytest.fixture
def desk(browser, stack):
    with desk_page(browser, stack) as page:
        yield page


@contextlib.contextmanager
def pages_held(stack):
    """Every page queued meanwhile waits HOLD_SECONDS before the worker can see it."""
    sqs = boto3.client("sqs", endpoint_url=stack.aws_url, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": str(HOLD_SECONDS)})
    try:
        yield
    finally:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0"})


def shop_today() -> str:
    return datetime.now(SHOP_ZONE).date().isoformat()


def job_of(stack, token: str, job_id: str) -> dict:
    status, job = stack.request("GET", f"/admin/analytics/backfill/{job_id}", token=token)
    assert status == 200, job
    return job


def start_from_the_form(desk, first: str, last: str) -> str:
    desk.get_by_label("开始日期（下单日）").fill(first)
    desk.get_by_label("结束日期").fill(last)
    desk.get_by_role("button", name="开始回补").click()
    expect(desk.get_by_test_id("backfill-job")).to_be_visible()
    desk.wait_for_url("**/console/analytics/backfill/*")
    return desk.url.rsplit("/", 1)[-1]


def test_owner_starts_a_backfill_from_the_dashboard_and_sees_it_done(stack, desk, shoot):
    owner = staff_token(stack)
    token = buyer(stack, "backfill-buyer")
    sku_id = first_product(stack)["skus"][0]["sku_id"]
    orders = [paid_order(stack, token, sku_id)["order_id"] for _ in range(2)]

    sign_in(desk, "admin", "admin")
    desk.get_by_test_id("backfill-link").click()
    expect(desk.get_by_role("heading", name="历史订单回补")).to_be_visible()
    expect(desk.get_by_test_id("nav-dashboard")).to_have_class(re.compile(r"\bactive\b"))

    # A range ending tomorrow is refused, in words.
    tomorrow = (datetime.now(SHOP_ZONE) + timedelta(days=1)).date().isoformat()
    desk.get_by_label("开始日期（下单日）").fill(shop_today())
    desk.get_by_label("结束日期").fill(tomorrow)
    desk.get_by_role("button", name="开始回补").click()
    refusal = desk.get_by_role("alert")
    expect(refusal).to_contain_text("结束日期不能晚于今天")
    expect(refusal).to_contain_text("INVALID_RANGE")

    job_id = start_from_the_form(desk, shop_today(), shop_today())
    def done():
        job = job_of(stack, owner, job_id)
        return job if job["status"] == "DONE" else None
    job = eventually(done, timeout=30)
    assert job, f"the stack's worker never finished backfill {job_id}: {job_of(stack, owner, job_id)}"
    state = desk.get_by_test_id("backfill-state")
    expect(state.locator("[data-status=DONE]")).to_be_visible()  # the page polls while it runs
    assert job["orders_read"] == len(orders) and job["pages"] >= 1, job
    assert job["counted"] + job["already_counted"] >= 2 * len(orders), job  # each order placed and paid, at least
    expect(state).to_contain_text(f"读取 {len(orders)} 笔订单")
    expect(desk.get_by_test_id("backfill-counted")).to_have_text(str(job["counted"]))
    expect(desk.get_by_test_id("backfill-already")).to_have_text(str(job["already_counted"]))
    expect(desk.get_by_test_id("backfill-cancel")).to_have_count(0)  # nothing left to stop
    shoot(desk, "console-backfill-done")

    # The job stays reachable: this browser lists it, and its URL opens it again.
    desk.goto("/console/analytics/backfill")
    desk.get_by_test_id("backfill-recent").get_by_role("link", name=job_id).click()
    expect(desk.get_by_test_id("backfill-state").locator("[data-status=DONE]")).to_be_visible()


def test_owner_cancels_and_resumes_a_running_backfill(stack, desk, shoot):
    owner = staff_token(stack)
    sign_in(desk, "admin", "admin")
    desk.goto("/console/analytics/backfill")
    with pages_held(stack):
        # Cancel: RUNNING -> CANCELLED, by the owner; no page starts after it.
        cancelled_id = start_from_the_form(desk, shop_today(), shop_today())
        expect(desk.get_by_test_id("backfill-state").locator("[data-status=RUNNING]")).to_be_visible()
        assert job_of(stack, owner, cancelled_id)["status"] == "RUNNING"
        shoot(desk, "console-backfill-running")
        desk.get_by_role("button", name="取消回补").click()
        expect(desk.get_by_test_id("done")).to_contain_text("已取消")
        expect(desk.get_by_test_id("backfill-state").locator("[data-status=CANCELLED]")).to_be_visible()
        expect(desk.get_by_test_id("backfill-cancel")).to_have_count(0)
        cancelled = job_of(stack, owner, cancelled_id)
        assert cancelled["status"] == "CANCELLED" and cancelled["cancelled_by"] == "admin", cancelled
        assert cancelled["finished_at"] and cancelled["pages"] == 0, cancelled

        # Resume: a RUNNING job's next page queued again; it stays RUNNING.
        desk.goto("/console/analytics/backfill")
        resumed_id = start_from_the_form(desk, shop_today(), shop_today())
        expect(desk.get_by_test_id("backfill-state").locator("[data-status=RUNNING]")).to_be_visible()
        desk.get_by_role("button", name="继续（重新排队下一页）").click()
        expect(desk.get_by_test_id("done")).to_have_text("已重新排队下一页")
        assert job_of(stack, owner, resumed_id)["status"] == "RUNNING"

        # Another of the owner's screens cancels it while this page still shows it running (its poll frozen):
        # this page's resume is refused in words and the page shows the job as it is now.
        desk.clock.install()
        desk.reload()
        expect(desk.get_by_test_id("backfill-state").locator("[data-status=RUNNING]")).to_be_visible()
        desk.clock.pause_at(datetime.now() + timedelta(seconds=1))
        status, answer = stack.request("POST", f"/admin/analytics/backfill/{resumed_id}/cancel", token=owner)
        assert status == 200 and answer["status"] == "CANCELLED", answer
        expect(desk.get_by_test_id("backfill-state").locator("[data-status=RUNNING]")).to_be_visible()
        desk.get_by_role("button", name="继续（重新排队下一页）").click()
        refusal = desk.get_by_test_id("backfill-job").get_by_role("alert")
        expect(refusal).to_contain_text("已经结束")
        expect(refusal).to_contain_text("BACKFILL_NOT_RUNNING")
        expect(desk.get_by_test_id("backfill-state").locator("[data-status=CANCELLED]")).to_be_visible()

    for job_id in (cancelled_id, resumed_id):
        job = job_of(stack, owner, job_id)
        assert job["status"] == "CANCELLED" and job["pages"] == 0, job


def test_an_operator_is_told_the_backfill_is_the_owners_and_refused_in_words(stack, desk):
    owner = staff_token(stack)
    status, created = stack.request("POST", "/admin/staff", {"username": "backfill-op", "password": "operator-pass-1",
                                                              "role": "operator"}, token=owner)
    assert status == 201, created
    sign_in(desk, "backfill-op", "operator-pass-1")
    desk.get_by_test_id("backfill-link").click()
    expect(desk.get_by_test_id("owner-only")).to_contain_text("只有店主可以使用")
    # The form still sends (the server judges, as on every owner page) and its refusal is shown in words.
    desk.get_by_label("开始日期（下单日）").fill(shop_today())
    desk.get_by_label("结束日期").fill(shop_today())
    desk.get_by_role("button", name="开始回补").click()
    refusal = desk.get_by_role("alert")
    expect(refusal).to_contain_text("没有权限")
    expect(refusal).to_contain_text("403 FORBIDDEN")
    expect(desk.get_by_test_id("backfill-job")).to_have_count(0)
