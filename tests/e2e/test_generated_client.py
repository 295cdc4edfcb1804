"""A Python client generated from the stack's /openapi.json (openapi-python-client) sends every request the mall takes.

The generator skips what the document cannot describe (it warns), so a clean generation with
a module for every operation shows the document is complete enough for a typed client: bodies
(JSON, and the form Alipay posts), path and query parameters, headers (Idempotency-Key, WeChat
Pay's signature headers). Then every documented operation is called through it over real HTTP
with a request the mall accepts (2xx), its state built through the client too, and the set of
operations called must equal the set documented: a new route without a working generated call
fails here.
"""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import jwt
import pytest

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def generated(stack, tmp_path_factory):
    """(the generated package, the document it was generated from)."""
    root = tmp_path_factory.mktemp("client")
    with urllib.request.urlopen(stack.url + "/openapi.json", timeout=10) as response:
        document = json.loads(response.read())
    (root / "openapi.json").write_text(json.dumps(document))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # it formats with ruff
    result = subprocess.run([str(BIN / "openapi-python-client"), "generate", "--path", str(root / "openapi.json"),
                             "--output-path", str(root / "mall_client"), "--meta", "none"],
                            cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("mall_client"), document
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name == "mall_client" or name.startswith("mall_client.")]:
            del sys.modules[name]


def module(client, name: str):
    tag = name.split("_", 1)[0]
    return importlib.import_module(f"{client.__name__}.api.{tag}.{name}")


def test_every_documented_operation_has_a_generated_call(generated):
    client, document = generated
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert hasattr(module(client, operation["operationId"]), "sync_detailed"), (method, path)


def test_a_buyer_session_through_the_generated_client(stack, generated):
    client, _ = generated
    models = importlib.import_module(f"{client.__name__}.models")
    anonymous = client.Client(base_url=stack.url, raise_on_unexpected_status=True)

    login = module(client, "members_login").sync_detailed(client=anonymous, body=models.LoginBody(code="dev:typed"))
    assert login.status_code == 200, login.content
    buyer = client.AuthenticatedClient(base_url=stack.url, token=login.parsed.token)

    address = module(client, "members_add_address").sync_detailed(client=buyer, body=models.NewAddressBody(
        name="李四", phone="13900139000", province="浙江省", city="杭州市", district="西湖区", detail="文三路 1 号"))
    assert address.status_code == 201, address.content
    page = module(client, "catalog_products").sync_detailed(client=anonymous, limit=5)
    product = module(client, "catalog_product").sync_detailed(page.parsed.items[0].product_id, client=anonymous)
    sku = next(sku for sku in product.parsed.skus if sku.stock > 0)

    submission = models.OrderSubmission(items=[models.OrderItem(sku_id=sku.sku_id, quantity=1)],
                                        address_id=address.parsed.address_id)
    submit = module(client, "checkout_submit_order")
    placed = submit.sync_detailed(client=buyer, body=submission, idempotency_key="typed-client-0001")
    assert placed.status_code == 201, placed.content
    again = submit.sync_detailed(client=buyer, body=submission, idempotency_key="typed-client-0001")
    assert again.parsed.order_id == placed.parsed.order_id

    paid = module(client, "payments_sandbox_pay").sync_detailed(
        client=buyer, body=models.SandboxPayBody(order_id=placed.parsed.order_id))
    assert paid.status_code == 200 and paid.parsed.status == "PAID", paid.content
    read = module(client, "checkout_get_order").sync_detailed(placed.parsed.order_id, client=buyer)
    assert read.parsed.status == "PAID" and read.parsed.payable == placed.parsed.payable

    refused = submit.sync_detailed(client=buyer, body=submission, idempotency_key="short")
    assert refused.status_code == 400 and refused.parsed.error.code == "INVALID_IDEMPOTENCY_KEY"


class Calls:
    """Calls operations by operationId through the generated client; each must answer 2xx; remembers which ran."""

    def __init__(self, client) -> None:
        self.client = client
        self.called: set[str] = set()

    def __call__(self, operation_id: str, *args, **kwargs):
        response = module(self.client, operation_id).sync_detailed(*args, **kwargs)
        assert 200 <= response.status_code < 300, (operation_id, response.status_code, response.content)
        self.called.add(operation_id)
        return response.parsed

    def attempt(self, operation_id: str, *args, refused: int, **kwargs) -> bool:
        """An operation that may be refused with `refused` by a race the test does not control: accepted or not."""
        response = module(self.client, operation_id).sync_detailed(*args, **kwargs)
        assert 200 <= response.status_code < 300 or response.status_code == refused, (
            operation_id, response.status_code, response.content)
        if response.status_code < 300:
            self.called.add(operation_id)
        return response.status_code < 300


def wait_for_status(call: Calls, buyer, order_id: str, status: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while (seen := call("checkout_get_order", order_id, client=buyer).status) != status:
        assert time.monotonic() < deadline, f"order {order_id}: expected {status}, still {seen}"
        time.sleep(0.2)


def test_every_documented_operation_is_accepted_through_the_generated_client(stack, generated, monkeypatch):
    client, document = generated
    documented = {operation["operationId"] for item in document["paths"].values() for operation in item.values()}
    models = importlib.import_module(f"{client.__name__}.models")
    call = Calls(client)
    anonymous = client.Client(base_url=stack.url, raise_on_unexpected_status=True)
    # The providers' side of the sandbox keys, as the stack made them: this process signs as WeChat Pay and Alipay.
    monkeypatch.setenv("MALL_SANDBOX_KEYS_DIR", str(stack.local_dir / "keys"))
    from chalicelib.payments.providers import sandbox

    call("meta_health", client=anonymous)
    call("meta_openapi", client=anonymous)
    staff = client.AuthenticatedClient(base_url=stack.url, raise_on_unexpected_status=True, token=call(
        "admin_staff_login", client=anonymous,
        body=models.LoginIn(username="admin", password="admin")).token)  # the stack's default (tests/e2e/stack.py)
    buyer = client.AuthenticatedClient(base_url=stack.url, raise_on_unexpected_status=True, token=call(
        "members_login", client=anonymous, body=models.LoginBody(code="dev:every-call")).token)

    # staff: accounts, the catalog they sell, stock
    call("admin_staff_me", client=staff)
    call("admin_staff_create", client=staff, body=models.NewStaffIn.from_dict(
        {"username": "typed.operator", "password": "typed-password-1", "role": "operator"}))
    call("admin_staff_list", client=staff)
    call("admin_staff_get", "typed.operator", client=staff)
    call("admin_staff_update", "typed.operator", client=staff, body=models.StaffChangeIn.from_dict({"role": "owner"}))
    # the operator's own sessions: two logins, one ended by an owner, a password change, a logout
    def operator_login(password: str):
        return client.AuthenticatedClient(base_url=stack.url, raise_on_unexpected_status=True, token=call(
            "admin_staff_login", client=anonymous, body=models.LoginIn(username="typed.operator", password=password)
        ).token)

    operator_login("typed-password-1")
    operator = operator_login("typed-password-1")
    call("admin_sessions_list", client=staff)
    current = jwt.decode(operator.token, options={"verify_signature": False})["sid"]
    other = next(session.session_id for session in call("admin_staff_sessions", "typed.operator", client=staff)
                 if session.session_id != current)
    call("admin_staff_end_session", "typed.operator", other, client=staff)
    operator = client.AuthenticatedClient(base_url=stack.url, raise_on_unexpected_status=True, token=call(
        "admin_staff_change_own_password", client=operator, body=models.PasswordChangeIn(
            current_password="typed-password-1", new_password="typed-password-2")).token)
    call("admin_staff_logout", client=operator)
    operator_login("typed-password-2")
    call("admin_staff_end_sessions", "typed.operator", client=staff)
    call("admin_staff_unlock", "typed.operator", client=staff)
    category = call("admin_create_category", client=staff, body=models.NewCategory.from_dict({"name": "生成客户端"}))
    call("admin_edit_category", category.category_id, client=staff,
         body=models.CategoryEdit.from_dict({"name": "生成的客户端"}))
    call("admin_list_categories", client=staff)
    new_product = {"title": "类型化商品", "category_id": category.category_id,
                   "skus": [{"specs": {"色": "蓝"}, "price": 1990, "stock": 40}]}
    product = call("admin_create_product", client=staff, body=models.NewProduct.from_dict(new_product))
    doomed = call("admin_create_product", client=staff, body=models.NewProduct.from_dict(
        {**new_product, "title": "将被删除"}))
    call("admin_edit_product", doomed.product_id, client=staff,
         body=models.ProductEdit.from_dict({"title": "将被删除的商品"}))
    call("admin_delete_product", doomed.product_id, client=staff)
    call("admin_list_products", client=staff, category_id=category.category_id)
    sku_id = call("admin_get_product", product.product_id, client=staff).skus[0].sku_id
    call("admin_set_stock", sku_id, client=staff, body=models.StockSet.from_dict({"stock": 50, "reason": "盘点"}))
    call("admin_adjust_stock", sku_id, client=staff, body=models.StockAdjust.from_dict({"delta": 5, "reason": "到货"}))
    call("admin_stock_adjustments", sku_id, client=staff)

    # buyer: browsing, profile, addresses, cart
    call("catalog_categories", client=anonymous)
    call("catalog_products", client=anonymous, category_id=category.category_id)
    call("catalog_product", product.product_id, client=anonymous)
    call("members_me", client=buyer)
    address = {"name": "王五", "phone": "13700137000", "province": "广东省", "city": "深圳市", "district": "南山区",
               "detail": "科技园 1 号"}
    address_id = call("members_add_address", client=buyer, body=models.NewAddressBody.from_dict(address)).address_id
    spare = call("members_add_address", client=buyer, body=models.NewAddressBody.from_dict(address)).address_id
    call("members_update_address", address_id, client=buyer,
         body=models.AddressUpdateBody.from_dict({**address, "detail": "科技园 2 号", "is_default": True}))
    call("members_delete_address", spare, client=buyer)
    call("members_list_addresses", client=buyer)
    call("cart_add_item", client=buyer, body=models.AddItemBody(sku_id=sku_id, quantity=1))
    call("cart_update_item", sku_id, client=buyer, body=models.UpdateItemBody.from_dict({"quantity": 2}))
    call("cart_get_cart", client=buyer)
    call("cart_remove_item", sku_id, client=buyer)

    # marketing: a coupon template claimed and granted, the member levels, points given by staff
    template_id = call("admin_create_coupon_template", client=staff, body=models.NewTemplate.from_dict(
        {"name": "满50减5", "kind": "AMOUNT_OFF", "amount_off": 500, "min_spend": 5000, "total": 100,
         "per_user_limit": 3, "valid_days": 7})).template_id
    call("admin_list_coupon_templates", client=staff)
    call("admin_get_coupon_template", template_id, client=staff)
    call("admin_edit_coupon_template", template_id, client=staff,
         body=models.TemplateTerms.from_dict({"name": "满50减5元"}))
    call("marketing_claimable_coupons", client=anonymous)
    call("marketing_claim_coupon", template_id, client=buyer)
    buyer_id = call("members_me", client=buyer).user_id
    call("admin_grant_coupon", template_id, client=staff, body=models.Grant(user_id=buyer_id))
    call("marketing_my_coupons", client=buyer)
    levels = call("admin_get_member_levels", client=staff).to_dict()["levels"]
    call("admin_put_member_levels", client=staff, body=models.LevelsInput.from_dict({"levels": levels}))
    call("marketing_member_levels", client=anonymous)
    call("admin_adjust_points", buyer_id, client=staff, body=models.PointsAdjustment(delta=100, note="欢迎礼"))
    call("members_my_points", client=buyer)
    call("admin_end_coupon_template", template_id, client=staff)

    # segments: new thresholds (the schedule recomputes at its next run), thirty new buyers in NEW, a coupon
    # granted to them in the background and cancelled while its first page runs, a second grant to the end
    for number in range(30):
        call("members_login", client=anonymous, body=models.LoginBody(code=f"dev:every-call-new-{number:02d}"))
    call("admin_put_segment_thresholds", client=staff, body=models.ThresholdsBody.from_dict(
        {"new_days": 7, "active_days": 30, "dormant_days": 90, "high_value_fen": 100000, "high_value_days": 365}))
    deadline = time.monotonic() + 15
    while any(item.stale for item in call("admin_list_segments", client=staff).items):
        assert time.monotonic() < deadline, "the schedule never recomputed the segments"
        time.sleep(0.2)
    newcomers = call("admin_list_segment_members", "NEW", client=staff, limit=50)
    assert len(newcomers.items) >= 30 and all(item.nickname.endswith("***") for item in newcomers.items)
    gift = call("admin_create_coupon_template", client=staff, body=models.NewTemplate.from_dict(
        {"name": "新客礼", "kind": "NO_THRESHOLD", "amount_off": 300, "total": 1000, "per_user_limit": 1,
         "valid_days": 7, "claimable": False})).template_id
    stopped = call("admin_grant_to_segment", "NEW", client=staff, body=models.GrantBody(template_id=gift),
                   idempotency_key="every-call-grant-0001")
    assert call("admin_cancel_coupon_grant", stopped.grant_id, client=staff).status == "CANCELLED"
    finished = call("admin_grant_to_segment", "NEW", client=staff, body=models.GrantBody(template_id=gift),
                    idempotency_key="every-call-grant-0002")
    deadline = time.monotonic() + 30
    while (progress := call("admin_get_coupon_grant", finished.grant_id, client=staff)).status == "RUNNING":
        assert time.monotonic() < deadline, f"grant still running: {progress}"
        time.sleep(0.2)
    assert progress.status == "DONE" and progress.processed == progress.total, progress
    assert progress.granted + progress.skipped.already_holds == progress.total, progress
    assert {item.grant_id for item in call("admin_list_coupon_grants", client=staff).items} >= \
        {stopped.grant_id, finished.grant_id}

    # flash sale: created (its stock out of the SKU's), listed, edited, read, bought at the sale price, ended
    starts = datetime.now(UTC) - timedelta(seconds=1)
    sale = call("admin_create_flash_sale", client=staff, body=models.NewFlashSale.from_dict({
        "sku_id": sku_id, "sale_price": 990, "stock": 5, "per_user_limit": 1, "shards": 2,
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=1)).isoformat()}))
    call("admin_list_flash_sales", client=staff)
    edited = call("admin_edit_flash_sale", sale.sale_id, client=staff, body=models.FlashSaleEdit.from_dict(
        {"stock": 6, "per_user_limit": 2, "ends_at": (starts + timedelta(hours=2)).isoformat()}))
    assert (edited.stock, edited.per_user_limit, edited.version) == (6, 2, 1), edited
    call("marketing_flash_sales", client=anonymous)
    call("marketing_flash_sale", sale.sale_id, client=anonymous)
    flash_order = call("checkout_submit_order", client=buyer, idempotency_key="every-call-flash",
                       body=models.OrderSubmission.from_dict({"items": [{"sku_id": sku_id, "quantity": 1}],
                                                              "address_id": address_id,
                                                              "flash_sale_id": sale.sale_id}))
    assert flash_order.payable == 990 + 1000, flash_order  # the sale price and the shop's shipping fee
    call("admin_end_flash_sale", sale.sale_id, client=staff)

    submission = models.OrderSubmission.from_dict({"items": [{"sku_id": sku_id, "quantity": 1}],
                                                   "address_id": address_id})
    call("checkout_preview_order", client=buyer, body=submission)
    orders = iter(range(1, 100))

    def order():
        placed = call("checkout_submit_order", client=buyer, body=submission,
                      idempotency_key=f"every-call-{next(orders):04d}")
        return placed.order_id, placed.payable

    # paid through WeChat Pay's own notification, shipped, confirmed
    wechat_paid, payable = order()
    call("payments_prepay", client=buyer, body=models.PrepayBody(order_id=wechat_paid, provider="wechat"))
    headers, body = sandbox.twin("wechat").build_payment_notification(wechat_paid, payable, "sandbox-every-call")
    call("payments_wechat_notify", client=anonymous,
         body=models.WeChatPayNotification.from_dict(json.loads(body)),
         wechatpay_timestamp=headers["Wechatpay-Timestamp"], wechatpay_nonce=headers["Wechatpay-Nonce"],
         wechatpay_signature=headers["Wechatpay-Signature"], wechatpay_serial=headers["Wechatpay-Serial"],
         wechatpay_signature_type=headers["Wechatpay-Signature-Type"])
    wait_for_status(call, buyer, wechat_paid, "PAID")
    call("admin_ship_order", wechat_paid, client=staff,
         body=models.ShipmentInput(carrier="顺丰", tracking_no="SF1234567890"))
    call("checkout_confirm_order", wechat_paid, client=buyer)

    # paid through Alipay's form notification, refund asked and approved
    alipay_paid, payable = order()
    call("payments_prepay", client=buyer, body=models.PrepayBody(order_id=alipay_paid, provider="alipay"))
    _, form = sandbox.twin("alipay").build_payment_notification(alipay_paid, payable)
    call("payments_alipay_notify", client=anonymous,
         body=models.AlipayNotification.from_dict(dict(parse_qsl(form.decode("ascii")))))
    wait_for_status(call, buyer, alipay_paid, "PAID")
    call("checkout_request_refund", alipay_paid, client=buyer, body=models.RefundAsk(reason="不想要了"))
    call("admin_approve_refund", alipay_paid, client=staff)

    # paid in the sandbox, refund asked and rejected
    rejected, _ = order()
    call("payments_sandbox_pay", client=buyer, body=models.SandboxPayBody(order_id=rejected))
    call("checkout_request_refund", rejected, client=buyer, body=models.RefundAsk(reason="颜色不对"))
    call("admin_reject_refund", rejected, client=staff, body=models.RejectBody(reason="已经发货"))

    # a refund WeChat Pay closes, retried by staff
    retried, _ = order()
    call("payments_sandbox_pay", client=buyer, body=models.SandboxPayBody(order_id=retried))
    call("checkout_request_refund", retried, client=buyer, body=models.RefundAsk(reason="不想要了"))
    sandbox.twin("wechat").script_refunds(retried, "CLOSED")
    call("admin_approve_refund", retried, client=staff)
    wait_for_status(call, buyer, retried, "REFUND_FAILED")
    call("admin_retry_refund", retried, client=staff)

    # cancelled unpaid, by the buyer and by staff
    call("checkout_cancel_order", order()[0], client=buyer)
    call("admin_cancel_order", order()[0], client=staff)

    # group-buy: a campaign edited and listed, a group opened and paid, joined by a friend, shown, the campaign ended
    campaign = call("admin_create_groupbuy_campaign", client=staff, body=models.NewCampaign.from_dict(
        {"product_id": product.product_id, "sku_id": sku_id, "group_price": 990, "group_size": 2,
         "duration_minutes": 30, "stock": 10}))
    call("admin_edit_groupbuy_campaign", campaign.campaign_id, client=staff,
         body=models.CampaignEdit.from_dict({"stock": 12, "per_user_limit": 3}))
    call("admin_list_groupbuy_campaigns", client=staff)
    call("groupbuy_list_campaigns", client=anonymous)
    call("groupbuy_get_campaign", campaign.campaign_id, client=anonymous)
    opened = call("groupbuy_open_group", client=buyer, body=models.GroupOpening.from_dict(
        {"campaign_id": campaign.campaign_id, "address_id": address_id}), idempotency_key="every-call-group-0001")
    call("payments_sandbox_pay", client=buyer, body=models.SandboxPayBody(order_id=opened.order.order_id))
    friend = client.AuthenticatedClient(base_url=stack.url, raise_on_unexpected_status=True, token=call(
        "members_login", client=anonymous, body=models.LoginBody(code="dev:every-call-friend")).token)
    friend_address = call("members_add_address", client=friend,
                          body=models.NewAddressBody.from_dict(address)).address_id
    call("groupbuy_join_group", opened.group_id, client=friend,
         body=models.GroupJoining.from_dict({"address_id": friend_address}))
    call("groupbuy_get_group", opened.group_id, client=anonymous)
    call("admin_end_groupbuy_campaign", campaign.campaign_id, client=staff)
    # notifications: a template per kind, the buyer's subscription answers, a SKU's threshold, what was sent
    call("admin_list_templates", client=staff)
    call("admin_put_template", "ORDER_SHIPPED", client=staff, body=models.NotificationTemplateBody.from_dict(
        {"template_id": "typed-shipped", "fields": [{"key": "thing1", "source": "product_title"}]}))
    call("admin_delete_template", "ORDER_SHIPPED", client=staff)
    call("members_record_subscriptions", client=buyer, body=models.SubscriptionResults.from_dict(
        {"results": {"typed-shipped": "accept"}}))
    call("admin_put_low_stock_threshold", sku_id, client=staff,
         body=models.ThresholdBody.from_dict({"threshold": 3}))
    call("admin_list_low_stock_alerts", client=staff)
    call("admin_list_notifications", client=staff)

    # analytics: the storefront's events from a device and from the buyer, and the merchant's dashboard
    call("analytics_track", client=anonymous, x_device_id="typed-device", body=models.TrackBody.from_dict(
        {"events": [{"type": "PAGE_VIEW"}, {"type": "PRODUCT_VIEW", "product_id": product.product_id}]}))
    call("analytics_track", client=buyer, body=models.TrackBody.from_dict(
        {"events": [{"type": "SEARCH", "q": "类型化", "at": datetime.now(UTC).isoformat()}]}))
    shop_today = (datetime.now(UTC) + timedelta(hours=8)).date()  # Asia/Shanghai, the shop's default
    board = call("admin_dashboard", client=staff, from_=str(shop_today - timedelta(days=6)), to=str(shop_today))
    assert board.to == str(shop_today) and len(board.by_day) == 7, board
    # the owner's backfill of the week: read, its next page queued again and stopped while it runs (the stack's
    # worker may finish a job first: 409 BACKFILL_NOT_RUNNING / BACKFILL_DONE, and another job is started)
    week = {"from": str(shop_today - timedelta(days=6)), "to": str(shop_today)}
    for _ in range(10):
        job = call("admin_start_backfill", client=staff, body=models.BackfillBody.from_dict(week))
        call("admin_get_backfill", job.job_id, client=staff)
        if call.attempt("admin_resume_backfill", job.job_id, client=staff, refused=409) and \
                call.attempt("admin_cancel_backfill", job.job_id, client=staff, refused=409):
            break
    assert {"admin_resume_backfill", "admin_cancel_backfill"} <= call.called, "every backfill finished first"

    # a buyer in a phone browser: the sandbox's Alipay authorization, then the login it returns to
    orders_page = "/pages/orders/orders"
    started = call("members_web_authorize", "alipay", client=anonymous, redirect=orders_page,
                   x_device_id="typed-browser")
    web_buyer = call("members_web_login", "alipay", client=anonymous, x_device_id="typed-browser",
                     body=models.WebLoginBody(code="sandbox.typed-browser", state=started.state, redirect=orders_page))
    assert web_buyer.redirect == orders_page and web_buyer.token, web_buyer

    call("checkout_list_orders", client=buyer)
    call("admin_list_orders", client=staff)
    call("admin_get_order", retried, client=staff)
    call("admin_shipping_address", wechat_paid, client=staff)
    call("admin_list_anomalies", client=staff)

    # personal data (PIPL): a fresh buyer exports everything, then deletes the account
    leaver = client.AuthenticatedClient(base_url=stack.url, raise_on_unexpected_status=True, token=call(
        "members_login", client=anonymous, body=models.LoginBody(code="dev:every-call-leaver")).token)
    call("members_add_address", client=leaver, body=models.NewAddressBody.from_dict(address))
    assert call("members_export_my_data", client=leaver).addresses[0].phone == address["phone"]
    call("members_delete_me", client=leaver)

    # what reached the disk (the embedded DynamoDB's journal and snapshot) and the stack's log holds no
    # buyer's phone or street line in the clear
    written = {path: path.read_bytes().decode("utf-8", "replace")
               for path in [*(stack.local_dir / "data").rglob("*"), stack.log_path] if path.is_file()}
    assert any(address_id in text for text in written.values()), f"the address is in none of {sorted(written)}"
    for path, text in written.items():
        for secret in (address["phone"], address["detail"], json.dumps(address["detail"])[1:-1]):
            assert secret not in text, f"{secret!r} readable in {path}"

    assert call.called == documented, {"documented, never called": sorted(documented - call.called),
                                       "called, not documented": sorted(call.called - documented)}
