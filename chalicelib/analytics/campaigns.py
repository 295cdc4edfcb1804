"""Which campaigns an order counts under, and the discount each gave it.

- a coupon template (`COUPON`): the order's own `coupon_discount`; named after the coupon as claimed;
- a flash sale (`FLASH_SALE`): the sale's markdown, (its `original_price` - the price paid) x units;
- a group-buy campaign (`GROUP_BUY`): the markdown from the SKU's regular price as the catalog shows it
  when the order is counted, (regular price - group price) x units (a group keeps no regular price).

Each is read through its feature's function, once per batch (`Lookups`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COUPON, FLASH_SALE, GROUP_BUY = "COUPON", "FLASH_SALE", "GROUP_BUY"
KINDS = (COUPON, FLASH_SALE, GROUP_BUY)


@dataclass(frozen=True)
class CampaignShare:
    kind: str
    campaign_id: str
    name: str | None
    discount: int  # fen this campaign took off the order

    @property
    def key(self) -> str:
        return f"{self.kind}#{self.campaign_id}"


@dataclass
class Lookups:
    """What one batch needs to know about flash sales, groups and regular prices, each read once."""
    sales: dict[str, Any] = field(default_factory=dict)
    groups: dict[str, dict | None] = field(default_factory=dict)
    prices: dict[str, int | None] = field(default_factory=dict)

    def sale(self, sale_id: str) -> Any:
        if sale_id not in self.sales:
            from chalicelib.core.errors import NotFound
            from chalicelib.marketing.flash_sales import load_sale

            try:
                self.sales[sale_id] = load_sale(sale_id)
            except NotFound:
                self.sales[sale_id] = None
        return self.sales[sale_id]

    def group(self, group_id: str) -> dict | None:
        if group_id not in self.groups:
            from chalicelib.groupbuy.campaigns import campaign_of_group

            self.groups[group_id] = campaign_of_group(group_id)
        return self.groups[group_id]

    def regular_price(self, sku_id: str) -> int | None:
        if sku_id not in self.prices:
            from chalicelib.catalog.reads import sku_cards

            card = sku_cards([sku_id]).get(sku_id)
            self.prices[sku_id] = card.price if card is not None else None
        return self.prices[sku_id]


def shares_of(order: dict[str, Any], lookups: Lookups) -> list[CampaignShare]:
    """The campaigns an order (a stream image) counts under."""
    shares = []
    coupon = order.get("coupon")
    if coupon:
        shares.append(CampaignShare(COUPON, coupon["template_id"], coupon.get("name"),
                                    int(order.get("coupon_discount") or 0)))
    if order.get("flash_sale_id"):
        sale = lookups.sale(order["flash_sale_id"])
        markdown = 0
        if sale is not None:
            markdown = sum(max(0, int(sale.original_price) - int(line["price"])) * int(line["quantity"])
                           for line in order.get("lines", []))
        shares.append(CampaignShare(FLASH_SALE, order["flash_sale_id"], sale.title if sale is not None else None,
                                    markdown))
    if order.get("group_id"):
        group = lookups.group(order["group_id"])
        if group is not None:
            regular = lookups.regular_price(group["sku_id"])
            markdown = 0 if regular is None else sum(
                max(0, regular - int(line["price"])) * int(line["quantity"]) for line in order.get("lines", []))
            shares.append(CampaignShare(GROUP_BUY, group["campaign_id"], group["title"], markdown))
    return shares
