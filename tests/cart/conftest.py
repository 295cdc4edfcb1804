"""cart test fixtures: a shop whose SKUs come from the catalog's own service, and buyers.

The shared `client` fixture builds chalice's test Client from the repository's
`.chalice/config.json`, whose dev stage would put deploy settings into every
request's environment; here the Client gets a project without a Chalice config,
so handlers see the test environment that tests/conftest.py sets.
"""
from __future__ import annotations

import threading
from collections import Counter
from itertools import count

import botocore.client
import pytest

from tests.conftest import Api, buyer_token


@pytest.fixture
def client(app, tmp_path):
    from chalice.test import Client

    with Client(app, project_dir=str(tmp_path)) as chalice_client:
        yield Api(chalice_client)


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


class DynamoCalls:
    """Counts DynamoDB API calls by operation name while active."""

    def __init__(self):
        self.counts: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@pytest.fixture
def dynamo_calls(monkeypatch) -> DynamoCalls:
    calls = DynamoCalls()
    real_call = botocore.client.BaseClient._make_api_call

    def counting_call(client, operation_name, api_params):
        if client.meta.service_model.service_name == "dynamodb":
            calls.counts[operation_name] += 1
        return real_call(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting_call)
    return calls


@pytest.fixture
def atomic_dynamodb(monkeypatch) -> None:
    """Make each moto DynamoDB call atomic, as each real DynamoDB request is.

    In-process moto can interleave two threads inside one conditional write (see
    infra/local/embedded.py), which real DynamoDB never does; one lock per call
    restores that guarantee while still letting threads interleave between calls,
    which is where the cart's races live.
    """
    lock = threading.Lock()
    real_call = botocore.client.BaseClient._make_api_call

    def atomic_call(client, operation_name, api_params):
        with lock:
            return real_call(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", atomic_call)
