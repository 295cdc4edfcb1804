"""`python -m infra create-owner --stage <stage>`: the first staff owner of a deployed shop.

A fresh deployment has no staff account, and only an owner can create one from the
console: this creates that first owner directly in the environment's staff table, with
the same rules and password hashing as the console (`chalicelib.admin.service`). It
refuses when the shop already has an active owner (further staff come from the console).

The password is read from a prompt (typed twice, not echoed) or, when standard input is
not a terminal, from its first line (`... < file`, a secret manager's pipe). Never from
the command line: argv is visible to every user of the machine and kept in shell history.

The models name their tables when they are imported, so the environment's table prefix
(and region, and MALL_DYNAMODB_ENDPOINT for a local or moto endpoint) is set before the
admin feature is imported; this runs in its own process, as `python -m infra` does.
"""
from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from typing import TextIO

from infra.cloud import InfraError, check_stage
from infra.stages import table_prefix

MIN_OWNER_PASSWORD = 12  # the console allows shorter passwords for staff; an owner's guards every refund


def read_password(stdin: TextIO | None = None, prompt: Callable[[str], str] = getpass.getpass) -> str:
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = prompt("owner password: ")
        if prompt("again: ") != first:
            raise InfraError("the two passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


def create_owner(stage: str, username: str, password: str, *, region: str | None = None,
                 say: Callable[[str], None] = print) -> None:
    env = check_stage(stage)
    if len(password) < MIN_OWNER_PASSWORD:
        raise InfraError(f"an owner's password has at least {MIN_OWNER_PASSWORD} characters")
    prefix = table_prefix(env)
    if "chalicelib.admin.models" in sys.modules and os.environ.get("MALL_TABLE_PREFIX") != prefix:
        raise InfraError("the staff tables were already named for another environment in this process")
    os.environ["MALL_TABLE_PREFIX"] = prefix
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
        os.environ.pop("AWS_REGION", None)

    from chalicelib.admin import service
    from chalicelib.admin.models import OWNER_TALLY_KEY, ActiveOwnerTally, StaffAccount
    from chalicelib.core.db import get_or_none
    from chalicelib.core.errors import MallError

    if not StaffAccount.exists():
        raise InfraError(f"no table {StaffAccount.Meta.table_name}: run `python -m infra deploy --stage {stage}` first")
    tally = get_or_none(ActiveOwnerTally, OWNER_TALLY_KEY)
    if tally is not None and tally.active_owners > 0:
        raise InfraError(f"environment {env!r} already has {tally.active_owners} active owner(s); "
                         "add staff from the console (POST /admin/staff)")
    try:
        service.create_staff(username, password, service.OWNER)
    except MallError as exc:
        raise InfraError(exc.message) from None
    say(f"created owner {username!r} in {StaffAccount.Meta.table_name}; log in with POST /admin/login")
