"""cart test fixtures: a shop whose SKUs come from the catalog's own service, buyers, DynamoDB call hooks."""
from __future__ import annotations

from itertools import count

import pytest

from tests.conftest import Api, buyer_token


class Shop:
    """Creates products through the catalog service; each `sku()` is a new product with one SKU."""

    def __init__(self):
        from chalicelib.catalog import service as catalog

        self._catalog = catalog
        self._names = count(1)
        self.category_id = catalog.create_category("测试分类").category_id

    def sku(self, *, price: int = 1000, stock: int = 50, on_sale: bool = True) -> str:
        return self.product(prices=[price], stock=stock, on_sale=on_sale).skus[0].sku_id

    def skus(self, how_many: int, *, price: int = 1000, stock: int = 50) -> list[str]:
        return [self.sku(price=price, stock=stock) for _ in range(how_many)]

    def product(self, *, prices: list[int], stock: int = 50, on_sale: bool = True):
        number = next(self._names)
        skus = [{"specs": {"尺码": f"{size}"}, "price": price, "stock": stock}
                for size, price in enumerate(prices, start=36)]
        return self._catalog.create_product(f"商品 {number}", self.category_id, skus, on_sale=on_sale)

    def change_price(self, product_id: str, sku_id: str, specs: dict, price: int) -> None:
        from chalicelib.catalog.inputs import ProductEdit, SkuEdit

        edit = ProductEdit(skus=[SkuEdit(sku_id=sku_id, specs=specs, price=price)])
        self._catalog.update_product(product_id, edit, actor="cart-tests")

    def take_off_sale(self, product_id: str) -> None:
        self._catalog.take_off_sale(product_id, actor="cart-tests")


@pytest.fixture
def shop(app) -> Shop:
    return Shop()


@pytest.fixture
def alice(client) -> Api:
    return client.as_token(buyer_token("U-alice"))


@pytest.fixture
def bob(client) -> Api:
    return client.as_token(buyer_token("U-bob"))
