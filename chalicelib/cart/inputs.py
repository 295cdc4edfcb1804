"""What the cart's routes accept, named lazily by chalicelib/cart/routes.py: a cold start whose first request
is `GET /cart` imports none of it."""
from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StrictBool, StrictInt, model_validator

from chalicelib.cart.service import MAX_QUANTITY
from chalicelib.catalog.inputs import EntityId
from chalicelib.core.schema import Schema

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
