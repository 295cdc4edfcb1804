"""cart routes: the buyer's own cart, keyed by the token's user id (never by anything in the request)."""
from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StrictBool, StrictInt, model_validator

from chalicelib.cart import service
from chalicelib.cart.service import MAX_QUANTITY, CartLineView, CartView
from chalicelib.catalog.inputs import EntityId
from chalicelib.core.auth import BUYER
from chalicelib.core.http import Api, Context
from chalicelib.core.schema import Schema

api = Api(__name__, tag="cart")

Quantity = Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)]


class AddItemBody(Schema):
    model_config = ConfigDict(extra="forbid")
    sku_id: EntityId  # shaped as the catalog makes SKU ids
    quantity: Quantity


class UpdateItemBody(Schema):
    model_config = ConfigDict(extra="forbid")
    quantity: Quantity | None = None
    selected: StrictBool | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> UpdateItemBody:
        if self.quantity is None and self.selected is None:
            raise ValueError("give quantity, selected or both")
        return self


@api.route("/cart", "GET", response=CartView, auth=BUYER,
           summary="the buyer's cart priced now, with totals of the selected available lines")
def get_cart(ctx: Context) -> CartView:
    return service.get_cart(ctx.user_id)


@api.route("/cart/items", "POST", body=AddItemBody, response=CartLineView, auth=BUYER, errors=(404, 409),
           summary="add a SKU; an existing line grows (at most 99 units, 100 lines)")
def add_item(ctx: Context) -> CartLineView:
    return service.add_item(ctx.user_id, ctx.body.sku_id, ctx.body.quantity)


@api.route("/cart/items/{sku_id}", "PUT", body=UpdateItemBody, response=CartView, auth=BUYER, errors=(404,),
           summary="change a line's quantity and/or selection; returns the cart")
def update_item(ctx: Context, sku_id: str) -> CartView:
    return service.update_item(ctx.user_id, sku_id, quantity=ctx.body.quantity, selected=ctx.body.selected)


@api.route("/cart/items/{sku_id}", "DELETE", response=CartView, auth=BUYER, errors=(404,),
           summary="remove a line; returns the cart")
def remove_item(ctx: Context, sku_id: str) -> CartView:
    return service.remove_item(ctx.user_id, sku_id)
