"""cart routes: the buyer's own cart, keyed by the token's user id (never by anything in the request)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.core.auth import BUYER
from chalicelib.core.http import Api, Context

if TYPE_CHECKING:
    from chalicelib.cart.service import CartLineView, CartView

api = Api(__name__, tag="cart")

# Models by name, the service imported by the handler: a cold start loads what its first request uses.
INPUTS, VIEWS = "chalicelib.cart.inputs:", "chalicelib.cart.service:"


@api.route("/cart", "GET", response=VIEWS + "CartView", auth=BUYER,
           summary="the buyer's cart priced now, with totals of the selected available lines")
def get_cart(ctx: Context) -> CartView:
    from chalicelib.cart import service

    return service.get_cart(ctx.user_id)


@api.route("/cart/items", "POST", body=INPUTS + "AddItemBody", response=VIEWS + "CartLineView",
           auth=BUYER, errors=(404, 409),
           summary="add a SKU; an existing line grows (at most 99 units, 100 lines)")
def add_item(ctx: Context) -> CartLineView:
    from chalicelib.cart import service

    return service.add_item(ctx.user_id, ctx.body.sku_id, ctx.body.quantity)


@api.route("/cart/items/{sku_id}", "PUT", body=INPUTS + "UpdateItemBody", response=VIEWS + "CartView",
           auth=BUYER, errors=(404,),
           summary="change a line's quantity and/or selection; returns the cart")
def update_item(ctx: Context, sku_id: str) -> CartView:
    from chalicelib.cart import service

    return service.update_item(ctx.user_id, sku_id, quantity=ctx.body.quantity, selected=ctx.body.selected)


@api.route("/cart/items/{sku_id}", "DELETE", response=VIEWS + "CartView", auth=BUYER, errors=(404,),
           summary="remove a line; returns the cart")
def remove_item(ctx: Context, sku_id: str) -> CartView:
    from chalicelib.cart import service

    return service.remove_item(ctx.user_id, sku_id)
