"""What the carts stream says happened, for whoever listens (the dashboard's counters): each add to a cart.

An add is a line written by `service.add_item`: a new line, or a line whose quantity grew under a new
`request_token` (one per add request). Quantity changes on the cart page, selections, removals and the
lines checkout clears are not adds. The token names the add, so the same add read twice is the same fact.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core.events import image


@dataclass(frozen=True)
class CartAdd:
    user_id: str
    sku_id: str
    product_id: str
    quantity: int  # units this add put in
    request_token: str
    at: datetime


def adds_in(records: Iterable[Any]) -> list[CartAdd]:
    adds = []
    for record in records:
        old, new = image(record, "old") or {}, image(record, "new")
        if not new or new.get("kind") != "line" or not new.get("request_token"):
            continue
        if new["request_token"] == old.get("request_token"):
            continue  # not written by an add (a quantity set on the cart page, a selection)
        added = int(new["quantity"]) - int(old.get("quantity") or 0)
        if added <= 0:
            continue
        adds.append(CartAdd(user_id=new["user_id"], sku_id=new["sku_id"], product_id=new["product_id"],
                            quantity=added, request_token=new["request_token"],
                            at=datetime.fromisoformat(str(new["updated_at"]))))
    return adds
