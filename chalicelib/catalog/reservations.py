"""Stock movements other features put into their own transactions.

A unit of stock is always in exactly one of three counters of its inventory
shard: `available` (can be bought), `reserved` (held by an unpaid order) or
`sold` (paid for). Checkout and payments move units between them only through
these builders, each adding one Update to the caller's PynamoDB TransactWrite,
so `available + reserved + sold` changes only when staff set or adjust stock.

One transaction may not touch an item twice: callers merge lines per
(sku_id, shard) before calling.
"""
from __future__ import annotations

from typing import Any

from chalicelib.catalog.models import MAIN_SHARD, InventoryModel
from chalicelib.core import clock


def add_reservation(tx: Any, sku_id: str, shard: int, quantity: int, price: int) -> None:
    """available -> reserved, only while the SKU is on sale at `price` with enough stock.

    The price condition makes the price the order was computed from the price at
    commit: a change in between cancels the transaction instead of selling at
    a stale price.
    """
    inventory = InventoryModel(sku_id, shard)
    tx.update(inventory,
              actions=[InventoryModel.available.add(-quantity), InventoryModel.reserved.add(quantity),
                       InventoryModel.updated_at.set(clock.now())],
              condition=(InventoryModel.available >= quantity) & (InventoryModel.on_sale == True)  # noqa: E712
              & (InventoryModel.price == price))


def add_release(tx: Any, sku_id: str, shard: int, quantity: int) -> None:
    """reserved -> available: an unpaid order was cancelled.

    Unconditional: the caller's transaction is conditioned on the order's status,
    which is what makes a release happen once; a release must never be blocked.
    """
    _move(tx, sku_id, shard, quantity, source=InventoryModel.reserved, target=InventoryModel.available)


def add_sale(tx: Any, sku_id: str, shard: int, quantity: int) -> None:
    """reserved -> sold: the order was paid."""
    _move(tx, sku_id, shard, quantity, source=InventoryModel.reserved, target=InventoryModel.sold)


def add_return(tx: Any, sku_id: str, shard: int, quantity: int) -> None:
    """sold -> available: a paid order that never shipped was refunded."""
    _move(tx, sku_id, shard, quantity, source=InventoryModel.sold, target=InventoryModel.available)


def _move(tx: Any, sku_id: str, shard: int, quantity: int, *, source: Any, target: Any) -> None:
    tx.update(InventoryModel(sku_id, shard),
              actions=[source.add(-quantity), target.add(quantity), InventoryModel.updated_at.set(clock.now())])


def add_move_to_pool(tx: Any, sku_id: str, quantity: int) -> None:
    """Regular available stock -> a flash sale's pool (marketing): only while that much is available, so
    regular stock never goes below zero. The units leave this SKU's counters until `add_return_from_pool`."""
    tx.update(InventoryModel(sku_id, MAIN_SHARD),
              actions=[InventoryModel.available.add(-quantity), InventoryModel.updated_at.set(clock.now())],
              condition=(InventoryModel.available >= quantity) & InventoryModel.product_id.exists())


def add_return_from_pool(tx: Any, sku_id: str, quantity: int) -> None:
    """A closed flash sale's unsold units -> regular available stock. Unconditional: the caller's transaction
    is conditioned on the pool shard it empties, which is what makes a return happen once."""
    tx.update(InventoryModel(sku_id, MAIN_SHARD),
              actions=[InventoryModel.available.add(quantity), InventoryModel.updated_at.set(clock.now())])


def add_sales(tx: Any, product_id: str, quantity: int) -> None:
    """The product's `sales` counter (shown to buyers) grows by units paid for.

    Not a change of the product: its `version` stays, so an edit in progress is
    not made to fail by a sale.
    """
    from chalicelib.catalog.models import ProductModel

    tx.update(ProductModel(product_id), actions=[ProductModel.sales.add(quantity)],
              condition=ProductModel.product_id.exists())
