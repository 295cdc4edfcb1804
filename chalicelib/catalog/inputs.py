"""What callers may send the catalog: request shapes shared by the HTTP routes and the service.

The service validates plain dicts through these same models, so a SKU created from
code (demo data, another feature's tests) obeys exactly the rules the API enforces.
"""
from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import AfterValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

from chalicelib.core.ids import ID_PATTERN
from chalicelib.core.schema import Schema

MAX_SKUS = 99  # product item + every SKU card must fit one TransactWriteItems (100 actions)
MAX_PRICE = 10**9  # fen: ten million yuan
MAX_STOCK = 10**7
MAX_SPECS = 5  # spec dimensions per SKU (颜色, 尺码, ...)
MAX_IMAGES = 9  # what a WeChat product gallery shows


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text.strip()


def _not_zero(number: int) -> int:
    if number == 0:
        raise ValueError("must not be 0")
    return number


def _http_url(text: str) -> str:
    if not text.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    return text


Title = Annotated[StrictStr, Field(min_length=1, max_length=60), AfterValidator(_not_blank)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=20), AfterValidator(_not_blank)]
SpecText = Annotated[StrictStr, Field(min_length=1, max_length=20), AfterValidator(_not_blank)]
ImageUrl = Annotated[StrictStr, Field(min_length=8, max_length=500), AfterValidator(_http_url)]
EntityId = Annotated[StrictStr, Field(pattern=ID_PATTERN.pattern)]
Specs = Annotated[dict[SpecText, SpecText], Field(max_length=MAX_SPECS)]
Price = Annotated[StrictInt, Field(ge=1, le=MAX_PRICE)]
Stock = Annotated[StrictInt, Field(ge=0, le=MAX_STOCK)]
Reason = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class NewSku(Strict):
    specs: Specs
    price: Price
    stock: Stock
    image: Optional[ImageUrl] = None


class SkuEdit(Strict):
    """An SKU in an edit: with `sku_id` it changes that SKU; without, it adds one (then `stock` is required)."""
    sku_id: Optional[EntityId] = None
    specs: Specs
    price: Price
    stock: Optional[Stock] = None
    image: Optional[ImageUrl] = None


class NewCategory(Strict):
    name: Name
    parent_id: Optional[EntityId] = None
    sort: Annotated[StrictInt, Field(ge=0, le=10**6)] = 0


class CategoryEdit(Strict):
    name: Optional[Name] = None
    sort: Optional[Annotated[StrictInt, Field(ge=0, le=10**6)]] = None


class NewProduct(Strict):
    title: Title
    category_id: EntityId
    description: Annotated[StrictStr, Field(max_length=2000)] = ""
    images: Annotated[list[ImageUrl], Field(max_length=MAX_IMAGES)] = []
    skus: Annotated[list[NewSku], Field(min_length=1, max_length=MAX_SKUS)]
    on_sale: StrictBool = True


class ProductEdit(Strict):
    """Fields to change; `skus`, when given, is the full list of SKUs to sell (see service.update_product)."""
    title: Optional[Title] = None
    category_id: Optional[EntityId] = None
    description: Optional[Annotated[StrictStr, Field(max_length=2000)]] = None
    images: Optional[Annotated[list[ImageUrl], Field(max_length=MAX_IMAGES)]] = None
    skus: Optional[Annotated[list[SkuEdit], Field(min_length=1, max_length=MAX_SKUS)]] = None
    on_sale: Optional[StrictBool] = None


class StockSet(Strict):
    stock: Stock
    reason: Reason = "stock count"


class StockAdjust(Strict):
    delta: Annotated[StrictInt, Field(ge=-MAX_STOCK, le=MAX_STOCK), AfterValidator(_not_zero)]
    reason: Reason


class PageQuery(Strict):
    """Query strings arrive as text, so plain `int` (pydantic parses "20") is right here."""
    cursor: Optional[Annotated[str, Field(max_length=200)]] = None
    limit: Annotated[int, Field(ge=1, le=50)] = 20

    @model_validator(mode="before")
    @classmethod
    def _empty_means_not_given(cls, params: Any) -> Any:
        # Mini-programs send every parameter, the unused ones empty (`?category_id=&q=&cursor=&limit=`).
        if not isinstance(params, dict):
            return params
        return {name: value for name, value in params.items() if value != "" or name not in cls.model_fields}


class ProductQuery(PageQuery):
    category_id: Optional[Annotated[str, Field(max_length=64)]] = None
    q: Optional[Annotated[str, Field(max_length=50)]] = None


class AdminProductQuery(PageQuery):
    category_id: Optional[Annotated[str, Field(max_length=64)]] = None
    status: Optional[Annotated[str, Field(pattern="^(ON_SALE|OFF_SALE)$")]] = None

