"""The DynamoDB calls per request section: a product page, a cart view and a checkout, counted on the client."""
from __future__ import annotations

import json
from contextlib import contextmanager


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
lines, with a coupon and points or without (the coupon is one more key in the same read; the coupon's lock and the
points' debit join the order's one transaction). A checkout's first BatchGetItem and TransactWriteItems are its
rate-limit buckets (per buyer, device and IP; on in live mode, as here), then one BatchGetItem of its reads by key
(the idempotency key, address, SKU cards, member account, level table and coupon: core/batch_reads.py) and the
order's transaction.

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
