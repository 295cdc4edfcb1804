"""checkout test fixtures: a shop stocked through the catalog service, buyers with an address, order helpers."""
from __future__ import annotations

from itertools import count

import pytest

from tests.cart.conftest import Shop
from tests.conftest import Api, buyer_token, staff_token

_keys = count(1)


def new_key() -> str:
    return f"test-key-{next(_keys):06d}"


class Buyer:
    """A buyer with one address, acting through the HTTP API."""

    def __init__(self, client, user_id: str):
        from chalicelib.members import service as members

        self.user_id = user_id
        self.api: Api = client.as_token(buyer_token(user_id))
        fields = members.AddressFields(name="张三", phone="13800000000", province="广东省", city="深圳市",
                                       district="南山区", detail="科技园 1 号")
        self.address_id = members.add_address(user_id, fields).address_id

    def order(self, items: dict[str, int] | None = None, *, key: str | None = None, **more):
        """POST /orders for `items` (sku -> quantity), or `from_cart=True` in `more`."""
        body = {"address_id": self.address_id, **more}
        if items is not None:
            body["items"] = [{"sku_id": sku_id, "quantity": quantity} for sku_id, quantity in items.items()]
        return self.api.post("/orders", body, headers={"Idempotency-Key": key or new_key()})

    def placed(self, items: dict[str, int], **more) -> dict:
        response = self.order(items, **more)
        assert response.status_code == 201, response.data
        return response.data


def stock_of(sku_id: str) -> dict[str, int]:
    from chalicelib.catalog.models import MAIN_SHARD, InventoryModel

    row = InventoryModel.get(sku_id, MAIN_SHARD, consistent_read=True)
    return {"available": int(row.available), "reserved": int(row.reserved), "sold": int(row.sold)}


def pay(order_id: str, amount: int | None = None, transaction_id: str = "4200000000000000001"):
    """Pay through the service layer, as the payments feature does after verifying a notification."""
    from chalicelib.checkout import lifecycle
    from chalicelib.checkout.orders import load_order
    from chalicelib.core import clock

    order = load_order(order_id)
    return lifecycle.mark_paid(order_id, provider="wechat", transaction_id=transaction_id,
                               amount=int(order.payable) if amount is None else amount, paid_at=clock.now())


@pytest.fixture
def shop(app) -> Shop:
    return Shop()


@pytest.fixture
def alice(client) -> Buyer:
    return Buyer(client, "U-alice")


@pytest.fixture
def bob(client) -> Buyer:
    return Buyer(client, "U-bob")


@pytest.fixture
def staff(client) -> Api:
    from chalicelib.admin import service
    from chalicelib.admin.passwords import ScryptCost

    service.create_staff("shipper", "shipper-password", "operator", cost=ScryptCost(n=2**4, r=8, p=1))
    return client.as_token(staff_token("shipper", "operator"))
