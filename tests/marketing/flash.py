"""Helpers for the flash-sale tests: a sale created through the admin route, orders through POST /orders."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.core import clock
from tests.checkout.conftest import Buyer, new_key
from tests.conftest import Api, staff_token


def new_sale(owner: Api, sku_id: str, **fields) -> dict:
    now = clock.now()
    body = {"sku_id": sku_id, "sale_price": 990, "stock": 10, "per_user_limit": 1,
            "starts_at": clock.iso(now - timedelta(seconds=1)), "ends_at": clock.iso(now + timedelta(hours=1)),
            "shards": 4, **fields}
    body = {key: value for key, value in body.items() if value is not None}
    response = owner.as_token(staff_token("boss", "owner")).post("/admin/flash-sales", body)
    assert response.status_code == 201, response.data
    return response.data


def flash_order(buyer: Buyer, sale: dict, quantity: int = 1, *, key: str | None = None, **more):
    body = {"address_id": buyer.address_id, "flash_sale_id": sale["sale_id"],
            "items": [{"sku_id": sale["sku_id"], "quantity": quantity}], **more}
    return buyer.api.post("/orders", body, headers={"Idempotency-Key": key or new_key()})


def pool(sale_id: str) -> list[dict[str, int]]:
    """Every shard of the sale's pool, read consistently."""
    from chalicelib.marketing.flash_models import FlashPoolModel, FlashSaleModel, pool_key

    sale = FlashSaleModel.get(sale_id, consistent_read=True)
    rows = [FlashPoolModel.get(pool_key(sale_id, shard), consistent_read=True) for shard in range(int(sale.shards))]
    return [{"available": int(r.available), "reserved": int(r.reserved), "sold": int(r.sold),
             "returned": int(r.returned), "allotted": int(r.allotted)} for r in rows]


def quota(sale_id: str, user_id: str) -> int:
    from chalicelib.marketing.flash_stock import quota_bought

    return quota_bought(sale_id, user_id, consistent=True)


def totals(sale_id: str) -> dict[str, int]:
    shards = pool(sale_id)
    return {name: sum(shard[name] for shard in shards) for name in ("available", "reserved", "sold", "returned")}


def edit(owner: Api, sale_id: str, **fields):
    """PUT /admin/flash-sales/{sale_id} as the owner (a fresh token: tests move the clock)."""
    return owner.as_token(staff_token("boss", "owner")).put(f"/admin/flash-sales/{sale_id}", fields)


def edited(owner: Api, sale_id: str, **fields) -> dict:
    response = edit(owner, sale_id, **fields)
    assert response.status_code == 200, response.data
    return response.data


def sale_row(sale_id: str):
    from chalicelib.marketing.flash_models import FlashSaleModel

    return FlashSaleModel.get(sale_id, consistent_read=True)


def balanced(sale_id: str) -> None:
    """The pool's invariants: the cap is the shards' allotments, each shard's units add up, none below zero."""
    shards = pool(sale_id)
    assert int(sale_row(sale_id).stock) == sum(s["allotted"] for s in shards), (sale_row(sale_id).stock, shards)
    for shard in shards:
        assert shard["allotted"] == shard["available"] + shard["reserved"] + shard["sold"] + shard["returned"], shard
        assert min(shard.values()) >= 0, shard
