"""What other features may know of buyers in bulk: when each live account registered (a scan, for scheduled
jobs only) and the live accounts among a page of buyers (one BatchGetItem, for console pages and workers).

A deleted account (members/privacy.py) is in neither: it identifies nobody and receives nothing.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from chalicelib.core.db import batch_get
from chalicelib.members.models import UserModel

SCAN_PAGE = 1000


@dataclass(frozen=True)
class Registration:
    user_id: str
    registered_at: datetime


@dataclass(frozen=True)
class Profile:
    user_id: str
    nickname: str
    registered_at: datetime


def registrations() -> Iterator[Registration]:
    """Every live account and when it registered: a Scan of the users table, for a scheduled job (never a request)."""
    attributes = ["user_id", "created_at", "deleted_at"]
    for user in UserModel.scan(attributes_to_get=attributes, page_size=SCAN_PAGE):
        if user.deleted_at is None:
            yield Registration(user.user_id, user.created_at)


def live_profiles(user_ids: Iterable[str]) -> dict[str, Profile]:
    """The live accounts among `user_ids` (deleted and unknown ones absent); eventually consistent reads."""
    users = batch_get(UserModel, [(user_id,) for user_id in user_ids])
    return {user.user_id: Profile(user.user_id, user.nickname, user.created_at)
            for user in users if user.deleted_at is None}
