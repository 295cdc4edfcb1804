"""Staff login and accounts: `/admin/login`, `/admin/logout`, `/admin/me`, `/admin/staff`, `/admin/sessions`.

The HTTP edge admits every staff request (chalicelib.admin.access) before a handler
runs: the account is enabled, the token's session live, the permission held.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.admin.api import api
from chalicelib.core.auth import STAFF, staff_may
from chalicelib.core.http import Context
from chalicelib.core.permissions import STAFF_MANAGE

if TYPE_CHECKING:
    from chalicelib.admin.staff_views import LoginOut, SessionsEnded, SessionView, StaffView, Unlocked

MANAGE_STAFF = staff_may(STAFF_MANAGE)
VIEWS = "chalicelib.admin.staff_views:"  # models by name: a cold start loads what its first request uses


@api.route("/admin/login", "POST", body=VIEWS + "LoginIn", response=VIEWS + "LoginOut", errors=(401, 429),
           summary="staff login: username and password -> staff token (a new session); repeated failures lock "
                   "the username and the source IP for a growing delay (429 + Retry-After)")
def staff_login(ctx: Context) -> LoginOut:
    from chalicelib.admin import service
    from chalicelib.admin.staff_views import LoginOut

    result = service.login(ctx.body.username, ctx.body.password, source_ip=ctx.source_ip,
                           user_agent=ctx.headers.get("user-agent"))
    return LoginOut.of(result)


@api.route("/admin/logout", "POST", status=204, auth=STAFF, summary="end the caller's session (its token)")
def staff_logout(ctx: Context) -> None:
    from chalicelib.admin import login as staff_login_service

    staff_login_service.logout(ctx.user_id, ctx.principal.session_id)


@api.route("/admin/me", "GET", response=VIEWS + "StaffView", auth=STAFF, summary="the calling staff member")
def staff_me(ctx: Context) -> StaffView:
    from chalicelib.admin import service
    from chalicelib.admin.staff_views import StaffView

    return StaffView.of(service.get_staff(ctx.user_id))


@api.route("/admin/me/password", "PUT", body=VIEWS + "PasswordChangeIn", response=VIEWS + "LoginOut",
           auth=STAFF, errors=(403, 429),
           summary="change one's own password (the current one required): every session ends, and the answer "
                   "is a new token")
def staff_change_own_password(ctx: Context) -> LoginOut:
    from chalicelib.admin import login as staff_login_service
    from chalicelib.admin.staff_views import LoginOut

    result = staff_login_service.change_own_password(
        ctx.user_id, ctx.body.current_password, ctx.body.new_password, source_ip=ctx.source_ip,
        user_agent=ctx.headers.get("user-agent"))
    return LoginOut.of(result)


@api.route("/admin/staff", "GET", response=VIEWS + "StaffList", auth=MANAGE_STAFF, summary="every staff account")
def staff_list(ctx: Context) -> list[StaffView]:
    from chalicelib.admin import service
    from chalicelib.admin.staff_views import StaffView

    return [StaffView.of(account) for account in service.list_staff()]


@api.route("/admin/staff", "POST", body=VIEWS + "NewStaffIn", response=VIEWS + "StaffView", status=201, auth=MANAGE_STAFF,
           errors=(409,), summary="create a staff account")
def staff_create(ctx: Context) -> StaffView:
    from chalicelib.admin import service
    from chalicelib.admin.staff_views import StaffView

    body = ctx.body
    return StaffView.of(service.create_staff(body.username, body.password, body.role))


@api.route("/admin/staff/{username}", "GET", response=VIEWS + "StaffView", auth=MANAGE_STAFF, errors=(404,),
           summary="one staff account")
def staff_get(ctx: Context, username: str) -> StaffView:
    from chalicelib.admin import service
    from chalicelib.admin.staff_views import StaffView

    return StaffView.of(service.get_staff(username))


@api.route("/admin/staff/{username}", "PUT", body=VIEWS + "StaffChangeIn", response=VIEWS + "StaffView", auth=MANAGE_STAFF,
           errors=(404, 409), summary="change a staff account's role or grants, disable or enable it, reset its "
                                      "password (which ends its sessions)")
def staff_update(ctx: Context, username: str) -> StaffView:
    from chalicelib.admin import service
    from chalicelib.admin.staff_views import StaffView

    body = ctx.body
    changed = service.update_staff(username, role=body.role, disabled=body.disabled, password=body.password,
                                   grants=body.grants)
    return StaffView.of(changed)


@api.route("/admin/sessions", "GET", response=VIEWS + "SessionList", auth=MANAGE_STAFF,
           summary="every live staff session, newest first")
def sessions_list(ctx: Context) -> list[SessionView]:
    from chalicelib.admin import service, sessions
    from chalicelib.admin.staff_views import SessionView

    rows = [row for account in service.list_staff() for row in sessions.of(account)]
    return [SessionView.of(row) for row in sorted(rows, key=lambda row: row.created_at, reverse=True)]


@api.route("/admin/staff/{username}/sessions", "GET", response=VIEWS + "SessionList", auth=MANAGE_STAFF,
           errors=(404,), summary="a staff account's live sessions, newest first")
def staff_sessions(ctx: Context, username: str) -> list[SessionView]:
    from chalicelib.admin import service, sessions
    from chalicelib.admin.staff_views import SessionView

    return [SessionView.of(row) for row in sessions.of(service.get_staff(username))]


@api.route("/admin/staff/{username}/sessions", "DELETE", response=VIEWS + "SessionsEnded", auth=MANAGE_STAFF,
           errors=(404,), summary="end every session of a staff account: its tokens stop working at once")
def staff_end_sessions(ctx: Context, username: str) -> SessionsEnded:
    from chalicelib.admin import service, sessions
    from chalicelib.admin.staff_views import SessionsEnded

    return SessionsEnded(ended=sessions.end_all(service.get_staff(username)))


@api.route("/admin/staff/{username}/sessions/{session_id}", "DELETE", status=204, auth=MANAGE_STAFF,
           errors=(404,), summary="end one session: its token stops working at once")
def staff_end_session(ctx: Context, username: str, session_id: str) -> None:
    from chalicelib.admin import service, sessions

    sessions.end(service.get_staff(username), session_id)


@api.route("/admin/staff/{username}/unlock", "POST", response=VIEWS + "Unlocked", auth=MANAGE_STAFF,
           summary="forget a username's failed logins and lift its login lock")
def staff_unlock(ctx: Context, username: str) -> Unlocked:
    from chalicelib.admin import login as staff_login_service
    from chalicelib.admin.staff_views import Unlocked

    return Unlocked(username=username, was_locked=staff_login_service.unlock(username))
