"""Order lists, newest first: a buyer's (one index partition) and the merchant's (sharded, merged).

Order ids are ULIDs, so "newer than" is "greater id" and the whole cursor is
the last id returned. A sharded list queries each shard for one page after the
cursor and keeps the newest `limit` of the union: every order newer than the
cursor is in some shard's page, so none is skipped.
"""
from __future__ import annotations

import heapq
from itertools import islice

from chalicelib.checkout.models import SHARDS, OrderModel
from chalicelib.checkout.views import OrderPage, order_view
from chalicelib.core.paging import decode_cursor, encode_cursor


def buyer_orders(user_id: str, status: str | None, cursor: str | None, limit: int) -> OrderPage:
    before = decode_cursor(cursor)
    if status is None:
        rows = _page(OrderModel.by_buyer, user_id, before, limit)
    else:
        rows = _page(OrderModel.by_buyer_status, f"{user_id}#{status}", before, limit)
    return _shape(rows, limit)


def merchant_orders(status: str | None, cursor: str | None, limit: int) -> OrderPage:
    before = decode_cursor(cursor)
    if status is None:
        index, prefix = OrderModel.all_orders, "ALL"
    else:
        index, prefix = OrderModel.by_status, status
    pages = [_page(index, f"{prefix}#{shard}", before, limit) for shard in range(SHARDS)]
    newest = heapq.merge(*pages, key=lambda order: order.order_id, reverse=True)
    return _shape(list(islice(newest, limit + 1)), limit)


def _page(index, hash_key: str, before: str | None, limit: int) -> list[OrderModel]:
    condition = OrderModel.order_id < before if before else None
    return list(index.query(hash_key, range_key_condition=condition, scan_index_forward=False, limit=limit + 1))


def _shape(rows: list[OrderModel], limit: int) -> OrderPage:
    next_cursor = encode_cursor(rows[limit - 1].order_id) if len(rows) > limit else None
    return OrderPage(items=[order_view(row) for row in rows[:limit]], next_cursor=next_cursor)
