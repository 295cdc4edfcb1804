"""Cart: each buyer's lines (SKU, quantity, selected), priced from the catalog when read.

Limits hold under concurrent requests because every write is conditional:
a new line is written in one transaction with the header's `line_count < max`,
and a merged quantity moves by a conditional ADD (`quantity <= max - n`).

Checkout uses `selected_lines` to read what the buyer chose and
`add_line_removals` to delete the bought lines inside its own transaction.
Nothing outside this package touches the carts table.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError

from chalicelib.cart.models import HEADER_KEY, CartHeader, CartLineRecord, CartRecord
from chalicelib.catalog import reads as catalog
from chalicelib.core import clock, config, db
from chalicelib.core.config import ConfigError
from chalicelib.core.errors import Conflict, NotFound, ServiceUnavailable
from chalicelib.core.ids import looks_like_id, new_id
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)
from chalicelib.core.views import View

DEFAULT_MAX_LINES = 100
# One BatchGetItem reads at most 100 keys; GET /cart promises one catalog call.
BATCH_GET_LIMIT = 100
MAX_QUANTITY = 99
# Rounds of insert-then-merge an add may take when other requests keep changing the same line.
ADD_ATTEMPTS = 5


def max_lines() -> int:
    """Distinct SKUs a cart may hold (`MALL_CART_MAX_LINES`, at most 100)."""
    limit = config.env_int("MALL_CART_MAX_LINES", DEFAULT_MAX_LINES)
    if not 1 <= limit <= BATCH_GET_LIMIT:
        raise ConfigError(f"MALL_CART_MAX_LINES must be 1-{BATCH_GET_LIMIT}, got {limit}")
    return limit


# --- what the buyer sees -------------------------------------------------------

class CartLineView(View):
    """A line priced now. `price` is None (and the line unavailable) when the SKU no longer exists."""
    sku_id: str
    product_id: str
    title: str | None
    specs: dict[str, str]
    image: str | None
    price: int | None
    added_price: int
    quantity: int
    selected: bool
    stock: int
    on_sale: bool
    available: bool
    unavailable_reason: str | None  # SKU_GONE, NOT_ON_SALE, OUT_OF_STOCK, INSUFFICIENT_STOCK
    added_at: str
    updated_at: str


class CartView(View):
    """The cart, newest line first; totals count only lines both selected and available."""
    lines: list[CartLineView]
    line_count: int
    selected_count: int
    selected_quantity: int
    items_total: int


@dataclass(frozen=True)
class CartLine:
    """A line as stored, for checkout: it prices and reserves stock itself."""
    sku_id: str
    product_id: str
    quantity: int
    selected: bool
    added_price: int


# --- reading -------------------------------------------------------------------

def get_cart(user_id: str) -> CartView:
    """Two DynamoDB calls whatever the size: one Query of the partition, one catalog BatchGetItem."""
    lines = _stored_lines(user_id)
    cards = catalog.sku_cards([line.sku_id for line in lines]) if lines else {}
    views = [_line_view(line, cards.get(line.sku_id)) for line in _newest_first(lines)]
    chosen = [view for view in views if view.selected and view.available]
    return CartView(lines=views, line_count=len(views), selected_count=len(chosen),
                    selected_quantity=sum(view.quantity for view in chosen),
                    items_total=sum(view.price * view.quantity for view in chosen))


def selected_lines(user_id: str) -> list[CartLine]:
    """The buyer's selected lines, available or not: checkout decides what it can sell."""
    return [_cart_line(line) for line in _newest_first(_stored_lines(user_id)) if line.selected]


def _stored_lines(user_id: str) -> list[CartLineRecord]:
    # Consistent: a buyer who just added a line must see it. The header comes back in
    # the same Query (one partition) and is skipped; a 100-line cart fits in one page.
    records = CartRecord.query(user_id, consistent_read=True)
    return [record for record in records if isinstance(record, CartLineRecord)]


def _newest_first(lines: list[CartLineRecord]) -> list[CartLineRecord]:
    return sorted(lines, key=lambda line: (line.added_at, line.sku_id), reverse=True)


def _cart_line(line: CartLineRecord) -> CartLine:
    return CartLine(sku_id=line.sku_id, product_id=line.product_id, quantity=int(line.quantity),
                    selected=line.selected, added_price=int(line.added_price))


def _line_view(line: CartLineRecord, card: catalog.SkuCard | None) -> CartLineView:
    quantity = int(line.quantity)
    reason = _unavailable_reason(card, quantity)
    return CartLineView(
        sku_id=line.sku_id, product_id=line.product_id,
        title=card.title if card else None, specs=dict(card.specs) if card else {},
        image=card.image if card else None, price=card.price if card else None,
        added_price=int(line.added_price), quantity=quantity, selected=line.selected,
        stock=card.stock if card else 0, on_sale=card.on_sale if card else False,
        available=reason is None, unavailable_reason=reason,
        added_at=clock.iso(line.added_at), updated_at=clock.iso(line.updated_at))


def _unavailable_reason(card: catalog.SkuCard | None, quantity: int) -> str | None:
    if card is None:
        return "SKU_GONE"
    if not card.on_sale:
        return "NOT_ON_SALE"
    if card.stock <= 0:
        return "OUT_OF_STOCK"
    if card.stock < quantity:
        return "INSUFFICIENT_STOCK"
    return None


# --- adding ----------------------------------------------------------------------

def add_item(user_id: str, sku_id: str, quantity: int) -> CartLineView:
    """Add `quantity` of an on-sale SKU; an existing line grows (total at most 99), selected again."""
    card = _sellable_card(sku_id)
    token = new_id()  # one per request: its resends and its own retries below all carry it

    def attempt() -> CartLineView | None:
        line = _insert_line(user_id, card, quantity, token) or _merge_quantity(user_id, sku_id, quantity, token)
        if line is not None:
            return _line_view(line, card)
        # Neither write applied: the line exists but is too full, or it changed under us.
        _refuse_if_over_limit(user_id, sku_id, quantity)
        return None

    return db.until_committed(attempt, attempts=ADD_ATTEMPTS,
                              gives_up=lambda: ServiceUnavailable("the cart is busy, retry shortly", code="BUSY"))


def _sellable_card(sku_id: str) -> catalog.SkuCard:
    card = catalog.sku_cards([sku_id]).get(sku_id)
    if card is None:
        raise NotFound(f"no SKU {sku_id}", code="SKU_NOT_FOUND")
    if not card.on_sale:
        raise Conflict(f"SKU {sku_id} is not on sale", code="SKU_NOT_ON_SALE")
    return card


def _insert_line(user_id: str, card: catalog.SkuCard, quantity: int, token: str) -> CartLineRecord | None:
    """Write a new line and count it in the header, in one transaction; None if the line exists (unless this
    request wrote it: then that line)."""
    now = clock.now()
    line = CartLineRecord(user_id, card.sku_id, product_id=card.product_id, quantity=quantity,
                          selected=True, added_price=card.price, added_at=now, updated_at=now, request_token=token)
    limit = max_lines()

    def build(tx: Any) -> None:
        tx.save(line, condition=CartRecord.sku_id.does_not_exist())
        tx.update(CartHeader(user_id, HEADER_KEY),
                  actions=_count_lines(+1, now),
                  condition=CartHeader.line_count.does_not_exist() | (CartHeader.line_count < limit))

    try:
        db.run_transaction(build)
    except TransactWriteError as exc:
        line_exists, cart_full = _failed_conditions(exc, 2)
        if line_exists:
            return _written_by(user_id, card.sku_id, token)  # or merge: an existing line needs no free slot
        if cart_full:
            raise Conflict(f"a cart holds at most {limit} different items", code="CART_FULL") from None
        raise
    return line


def _merge_quantity(user_id: str, sku_id: str, quantity: int, token: str) -> CartLineRecord | None:
    """Grow an existing line, once per request; None if there is no line or the total would pass the limit."""
    line = CartLineRecord(user_id, sku_id)
    try:
        line.update(actions=[CartLineRecord.quantity.add(quantity), CartLineRecord.selected.set(True),
                             CartLineRecord.updated_at.set(clock.now()), CartLineRecord.request_token.set(token)],
                    condition=CartLineRecord.quantity.exists()
                    & (CartLineRecord.quantity <= MAX_QUANTITY - quantity)
                    & (CartLineRecord.request_token.does_not_exist() | (CartLineRecord.request_token != token)))
    except UpdateError as exc:
        if db.condition_failed(exc):
            return _written_by(user_id, sku_id, token)
        raise
    return line


def _written_by(user_id: str, sku_id: str, token: str) -> CartLineRecord | None:
    """The line if request `token` was the last to write it (its commit's reply was lost), else None."""
    current = _find_line(user_id, sku_id)
    return current if current is not None and current.request_token == token else None


def _refuse_if_over_limit(user_id: str, sku_id: str, quantity: int) -> None:
    current = _find_line(user_id, sku_id)
    if current is not None and int(current.quantity) + quantity > MAX_QUANTITY:
        raise Conflict(f"at most {MAX_QUANTITY} of one item; the cart holds {int(current.quantity)}",
                       code="QUANTITY_LIMIT",
                       details={"in_cart": int(current.quantity), "max_quantity": MAX_QUANTITY})


def _find_line(user_id: str, sku_id: str) -> CartLineRecord | None:
    return db.get_or_none(CartLineRecord, user_id, sku_id)


def _count_lines(delta: int, now: Any) -> list[Any]:
    # The header is upserted by this update, so it names its own kind.
    return [CartHeader.line_count.add(delta), CartHeader.updated_at.set(now), CartHeader.kind.set(CartHeader)]


# --- changing and removing ---------------------------------------------------------

def update_item(user_id: str, sku_id: str, *, quantity: int | None = None,
                selected: bool | None = None) -> CartView:
    """Set a line's quantity and/or selection; returns the cart so totals can be redrawn."""
    actions = [CartLineRecord.updated_at.set(clock.now())]
    if quantity is not None:
        actions.append(CartLineRecord.quantity.set(quantity))
    if selected is not None:
        actions.append(CartLineRecord.selected.set(selected))
    try:
        CartLineRecord(user_id, _line_key(sku_id)).update(actions=actions,
                                                         condition=CartLineRecord.quantity.exists())
    except UpdateError as exc:
        if db.condition_failed(exc):
            raise _line_not_found(sku_id) from None
        raise
    return get_cart(user_id)


def remove_item(user_id: str, sku_id: str) -> CartView:
    """Delete a line and uncount it in one transaction; returns the cart."""
    key = _line_key(sku_id)
    existed = _find_line(user_id, key) is not None
    try:
        db.run_transaction(lambda tx: add_line_removals(tx, user_id, [key]))
    except TransactWriteError as exc:
        # A line that was there and is gone was deleted by this request (its reply lost, the SDK's resend
        # then failed) or by a concurrent one: either way what the buyer asked for is done.
        if any(_failed_conditions(exc, 2)) and not existed:
            raise _line_not_found(sku_id) from None
        if not any(_failed_conditions(exc, 2)):
            raise
    return get_cart(user_id)


def add_line_removals(tx: Any, user_id: str, sku_ids: Iterable[str] | Mapping[str, int]) -> None:
    """Add to PynamoDB TransactWrite `tx` the deletes of these lines and one header decrement.

    For checkout: call it inside `db.run_transaction(build)` with the SKUs bought, as a
    mapping SKU -> the quantity it priced. Each delete is conditioned on the line holding
    exactly that quantity (or, given bare SKU ids, on existing), so `line_count` stays exact
    and units the buyer added meanwhile are never deleted unbought: the whole transaction is
    then cancelled with ConditionalCheckFailed on that Delete, and the caller re-reads and
    retries. Adds len(set(sku_ids)) Delete items plus one Update (nothing for no SKUs).
    """
    priced = dict(sku_ids) if isinstance(sku_ids, Mapping) else dict.fromkeys(sku_ids)
    unique = sorted(priced)
    if not unique:
        return
    for sku_id in unique:
        quantity = priced[sku_id]
        condition = CartLineRecord.quantity.exists() if quantity is None else CartLineRecord.quantity == quantity
        tx.delete(CartLineRecord(user_id, sku_id), condition=condition)
    tx.update(CartHeader(user_id, HEADER_KEY), actions=_count_lines(-len(unique), clock.now()),
              condition=CartHeader.line_count >= len(unique))


def _line_key(sku_id: str) -> str:
    # A path segment that cannot be a SKU id (such as the header's "#CART") names no line.
    if not looks_like_id(sku_id):
        raise _line_not_found(sku_id)
    return sku_id


def _line_not_found(sku_id: str) -> NotFound:
    return NotFound(f"no line for SKU {sku_id} in the cart", code="CART_LINE_NOT_FOUND")


# --- DynamoDB condition outcomes -------------------------------------------------------

def _failed_conditions(exc: TransactWriteError, item_count: int) -> list[bool]:
    """Which of a transaction's items failed their condition (PynamoDB orders deletes, puts, updates)."""
    codes = db.cancellation_codes(exc)
    codes += [None] * (item_count - len(codes))
    return [code == db.CONDITION_FAILED for code in codes[:item_count]]

