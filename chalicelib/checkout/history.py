"""Orders by the time they were placed, page by page: for a feature that replays the shop's past.

Analytics' backfill (chalicelib/analytics/backfill.py) reads the orders placed in a range of time through
this function, never the orders table. Each order is answered as the orders stream carries it (a plain
image: the item's attributes as Python values, whole numbers as int, times as stored), without its sealed
address, so a replay reads exactly what the live stream would have handed it.

Order ids are ULIDs of their creation time, so "placed between" is an id range on the unfiltered listing
index (`all_orders`, `ALL#<shard>`): each shard is queried for one page after the cursor and the union's
oldest `limit` are the page; every order after the cursor is in some shard's page, so none is skipped.
"""
from __future__ import annotations

import heapq
from datetime import datetime
from itertools import islice
from typing import Any

from chalicelib.checkout.models import SHARDS, OrderModel
from chalicelib.core import db, ids
from chalicelib.core.events import plain_item

SEALED = frozenset({"address"})  # personal data a replay never needs


def first_id_at(moment: datetime) -> str:
    """The smallest order id made at `moment` (its millisecond)."""
    return ids.ulid_text(int(moment.timestamp() * 1000), 0)


def last_id_at(moment: datetime) -> str:
    """The largest order id made at `moment` (its millisecond)."""
    return ids.ulid_text(int(moment.timestamp() * 1000), ids.MAX_RANDOMNESS)


def orders_placed_between(start: datetime, end: datetime, after: str | None,
                          limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """The orders placed from `start` to `end` (both included) after order id `after`, oldest first, at most
    `limit`, as plain images; and the id to continue after (None: this was the last page)."""
    low = after + "0" if after else first_id_at(start)  # "0" sorts first: the next 26-character id is above it
    high = last_id_at(end)
    if low > high:
        return [], None
    pages = [_shard_page(shard, low, high, limit + 1) for shard in range(SHARDS)]
    oldest = list(islice(heapq.merge(*pages, key=lambda item: item["order_id"]), limit + 1))
    more = len(oldest) > limit
    page = oldest[:limit]
    return page, (page[-1]["order_id"] if more else None)


def _shard_page(shard: int, low: str, high: str, limit: int) -> list[dict[str, Any]]:
    index = OrderModel.all_orders.Meta.index_name
    request = {"TableName": OrderModel.Meta.table_name, "IndexName": index, "Limit": limit,
               "KeyConditionExpression": "#shard = :shard AND #id BETWEEN :low AND :high",
               "ExpressionAttributeNames": {"#shard": "listing_shard", "#id": "order_id"},
               "ExpressionAttributeValues": {":shard": {"S": f"ALL#{shard}"}, ":low": {"S": low},
                                             ":high": {"S": high}}}
    items: list[dict[str, Any]] = []
    while len(items) < limit:  # a query stops at 1 MB read: large orders may take more than one
        answer = db.connection().dispatch("Query", {**request, "Limit": limit - len(items)})
        items += [plain_item(item, leave_out=SEALED) for item in answer.get("Items", [])]
        if not answer.get("LastEvaluatedKey"):
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return items
