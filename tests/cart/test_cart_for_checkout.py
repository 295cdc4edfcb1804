"""What checkout uses: the selected lines, and removing bought lines inside its own transaction."""
from __future__ import annotations

import pytest
from pynamodb.exceptions import TransactWriteError

from chalicelib.cart import service
from chalicelib.cart.service import CartLine
from chalicelib.core import db
from chalicelib.core.errors import Conflict

BUYER = "U-checkout"


def test_selected_lines_are_the_selected_ones_as_stored(shop):
    chosen, skipped = shop.sku(price=800), shop.sku()
    service.add_item(BUYER, chosen, 3)
    service.add_item(BUYER, skipped, 1)
    service.update_item(BUYER, skipped, selected=False)
    product_id = next(line.product_id for line in service.get_cart(BUYER).lines if line.sku_id == chosen)
    assert service.selected_lines(BUYER) == [
        CartLine(sku_id=chosen, product_id=product_id, quantity=3, selected=True, added_price=800)]


def test_selected_lines_of_an_empty_cart_are_none(shop):
    assert service.selected_lines(BUYER) == []


def test_removing_bought_lines_in_a_transaction_frees_their_slots(shop, monkeypatch):
    monkeypatch.setenv("MALL_CART_MAX_LINES", "3")
    kept, *bought = shop.skus(3)
    for sku_id in (kept, *bought):
        service.add_item(BUYER, sku_id, 1)

    db.run_transaction(lambda tx: service.add_line_removals(tx, BUYER, bought + bought[:1]))

    assert [line.sku_id for line in service.get_cart(BUYER).lines] == [kept]
    for sku_id in shop.skus(2):
        service.add_item(BUYER, sku_id, 1)
    with pytest.raises(Conflict) as refused:
        service.add_item(BUYER, shop.sku(), 1)
    assert refused.value.code == "CART_FULL"


def test_removing_a_line_the_buyer_already_removed_cancels_the_whole_transaction(shop):
    present, gone = shop.skus(2)
    service.add_item(BUYER, present, 1)
    with pytest.raises(TransactWriteError) as cancelled:
        db.run_transaction(lambda tx: service.add_line_removals(tx, BUYER, [present, gone]))
    assert "ConditionalCheckFailed" in db.cancellation_codes(cancelled.value)
    assert [line.sku_id for line in service.get_cart(BUYER).lines] == [present]


def test_removing_no_lines_adds_nothing_to_the_transaction():
    class RecordingTransaction:
        def __init__(self):
            self.operations = []

        def delete(self, *args, **kwargs):
            self.operations.append("delete")

        def update(self, *args, **kwargs):
            self.operations.append("update")

    tx = RecordingTransaction()
    service.add_line_removals(tx, BUYER, [])
    assert tx.operations == []
