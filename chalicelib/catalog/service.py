"""The catalog's rules: categories, products with their SKUs, the SKU cards other features price from.

Every product change writes the product item and the SKU cards on the SKUs'
inventory items in one transaction, so a cart priced from the cards alone
never sees a price or title the product page does not show.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import TransactWriteError

from chalicelib.catalog.inputs import (
    MAX_SKUS,
    CategoryEdit,
    NewCategory,
    NewProduct,
    ProductEdit,
    SkuEdit,
)
from chalicelib.catalog.models import (
    MAIN_SHARD,
    OFF_SALE,
    ON_SALE,
    CategoryModel,
    InventoryModel,
    ProductModel,
    SkuEntry,
)
from chalicelib.catalog.reads import SkuCard as SkuCard  # re-exported: other features price from cards
from chalicelib.catalog.reads import load_product, specs_of, stock_rows
from chalicelib.catalog.reads import sku_cards as sku_cards
from chalicelib.catalog.views import (
    AdminProduct,
    AdminSku,
    CategoryNode,
    CategoryView,
    StockLevels,
)
from chalicelib.core import clock
from chalicelib.core.db import (
    CONDITION_FAILED,
    cancellation_codes,
    commit_if_conditions_hold,
    get_or_none,
    run_transaction,
    until_committed,
)
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.core.http import validate
from chalicelib.core.ids import new_id, require_id

CATEGORY_GROUP = "ALL"
NAME_CLAIM_GROUP = "NAME"
MAX_CATEGORY_DEPTH = 3
EDIT_ATTEMPTS = 3


# --- SKU cards: what carts and orders read (see reads.py) ------------------------------

def _card_fields(product: ProductModel, sku: SkuEntry) -> dict[str, Any]:
    """The denormalized copy of a SKU kept on its inventory item; the SKU's image falls back to the product's."""
    return {
        "product_id": product.product_id, "title": product.title, "specs": specs_of(sku.specs),
        "price": int(sku.price), "image": sku.image or (product.images[0] if product.images else None),
        "on_sale": product.status == ON_SALE and bool(sku.active),
    }


# --- categories -------------------------------------------------------------

def create_category(name: str, parent_id: str | None = None, sort: int = 0) -> CategoryView:
    return add_category(validate(NewCategory, {"name": name, "parent_id": parent_id, "sort": sort}))


def add_category(spec: NewCategory, *, category_id: str | None = None) -> CategoryView:
    """Create it under `category_id` (an Idempotency-Key's claim) or a new id. A write whose reply was lost and
    that the SDK sent again finds its own commit (the category under its id, with its request token)."""
    if spec.parent_id is not None:
        _check_depth(spec.parent_id)
    now = clock.now()
    token = new_id()
    category = CategoryModel(CATEGORY_GROUP, category_id or new_id(), name=spec.name, parent_id=spec.parent_id,
                             sort=spec.sort, created_at=now, updated_at=now, request_token=token)

    def write(tx) -> None:
        tx.save(category, condition=CategoryModel.category_id.does_not_exist())
        tx.save(_name_claim(spec.parent_id, spec.name, category.category_id),
                condition=CategoryModel.category_id.does_not_exist())

    try:
        run_transaction(write)
    except TransactWriteError as exc:
        if CONDITION_FAILED not in cancellation_codes(exc):
            raise
        stored = get_or_none(CategoryModel, CATEGORY_GROUP, category.category_id)
        if stored is not None and (stored.request_token == token or category_id is not None):
            return _category_view(stored)  # committed by this request (a resend) or by this key's earlier one
        raise _name_taken(spec.name) from None
    return _category_view(category)


def update_category(category_id: str, edit: CategoryEdit) -> CategoryView:
    category = get_category(category_id)
    if edit.name is None and edit.sort is None:
        raise BadRequest("nothing to change", code="EMPTY_EDIT")
    new_name = edit.name if edit.name is not None else category.name
    token = new_id()
    actions = [CategoryModel.name.set(new_name), CategoryModel.updated_at.set(clock.now()),
               CategoryModel.last_change.set(token)]
    if edit.sort is not None:
        actions.append(CategoryModel.sort.set(edit.sort))

    def write(tx) -> None:
        # Conditional on the name read: two renames racing would otherwise both commit,
        # leaving a claim on a name the category no longer has, blocking it for good.
        tx.update(category, actions=actions, condition=CategoryModel.name == category.name)
        if new_name != category.name:  # move the sibling-name claim with the name
            tx.delete(_name_claim(category.parent_id, category.name, category_id))
            tx.save(_name_claim(category.parent_id, new_name, category_id),
                    condition=CategoryModel.category_id.does_not_exist())

    try:
        run_transaction(write)
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)
        stored = get_category(category_id) if CONDITION_FAILED in codes else None
        if stored is not None and stored.last_change == token:
            return _category_view(stored)  # this very edit committed: its reply was lost, the SDK's resend failed
        if codes[-1:] == [CONDITION_FAILED]:  # PynamoDB sends updates last: the category's own condition
            raise Conflict("the category changed while being edited, retry", code="CONCURRENT_EDIT") from None
        if CONDITION_FAILED in codes:
            raise _name_taken(new_name) from None
        raise
    return _category_view(get_category(category_id))


def _name_taken(name: str) -> Conflict:
    return Conflict(f"a category named {name!r} already exists here", code="CATEGORY_EXISTS")


def _name_claim(parent_id: str | None, name: str, owner_id: str) -> CategoryModel:
    return CategoryModel(NAME_CLAIM_GROUP, f"{parent_id or '-'}/{name}", owner_id=owner_id)


def get_category(category_id: str) -> CategoryModel:
    require_id(category_id, "CATEGORY")
    category = get_or_none(CategoryModel, CATEGORY_GROUP, category_id)
    if category is None:
        raise NotFound("category not found", code="CATEGORY_NOT_FOUND")
    return category


def find_category(name: str, parent_id: str | None = None) -> str | None:
    """The id of the category called `name` under `parent_id`, if there is one."""
    claim = get_or_none(CategoryModel, NAME_CLAIM_GROUP, f"{parent_id or '-'}/{name}")
    return claim.owner_id if claim is not None else None


def _check_depth(parent_id: str) -> None:
    depth, current = 1, get_category(parent_id)
    while current.parent_id:
        depth, current = depth + 1, get_category(current.parent_id)
    if depth >= MAX_CATEGORY_DEPTH:
        raise BadRequest(f"categories nest at most {MAX_CATEGORY_DEPTH} levels deep", code="CATEGORY_TOO_DEEP")


def category_tree() -> list[CategoryNode]:
    """Every category as a tree, siblings by (sort, name); one Query of the categories partition."""
    nodes = {row.category_id: CategoryNode(**_category_view(row).model_dump())
             for row in CategoryModel.query(CATEGORY_GROUP)}
    roots: list[CategoryNode] = []
    for node in sorted(nodes.values(), key=lambda n: (n.sort, n.name)):
        parent = nodes.get(node.parent_id) if node.parent_id else None
        (parent.children if parent else roots).append(node)
    return roots


def _category_view(row: CategoryModel) -> CategoryView:
    return CategoryView(category_id=row.category_id, name=row.name, parent_id=row.parent_id, sort=int(row.sort))


# --- products: create --------------------------------------------------------

def create_product(title: str, category_id: str, skus: list[dict], *, description: str = "",
                   images: Iterable[str] = (), on_sale: bool = True, actor: str = "system") -> AdminProduct:
    spec = validate(NewProduct, {"title": title, "category_id": category_id, "skus": list(skus),
                                 "description": description, "images": list(images), "on_sale": on_sale})
    return add_product(spec, actor)


def add_product(spec: NewProduct, actor: str, *, product_id: str | None = None) -> AdminProduct:
    """Create it under `product_id` (an Idempotency-Key's claim) or a new id. A write whose reply was lost and
    that the SDK sent again finds its own commit (the product under its id, with its request token)."""
    get_category(spec.category_id)  # categories are never deleted, so a read is check enough
    now = clock.now()
    token = new_id()
    entries = [SkuEntry(sku_id=new_id(), specs=sku.specs, price=sku.price, image=sku.image, active=True)
               for sku in spec.skus]
    _check_sku_rules(entries)
    product = ProductModel(product_id or new_id(), title=spec.title, description=spec.description,
                           category_id=spec.category_id, images=list(spec.images), skus=entries, sales=0, version=1,
                           created_at=now, updated_at=now, updated_by=actor, request_token=token,
                           **_status_fields(spec.on_sale, spec.category_id))
    stocks = [InventoryModel(entry.sku_id, MAIN_SHARD, available=sku.stock, reserved=0, sold=0, updated_at=now,
                             **_card_fields(product, entry)) for entry, sku in zip(entries, spec.skus, strict=False)]

    def write(tx) -> None:
        tx.save(product, condition=ProductModel.product_id.does_not_exist())
        for row in stocks:
            tx.save(row, condition=InventoryModel.sku_id.does_not_exist())

    try:
        run_transaction(write)
    except TransactWriteError as exc:
        # Every id is new: a failed condition means this product was committed already, by this very request
        # (the SDK resent it after a lost reply) or by an earlier request under the same Idempotency-Key.
        if CONDITION_FAILED not in cancellation_codes(exc):
            raise
        stored = get_or_none(ProductModel, product.product_id)
        if stored is None or (stored.request_token != token and product_id is None):
            raise
        return admin_product(stored.product_id)
    return _admin_view(product, {row.sku_id: row for row in stocks})


def _status_fields(on_sale: bool, category_id: str) -> dict[str, Any]:
    """Status plus the sparse index key that puts an on-sale product into its category's listing."""
    return {"status": ON_SALE if on_sale else OFF_SALE, "sale_category_id": category_id if on_sale else None}


def _check_sku_rules(entries: list[SkuEntry]) -> None:
    active = [entry for entry in entries if entry.active]
    if not active:
        raise BadRequest("a product needs at least one SKU on sale", code="NO_ACTIVE_SKU")
    if len(entries) > MAX_SKUS:
        raise BadRequest(f"a product has at most {MAX_SKUS} SKUs, withdrawn ones included", code="TOO_MANY_SKUS")
    combos = [tuple(sorted(specs_of(entry.specs).items())) for entry in active]
    if len(set(combos)) != len(combos):
        raise BadRequest("two SKUs have the same specs", code="DUPLICATE_SPECS")
    # The buyer's picker shows one selector per spec name, so every SKU must name the same specs.
    if len({tuple(name for name, _ in combo) for combo in combos}) > 1:
        raise BadRequest("every SKU must have the same spec names", code="SPEC_NAMES_DIFFER")


# --- products: edit ------------------------------------------------------------

def update_product(product_id: str, edit: ProductEdit, actor: str) -> AdminProduct:
    """Apply `edit`, retrying from a fresh read if another edit lands first (409 if that keeps happening).

    `edit.skus`, when given, is the full list of SKUs to sell: entries with a `sku_id`
    change that SKU, entries without one add a SKU, and SKUs left out are withdrawn
    (hidden from buyers, kept with their stock and sales for orders and history;
    listing them again brings them back). SKUs are never deleted.
    """
    if not edit.model_fields_set:
        raise BadRequest("nothing to change", code="EMPTY_EDIT")
    return until_committed(lambda: _apply_edit(load_product(product_id), edit, actor), attempts=EDIT_ATTEMPTS,
                           gives_up=lambda: Conflict("the product changed while being edited, retry",
                                                     code="CONCURRENT_EDIT"))


def take_off_sale(product_id: str, actor: str) -> AdminProduct:
    product = load_product(product_id)
    if product.status == OFF_SALE:
        return _admin_view(product, stock_rows(product.skus))
    return update_product(product_id, ProductEdit(on_sale=False), actor)


def _apply_edit(current: ProductModel, edit: ProductEdit, actor: str) -> AdminProduct | None:
    """Commit `edit` on the product as read; None when another edit committed first (its version moved).

    The product carries the committing edit's token: an edit whose reply was lost (the SDK's resend then
    fails the version condition) finds its own commit rather than applying again (a second new SKU)."""
    if edit.category_id is not None and edit.category_id != current.category_id:
        get_category(edit.category_id)
    on_sale = edit.on_sale if edit.on_sale is not None else current.status == ON_SALE
    category_id = edit.category_id or current.category_id
    skus, new_stock = _edited_skus(current.skus, edit.skus) if edit.skus is not None else (current.skus, {})
    _check_sku_rules(skus)
    now = clock.now()
    edited = ProductModel(current.product_id, title=edit.title or current.title, category_id=category_id,
                          description=current.description if edit.description is None else edit.description,
                          images=current.images if edit.images is None else list(edit.images), skus=skus,
                          sales=current.sales, version=current.version + 1, created_at=current.created_at,
                          updated_at=now, updated_by=actor, last_change=new_id(),
                          **_status_fields(on_sale, category_id))
    before = {entry.sku_id: _card_fields(current, entry) for entry in current.skus}

    def write(tx) -> None:
        tx.update(edited, actions=_product_actions(edited), condition=ProductModel.version == current.version)
        for entry in skus:
            card = _card_fields(edited, entry)
            if entry.sku_id in new_stock:
                tx.save(InventoryModel(entry.sku_id, MAIN_SHARD, available=new_stock[entry.sku_id], reserved=0,
                                       sold=0, updated_at=now, **card),
                        condition=InventoryModel.sku_id.does_not_exist())
            elif card != before.get(entry.sku_id):
                tx.update(InventoryModel(entry.sku_id, MAIN_SHARD), actions=_card_actions(card, now),
                          condition=InventoryModel.sku_id.exists())

    if not commit_if_conditions_hold(write, committed_already=lambda: _edited_by(current.product_id,
                                                                                 edited.last_change)):
        return None
    return _admin_view(edited, stock_rows(skus))


def _edited_by(product_id: str, token: str) -> bool:
    stored = get_or_none(ProductModel, product_id)
    return stored is not None and stored.last_change == token


def _edited_skus(current: list[SkuEntry], wanted: list[SkuEdit]) -> tuple[list[SkuEntry], dict[str, int]]:
    """The product's SKU list after an edit, and the opening stock of the SKUs it adds."""
    existing = {entry.sku_id: entry for entry in current}
    named = [sku.sku_id for sku in wanted if sku.sku_id]
    if len(set(named)) != len(named):
        raise BadRequest("a sku_id appears twice", code="DUPLICATE_SKU")
    result, new_stock = [], {}
    for sku in wanted:
        if sku.sku_id is None:
            if sku.stock is None:
                raise BadRequest("a new SKU needs its opening stock", code="STOCK_REQUIRED")
            entry = SkuEntry(sku_id=new_id(), specs=sku.specs, price=sku.price, image=sku.image, active=True)
            new_stock[entry.sku_id] = sku.stock
        elif sku.sku_id not in existing:
            raise NotFound(f"SKU {sku.sku_id} is not part of this product", code="SKU_NOT_FOUND")
        elif sku.stock is not None:
            raise BadRequest("change an existing SKU's stock through its stock routes (audited)",
                             code="STOCK_NOT_EDITABLE")
        else:
            entry = SkuEntry(sku_id=sku.sku_id, specs=sku.specs, price=sku.price, image=sku.image, active=True)
        result.append(entry)
    withdrawn = [SkuEntry(sku_id=e.sku_id, specs=specs_of(e.specs), price=e.price, image=e.image, active=False)
                 for e in current if e.sku_id not in set(named)]
    return result + withdrawn, new_stock


def _product_actions(edited: ProductModel) -> list:
    """Set what an edit may change; `sales` is left alone because checkout counts it concurrently."""
    actions = [ProductModel.title.set(edited.title), ProductModel.description.set(edited.description),
               ProductModel.category_id.set(edited.category_id), ProductModel.images.set(edited.images),
               ProductModel.skus.set(edited.skus), ProductModel.status.set(edited.status),
               ProductModel.version.set(edited.version), ProductModel.updated_at.set(edited.updated_at),
               ProductModel.updated_by.set(edited.updated_by), ProductModel.last_change.set(edited.last_change)]
    if edited.sale_category_id:
        actions.append(ProductModel.sale_category_id.set(edited.sale_category_id))
    else:
        actions.append(ProductModel.sale_category_id.remove())
    return actions


def _card_actions(card: dict[str, Any], now) -> list:
    actions = [getattr(InventoryModel, name).set(value) for name, value in card.items() if value is not None]
    if card["image"] is None:
        actions.append(InventoryModel.image.remove())
    return actions + [InventoryModel.updated_at.set(now)]


# --- products: read ------------------------------------------------------------

def admin_product(product_id: str) -> AdminProduct:
    product = load_product(product_id)
    return _admin_view(product, stock_rows(product.skus))


def admin_products(products: list[ProductModel]) -> list[AdminProduct]:
    """Admin views of a page of products, their stock fetched together."""
    stocks = stock_rows(entry for product in products for entry in product.skus)
    return [_admin_view(product, stocks) for product in products]


def _admin_view(product: ProductModel, stocks: dict[str, InventoryModel]) -> AdminProduct:
    return AdminProduct(
        product_id=product.product_id, title=product.title, description=product.description,
        category_id=product.category_id, images=list(product.images), on_sale=product.status == ON_SALE,
        status=product.status, sales=int(product.sales), version=int(product.version),
        created_at=clock.iso(product.created_at), updated_at=clock.iso(product.updated_at),
        skus=[AdminSku(sku_id=e.sku_id, specs=specs_of(e.specs), price=int(e.price), image=e.image,
                       active=bool(e.active), stock=_levels(stocks.get(e.sku_id))) for e in product.skus])


def _levels(row: InventoryModel | None) -> StockLevels:
    if row is None:
        return StockLevels(available=0, reserved=0, sold=0)
    return StockLevels(available=int(row.available), reserved=int(row.reserved), sold=int(row.sold))
