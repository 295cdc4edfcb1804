"""A buyer's rights over their personal data (PIPL): export it all, or delete the account.

Export (`GET /me/export`) gathers what the mall holds about the buyer through each owning
feature's functions: members (profile, addresses, points), checkout (orders), marketing
(coupons), notify (subscription credits). WeChat's `session_key` is left out: it is a credential between the mall and
WeChat, not information about the buyer.

Delete (`DELETE /me`) is refused (409 `ACCOUNT_HAS_OPEN_ORDERS`, naming them) while an order
may still move money or goods (checkout/privacy.py: unpaid and payable, paid and not yet
delivered, a refund asked for, under way or failed, or a returned payment not yet refunded).
Otherwise, in this order, each step idempotent so a DELETE that failed half-way is simply sent
again: the address book is closed and its addresses deleted (one transaction), the orders'
address snapshots and notes are replaced by the redaction marker, then the profile is
anonymised and the openid claim removed in one transaction, so the next login with that
WeChat account makes a new user. Orders, payments, refunds, coupons and the points ledger
stay, under the now anonymous user_id: the merchant's books still add up.
"""
from __future__ import annotations

import logging

from chalicelib.checkout.views import OrderView
from chalicelib.core import clock, db, ids
from chalicelib.core.errors import Conflict, ServiceUnavailable
from chalicelib.core.views import View, jsonable
from chalicelib.marketing.views import CouponView
from chalicelib.members import points
from chalicelib.members.models import AddressBookModel, AddressModel, OpenidClaim, UserModel
from chalicelib.members.points import PointsEntry
from chalicelib.members.service import Address, User, get_user, list_addresses
from chalicelib.notify.inputs import Subscription

FORMAT = "micromall.personal-data/1"
ANONYMOUS_NICKNAME = "已注销用户"
EXPORT_PAGE = 50
TRANSACTION_ADDRESSES = 99  # with the book, DynamoDB's 100 actions
log = logging.getLogger("micromall.members")


class Profile(User):
    unionid: str | None
    last_login_at: str


class PointsHistory(View):
    balance: int
    frozen: int
    entries: list[PointsEntry]


class PersonalData(View):
    """Everything the mall holds about one buyer, in the shapes its own routes answer."""
    # (the very views those routes answer with, so the export cannot describe a buyer's data otherwise)
    format: str  # "micromall.personal-data/1"
    exported_at: str
    profile: Profile
    addresses: list[Address]
    orders: list[OrderView]
    coupons: list[CouponView]
    points: PointsHistory
    subscriptions: list[Subscription]  # WeChat subscribe-message credits per template


def export_data(user_id: str) -> PersonalData:
    from chalicelib.checkout import privacy as orders
    from chalicelib.marketing import service as marketing
    from chalicelib.notify import service as notify

    user = get_user(user_id)  # 404 for a deleted account
    record = db.get_or_none(UserModel, user_id)
    profile = Profile(**jsonable(user), unionid=record.unionid, last_login_at=clock.iso(record.last_login_at))
    return PersonalData(format=FORMAT, exported_at=clock.iso(clock.now()), profile=profile,
                        addresses=list_addresses(user_id), orders=orders.all_orders(user_id),
                        coupons=_every_page(lambda cursor: marketing.my_coupons(user_id, None, cursor, EXPORT_PAGE)),
                        points=_points_history(user_id), subscriptions=notify.subscriptions_of(user_id))


def _every_page(read_page) -> list:
    items, cursor = [], None
    while True:
        page = read_page(cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items


def _points_history(user_id: str) -> PointsHistory:
    first = points.ledger_page(user_id, None, EXPORT_PAGE)
    entries, cursor = list(first.items), first.next_cursor
    while cursor:
        page = points.ledger_page(user_id, cursor, EXPORT_PAGE)
        entries += page.items
        cursor = page.next_cursor
    return PointsHistory(balance=first.balance, frozen=first.frozen, entries=entries)


def delete_account(user_id: str) -> None:
    """Erase the buyer's account as the module docstring says; a deleted account's DELETE is done already."""
    from chalicelib.checkout import privacy as orders

    user = db.get_or_none(UserModel, user_id)
    if user is None or user.deleted_at is not None:
        return
    _refuse_open_orders(orders.orders_blocking_erasure(user_id))
    _close_address_book(user_id)
    # an order submitted with an address read just before the book closed may have slipped in
    _refuse_open_orders(orders.orders_blocking_erasure(user_id), book_closed=True)
    redacted = orders.redact_orders(user_id)
    _anonymise_profile(user)
    log.info("account deleted: %d orders redacted", redacted)


def _refuse_open_orders(blocking: list[dict[str, str]], *, book_closed: bool = False) -> None:
    if not blocking:
        return
    message = ("the account has orders still in progress: delete it once they are completed, cancelled "
               "or refunded")
    if book_closed:
        message += " (its address book is already closed)"
    raise Conflict(message, code="ACCOUNT_HAS_OPEN_ORDERS", details={"orders": blocking})


def _close_address_book(user_id: str) -> None:
    """Mark the book closed and delete its addresses, conditioned on the book's version (a concurrent change
    makes this read and try again). Once closed no address is added (every change is conditioned on the book),
    so addresses past what one transaction holds are deleted after it."""
    def attempt() -> list[AddressModel] | None:
        book = db.get_or_none(AddressBookModel, user_id)
        read_version = book.version if book is not None else 0
        addresses = list(AddressModel.query(user_id, consistent_read=True))
        closed = AddressBookModel(user_id, address_count=0, default_address_id=None, version=read_version + 1,
                                  last_change=ids.new_id(), closed=True)
        condition = (AddressBookModel.user_id.does_not_exist() if book is None
                     else AddressBookModel.version == read_version)

        def write(tx) -> None:
            for address in addresses[:TRANSACTION_ADDRESSES]:
                tx.delete(AddressModel(user_id, address.address_id))
            tx.save(closed, condition=condition)

        committed = db.commit_if_conditions_hold(
            write, committed_already=lambda: _book_token(user_id) == closed.last_change)
        return addresses[TRANSACTION_ADDRESSES:] if committed else None

    left = db.until_committed(attempt, gives_up=lambda: ServiceUnavailable(
        "the address book is busy, retry shortly", code="BUSY"))
    for start in range(0, len(left), TRANSACTION_ADDRESSES):
        chunk = left[start:start + TRANSACTION_ADDRESSES]
        db.run_transaction(lambda tx, chunk=chunk: [tx.delete(AddressModel(user_id, a.address_id)) for a in chunk])


def _book_token(user_id: str) -> str | None:
    book = db.get_or_none(AddressBookModel, user_id)
    return book.last_change if book is not None else None


def _anonymise_profile(user: UserModel) -> None:
    """Release the openid and every other identity claim (a new login makes a new user) and blank what identified
    the buyer, together."""
    claims = sorted({user.openid} - {""} | set(user.linked_claims or ()))  # a web-only buyer has no openid

    def write(tx) -> None:
        for key in claims:
            tx.delete(OpenidClaim(key),
                      condition=(OpenidClaim.user_id == user.user_id) | OpenidClaim.openid.does_not_exist())
        tx.update(UserModel(user.user_id), actions=[
            UserModel.openid.set(f"deleted:{user.user_id}"), UserModel.unionid.remove(),
            UserModel.linked_claims.remove(),
            UserModel.session_key.set(""), UserModel.nickname.set(ANONYMOUS_NICKNAME),
            UserModel.deleted_at.set(clock.now())], condition=UserModel.deleted_at.does_not_exist())

    if not db.commit_if_conditions_hold(write, committed_already=lambda: _is_deleted(user.user_id)):
        raise Conflict("the account changed while it was being deleted: send DELETE again", code="BUSY")


def _is_deleted(user_id: str) -> bool:
    user = db.get_or_none(UserModel, user_id)
    return user is not None and user.deleted_at is not None

