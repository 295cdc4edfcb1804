"""The bench's own embedded DynamoDB and SQS, and the tables every section that shares fixtures reads.

`bench_server()` starts a fresh server configured as the process's AWS; `prepare(endpoint)` creates the tables
and fills them with what each function's first request needs (benchmarks/cold_start.py).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks.cold_start import COLD_START_RUNS


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
