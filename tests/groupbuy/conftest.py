"""groupbuy test fixtures: a shop, a staff console, buyers logged in through the sandbox, a campaign, paying
through the sandbox WeChat Pay (a signed notification to the real webhook code), and the group jobs."""
from __future__ import annotations

from itertools import count

import pytest

from tests.cart.conftest import Shop
from tests.checkout.conftest import Buyer
from tests.conftest import Api, staff_token
from tests.payments.conftest import keys_dir, session_keys  # noqa: F401  (fixtures: the sandbox's keys)

_names = count(1)


@pytest.fixture
def shop(app) -> Shop:
    return Shop()


@pytest.fixture
def staff(client) -> Api:
    from chalicelib.admin import service
    from chalicelib.admin.passwords import ScryptCost

    service.create_staff("grouper", "grouper-password", "operator", cost=ScryptCost(n=2**4, r=8, p=1))
    return client.as_token(staff_token("grouper", "operator"))


@pytest.fixture
def buyers(client):
    """`buyers(n)`: n new buyers, each with an address, logged in through the sandbox WeChat."""
    from chalicelib.members import service as members

    def make(how_many: int = 1) -> list[Buyer]:
        return [Buyer(client, members.login(f"dev:group-buyer-{next(_names)}").user.user_id)
                for _ in range(how_many)]
    return make


@pytest.fixture
def campaign(shop, staff):
    """`campaign(...)`: a running campaign on a new SKU (regular price 5000, 50 in stock) through the admin route."""
    def make(*, group_size: int = 3, group_price: int = 2990, duration_minutes: int = 60, stock: int = 20,
             per_user_limit: int | None = None, sku_stock: int = 50, **more) -> dict:
        product = shop.product(prices=[5000], stock=sku_stock)
        body = {"product_id": product.product_id, "sku_id": product.skus[0].sku_id, "group_price": group_price,
                "group_size": group_size, "duration_minutes": duration_minutes, "stock": stock, **more}
        if per_user_limit is not None:
            body["per_user_limit"] = per_user_limit
        response = staff.post("/admin/groupbuy/campaigns", body)
        assert response.status_code == 201, response.data
        return response.data
    return make


def open_group(buyer: Buyer, campaign_id: str) -> dict:
    response = buyer.api.post("/groupbuy/groups", {"campaign_id": campaign_id, "address_id": buyer.address_id})
    assert response.status_code == 201, response.data
    return response.data


def join(buyer: Buyer, group_id: str):
    return buyer.api.post(f"/groupbuy/groups/{group_id}/join", {"address_id": buyer.address_id})


def joined(buyer: Buyer, group_id: str) -> dict:
    response = join(buyer, group_id)
    assert response.status_code == 201, response.data
    return response.data


def pay(order_id: str, amount: int | None = None) -> tuple[int, str, str]:
    """The buyer pays at the sandbox WeChat Pay, which notifies the mall's webhook (signed and encrypted)."""
    from chalicelib.checkout.orders import load_order
    from chalicelib.payments import service
    from chalicelib.payments.providers import sandbox

    payable = int(load_order(order_id).payable) if amount is None else amount
    headers, body = sandbox.twin("wechat").build_payment_notification(order_id, payable, f"openid-{order_id}")
    return service.handle_webhook("wechat", headers, body)


def paid(order_id: str) -> None:
    status, reply, _ = pay(order_id)
    assert status < 300, reply


def order(order_id: str):
    from chalicelib.checkout.orders import load_order

    return load_order(order_id)


def group(group_id: str):
    from chalicelib.groupbuy.models import GroupModel

    return GroupModel.get(group_id, consistent_read=True)


def provider_refunds(order_id: str) -> dict:
    """The refunds the sandbox WeChat Pay holds for the order's trade: what the buyer actually got back."""
    from chalicelib.payments.providers import sandbox

    trade = sandbox.twin("wechat").book.read("wechatpay", order_id)
    return dict(trade.get("refunds", {})) if trade else {}


def later(frozen_clock, **delta) -> None:
    frozen_clock.advance(**delta)


def run_group_jobs() -> None:
    from chalicelib.groupbuy.settlement import run_due_groups

    run_due_groups()


def sweep_orders() -> None:
    from chalicelib.checkout import lifecycle, sweeper

    sweeper.sweep_due_orders(close_trade=lifecycle.close_provider_trade)


def quota_of(campaign_id: str, user_id: str) -> int:
    from chalicelib.core.db import get_or_none
    from chalicelib.groupbuy.models import BuyerQuotaModel

    row = get_or_none(BuyerQuotaModel, campaign_id, user_id)
    return int(row.orders) if row else 0


def campaign_left(campaign_id: str) -> int:
    from chalicelib.groupbuy.models import CampaignModel

    return int(CampaignModel.get(campaign_id, consistent_read=True).stock_left)
