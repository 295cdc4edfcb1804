"""Members: buyers who log in with WeChat, their profile and their address book.

Other features use `get_user` and `get_address` (checkout snapshots an address
into the order); nothing outside this package touches these tables.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pynamodb.exceptions import TransactWriteError

from chalicelib.core import auth, clock, config, db, ids
from chalicelib.core.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable
from chalicelib.core.records import dataclass  # dataclasses' own, made without exec (cold starts)
from chalicelib.core.views import View
from chalicelib.members import levels, points
from chalicelib.members.models import (
    AddressBookModel,
    AddressModel,
    LevelTableModel,
    MemberAccountModel,
    OpenidClaim,
    UserModel,
)

if TYPE_CHECKING:
    from chalicelib.core.batch_reads import ReadBatch
    from chalicelib.members import wechat

# WeChat no longer hands out nicknames at login; this is the name it shows itself for such users.
DEFAULT_NICKNAME = "微信用户"
STARTING_LEVEL = 1
DEFAULT_ADDRESS_LIMIT = 20
BOOK_ATTEMPTS = 5
# --- users -------------------------------------------------------------------

class User(View):
    """What a buyer may see of their own record (never the session_key)."""
    user_id: str
    openid: str
    nickname: str
    level: int  # the member level the buyer's growth reaches now (levels follow growth both ways)
    level_name: str
    discount_percent: int  # the level's member discount: percent off every line
    growth: int  # yuan paid for completed orders, less refunded ones
    points: int  # spendable at checkout, 1 point = 1 fen
    frozen_points: int  # earned, released when the refund window of their order closes
    created_at: str


class LoginResult(View):
    token: str
    expires_in: int
    user: User


def login(code: str, wechat_client: wechat.WeChatClient | None = None) -> LoginResult:
    """Exchange a `wx.login()` code for a buyer token; the first login creates the user."""
    from chalicelib.members import wechat  # lazy: only a login talks to WeChat

    session = (wechat_client or wechat.client()).code2session(code)
    user_id = find_user_id_by_openid(session.openid)
    if user_id:
        user = _record_login(user_id, session)
    elif session.unionid:  # the buyer may have logged in on the web already: found by the unionid (identities.py)
        from chalicelib.members import identities
        from chalicelib.members.web_auth import unionid_claim

        user = identities.sign_in([session.openid, unionid_claim(session.unionid)], unionid=session.unionid,
                                  openid=session.openid, session_key=session.session_key)
    else:
        user = _create_user(session)
    return signed_in(user)


def signed_in(user: UserModel) -> LoginResult:
    """The token and profile a login answers (the mini-program's and the web's)."""
    return LoginResult(token=auth.issue_buyer_token(user.user_id),
                       expires_in=auth.BUYER_TOKEN_SECONDS,
                       user=_user_view(user, *db.get_items([points.account_key(user.user_id), levels.TABLE_KEY])))


def find_user_id_by_openid(openid: str) -> str | None:
    claim = db.get_or_none(OpenidClaim, openid)
    return claim.user_id if claim is not None else None


def openid_of(user_id: str) -> str | None:
    """The user's WeChat openid (what a subscribe message is addressed to); None for an unknown user, or one who
    has only logged in on the web (no mini-program openid)."""
    user = db.get_or_none(UserModel, user_id, consistent=False)
    return (user.openid or None) if user is not None else None


def get_user(user_id: str) -> User:
    """The buyer's profile: the user, their account and the level table in one BatchGetItem."""
    user, account, table = db.get_items([(UserModel, (user_id,), True), points.account_key(user_id), levels.TABLE_KEY])
    if user is None or user.deleted_at is not None:
        raise NotFound("no such user", code="USER_NOT_FOUND")
    return _user_view(user, account, table)


def payer_openid(user_id: str, *, required: bool = True, scene: str = "mini_program") -> str:
    """The buyer's openid where they pay from, what a WeChat Pay prepay names its payer by: their mini-program
    openid (`scene` "mini_program"), or their official account's (`scene` "wechat_browser": they logged in on the
    storefront inside WeChat's browser). One GetItem (`get_user` reads the account and the level table too); 404
    USER_NOT_FOUND for an unknown or deleted account, as `get_user`. 422 WECHAT_PAY_UNAVAILABLE when the buyer
    lacks that identity; `required` False (an Alipay prepay): "" instead."""
    user = _load_user(user_id)
    if scene == "wechat_browser":
        from chalicelib.members.official_account import CLAIM_PREFIX

        openid = next((claim[len(CLAIM_PREFIX):] for claim in sorted(user.linked_claims or ())
                       if claim.startswith(CLAIM_PREFIX)), "")
        missing = ("this buyer has not logged in with WeChat in WeChat's browser: WeChat Pay there needs their "
                   "official-account identity; log in with WeChat there, or pay with Alipay")
    else:
        openid = user.openid or ""
        missing = ("this buyer logged in on the web, not in the mini-program: WeChat Pay in the mini-program needs "
                   "their mini-program identity; pay with Alipay")
    if not openid and required:
        raise Unprocessable(missing, code="WECHAT_PAY_UNAVAILABLE")
    return openid


def _load_user(user_id: str) -> UserModel:
    user = db.get_or_none(UserModel, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound("no such user", code="USER_NOT_FOUND")
    return user


def _create_user(session: wechat.Session) -> UserModel:
    """Write the user and its openid claim together; if another first login won, use its user."""
    now = clock.now()
    user = UserModel(ids.new_id(), openid=session.openid, unionid=session.unionid,
                     session_key=session.session_key, nickname=DEFAULT_NICKNAME, level=STARTING_LEVEL,
                     growth=0, points=0, created_at=now, last_login_at=now)
    claim = OpenidClaim(session.openid, user_id=user.user_id)

    def write(tx) -> None:
        tx.save(claim, condition=OpenidClaim.openid.does_not_exist())
        tx.save(user, condition=UserModel.user_id.does_not_exist())

    try:
        db.run_transaction(write)
    except TransactWriteError as exc:
        if not db.condition_failed(exc):
            raise
        winner = find_user_id_by_openid(session.openid)
        if winner is None:  # the claim was there a moment ago; claims are never deleted
            raise
        if winner == user.user_id:
            return user  # this very create committed: its reply was lost and the SDK's resend found the claim
        return _record_login(winner, session)
    return user


def _record_login(user_id: str, session: wechat.Session) -> UserModel:
    """Keep the newest session_key (WeChat issues one per login) and when the buyer last came."""
    user = _load_user(user_id)
    actions = [UserModel.session_key.set(session.session_key), UserModel.last_login_at.set(clock.now())]
    if session.unionid and session.unionid != user.unionid:
        actions.append(UserModel.unionid.set(session.unionid))
    user.update(actions=actions, condition=UserModel.user_id.exists())
    if session.unionid:  # so that the buyer's web login in WeChat finds them (members/identities.py)
        from chalicelib.members import identities

        identities.claim_unionid(user, session.unionid)
    return user


def _user_view(user: UserModel, account: MemberAccountModel | None, table: LevelTableModel | None) -> User:
    account = points.account_or_empty(user.user_id, account)
    level = levels.level_for(int(account.growth or 0), levels.levels_in(table)[0])
    return User(user_id=user.user_id, openid=user.openid, nickname=user.nickname, level=level.level,
                level_name=level.name, discount_percent=level.discount_percent, growth=int(account.growth or 0),
                points=int(account.points or 0), frozen_points=int(account.frozen or 0),
                created_at=clock.iso(user.created_at))


# --- address book --------------------------------------------------------------

@dataclass(frozen=True)
class AddressFields:
    name: str
    phone: str
    province: str
    city: str
    district: str
    detail: str


class Address(View):
    address_id: str
    name: str
    phone: str
    province: str
    city: str
    district: str
    detail: str
    is_default: bool
    created_at: str
    updated_at: str


AddressList = list[Address]  # `GET /me/addresses`


def address_limit() -> int:
    return config.env_int("MALL_ADDRESS_LIMIT", DEFAULT_ADDRESS_LIMIT)


def list_addresses(user_id: str) -> list[Address]:
    """The buyer's addresses, the default first, then the newest first."""
    items = list(AddressModel.query(user_id, consistent_read=True, scan_index_forward=False))
    items.sort(key=lambda item: not item.is_default)  # stable: keeps newest-first among the rest
    return [_address_view(item) for item in items]


def get_address(user_id: str, address_id: str) -> Address:
    """One of the buyer's own addresses; another buyer's address id is simply not found."""
    return _address_view(_load_address(user_id, address_id))


def ask_address(batch: ReadBatch, user_id: str, address_id: str) -> Callable[[], Address]:
    """`get_address`, its item read (consistently, as there) in `batch` with other features' reads:
    the callable answers once the batch has run, with the same 404 ADDRESS_NOT_FOUND."""
    if not ids.looks_like_id(address_id):
        return lambda: _address_view(_load_address(user_id, address_id))  # 404 without a read, as there
    item = batch.ask(AddressModel, (user_id, address_id), consistent=True)
    return lambda: _address_view(_found_address(item()))


def add_address(user_id: str, fields: AddressFields, make_default: bool = False) -> Address:
    """Add an address; the first one, or one asked to be, becomes the default."""
    def plan(book: AddressBookModel) -> _Plan:
        if book.address_count >= address_limit():
            raise Conflict(f"an address book holds at most {address_limit()} addresses", code="ADDRESS_LIMIT")
        now = clock.now()
        becomes_default = make_default or book.default_address_id is None
        address = AddressModel(user_id, ids.new_id(), **vars(fields), is_default=becomes_default,
                               created_at=now, updated_at=now)
        writes = [lambda tx: tx.save(address, condition=AddressModel.address_id.does_not_exist())]
        if becomes_default:
            writes += _clear_default(user_id, book.default_address_id)
            book.default_address_id = address.address_id
        book.address_count += 1
        return _Plan(writes, address)

    return _address_view(_change_book(user_id, plan))


def update_address(user_id: str, address_id: str, fields: AddressFields,
                   make_default: bool | None = None) -> Address:
    """Replace an address's fields; `make_default` True makes it the default, None leaves that as is."""
    def plan(book: AddressBookModel) -> _Plan:
        address = _load_address(user_id, address_id)
        if make_default is False and address.is_default:
            raise Conflict("the book needs a default address: make another one the default instead",
                           code="DEFAULT_ADDRESS_REQUIRED")
        for name, value in vars(fields).items():
            setattr(address, name, value)
        address.updated_at = clock.now()
        writes = []
        if make_default and not address.is_default:
            address.is_default = True
            writes += _clear_default(user_id, book.default_address_id)
            book.default_address_id = address.address_id
        writes.append(lambda tx: tx.save(address, condition=AddressModel.address_id.exists()))
        return _Plan(writes, address)

    return _address_view(_change_book(user_id, plan))


def delete_address(user_id: str, address_id: str) -> None:
    """Delete an address; deleting the default makes the most recent remaining address the default."""
    def plan(book: AddressBookModel) -> _Plan:
        address = _load_address(user_id, address_id)
        writes = [lambda tx: tx.delete(address, condition=AddressModel.address_id.exists())]
        if address.is_default:
            successor = _newest_address_except(user_id, address_id)
            book.default_address_id = successor.address_id if successor else None
            if successor:
                writes.append(lambda tx: tx.update(successor, actions=[AddressModel.is_default.set(True)],
                                                   condition=AddressModel.address_id.exists()))
        book.address_count -= 1
        return _Plan(writes, None)

    _change_book(user_id, plan)


@dataclass
class _Plan:
    """The address writes one book change makes, and what the change returns."""
    writes: list[Callable[[object], None]]
    result: AddressModel | None


def _change_book(user_id: str, plan: Callable[[AddressBookModel], _Plan]) -> AddressModel | None:
    """Run `plan` on a fresh read of the book and commit its writes with the book, in one transaction.

    The book is written only if its version is still the one read, so of two
    concurrent changes one commits and the other is planned again on the new book.
    The book carries the committing change's token: a change whose reply was lost (the
    SDK's resend then fails the version condition) finds its own commit, and is not
    planned again (a second address added, a 404 for the one it deleted).
    """
    def attempt() -> _Plan | None:
        book = _load_book(user_id)
        if book.closed:  # a token issued before the buyer deleted their account still authenticates
            raise Conflict("this account was deleted", code="ACCOUNT_DELETED")
        read_version = book.version
        change = plan(book)
        book.version = read_version + 1
        book.last_change = token = ids.new_id()

        def write(tx) -> None:
            for add in change.writes:
                add(tx)
            tx.save(book, condition=_book_unchanged(read_version))

        committed = db.commit_if_conditions_hold(write, committed_already=lambda: _changed_by(user_id, token))
        return change if committed else None

    return db.until_committed(attempt, attempts=BOOK_ATTEMPTS, gives_up=lambda: ServiceUnavailable(
        "the address book is busy, retry shortly", code="BUSY")).result


def _changed_by(user_id: str, token: str) -> bool:
    book = db.get_or_none(AddressBookModel, user_id)
    return book is not None and book.last_change == token


def _load_book(user_id: str) -> AddressBookModel:
    book = db.get_or_none(AddressBookModel, user_id)
    return book if book is not None else AddressBookModel(user_id, address_count=0, default_address_id=None, version=0)


def _book_unchanged(read_version: int):
    if read_version == 0:
        return AddressBookModel.user_id.does_not_exist()
    return AddressBookModel.version == read_version


def _clear_default(user_id: str, default_address_id: str | None) -> list[Callable[[object], None]]:
    if default_address_id is None:
        return []
    old_default = AddressModel(user_id, default_address_id)
    return [lambda tx: tx.update(old_default, actions=[AddressModel.is_default.set(False)],
                                 condition=AddressModel.address_id.exists())]


def _newest_address_except(user_id: str, address_id: str) -> AddressModel | None:
    for item in AddressModel.query(user_id, consistent_read=True, scan_index_forward=False):
        if item.address_id != address_id:
            return item
    return None


def _load_address(user_id: str, address_id: str) -> AddressModel:
    ids.require_id(address_id, "ADDRESS")  # DynamoDB would reject an odd key rather than miss it
    return _found_address(db.get_or_none(AddressModel, user_id, address_id))


def _found_address(address: AddressModel | None) -> AddressModel:
    if address is None:
        raise NotFound("address not found", code="ADDRESS_NOT_FOUND")
    return address


def _address_view(item: AddressModel) -> Address:
    return Address(address_id=item.address_id, name=item.name, phone=item.phone, province=item.province,
                   city=item.city, district=item.district, detail=item.detail, is_default=item.is_default,
                   created_at=clock.iso(item.created_at), updated_at=clock.iso(item.updated_at))
