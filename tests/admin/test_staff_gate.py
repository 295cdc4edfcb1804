"""The staff gate at the HTTP edge: every /admin route but login admits the account as it stands now, and
routes that change money or stock want a permission an operator lacks unless an owner grants it."""
from __future__ import annotations

import re

import pytest

from chalicelib.admin import service
from chalicelib.admin.passwords import ScryptCost
from chalicelib.core.permissions import REFUNDS_DECIDE, SEGMENTS_GRANT, STAFF_MANAGE, STOCK_ADJUST
from tests.conftest import staff_token

FAST = ScryptCost(n=2**4, r=8, p=1)
PUBLIC_ADMIN_ROUTES = {("/admin/login", "POST")}


def add_staff(username: str, role: str = "operator", password: str = "staff-pass-123") -> None:
    service.create_staff(username, password, role, cost=FAST)


def admin_routes(app) -> list[tuple[str, str]]:
    """Every (path, method) the app serves under /admin, read from the app itself."""
    return sorted((path, method) for path, methods in app.routes.items() if path.startswith("/admin")
                  for method in methods if (path, method) not in PUBLIC_ADMIN_ROUTES)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "01UNKNOWN00000000000000000", path)


def error_code(response) -> str | None:
    return (response.data or {}).get("error", {}).get("code")


def test_the_app_serves_many_admin_routes_and_every_one_is_declared_for_staff(app):
    from chalicelib.admin.routes import api

    routes = admin_routes(app)
    assert len(routes) >= 30, f"expected the whole console, found {routes}"
    declared = {(op.path, op.method): op.auth for op in api.operations}
    for path, method in routes:
        requirement = declared.get((path, method))
        assert requirement is not None and requirement.is_staff, f"{method} {path} is not declared for staff"


def test_every_admin_route_refuses_a_disabled_account_before_its_handler(app, client):
    add_staff("boss", "owner")
    add_staff("clerk")
    token = staff_token("clerk", "operator")
    service.update_staff("clerk", disabled=True, cost=FAST)
    for path, method in admin_routes(app):
        response = client.as_token(token).call(method, concrete(path), {})
        assert (response.status_code, error_code(response)) == (401, "ACCOUNT_INACTIVE"), \
            f"{method} {path}: expected 401 ACCOUNT_INACTIVE, got {response.status_code} {response.data}"


def test_every_admin_route_refuses_a_token_whose_session_ended(app, client, frozen_clock):
    add_staff("boss", "owner", "boss-pass-123")
    token = client.post("/admin/login", {"username": "boss", "password": "boss-pass-123"}).data["token"]
    add_staff("amy", "owner")
    client.as_token(staff_token("amy", "owner")).delete("/admin/staff/boss/sessions")
    for path, method in admin_routes(app):
        response = client.as_token(token).call(method, concrete(path), {})
        assert (response.status_code, error_code(response)) == (401, "SESSION_ENDED"), \
            f"{method} {path}: expected 401 SESSION_ENDED, got {response.status_code} {response.data}"


def test_every_admin_route_refuses_a_token_for_nobody(app, client):
    for path, method in admin_routes(app):
        response = client.as_token(staff_token("ghost", "owner")).call(method, concrete(path), {})
        assert response.status_code == 401, f"{method} {path}: {response.status_code} {response.data}"


# --- permissions ---------------------------------------------------------------------

PROTECTED = [
    ("POST", "/admin/orders/{id}/refund/approve", None, REFUNDS_DECIDE),
    ("POST", "/admin/orders/{id}/refund/reject", {"reason": "已发货"}, REFUNDS_DECIDE),
    ("POST", "/admin/orders/{id}/refund/retry", None, REFUNDS_DECIDE),
    ("PUT", "/admin/skus/{id}/stock", {"stock": 5}, STOCK_ADJUST),
    ("POST", "/admin/skus/{id}/stock-adjustments", {"delta": 1, "reason": "到货"}, STOCK_ADJUST),
    ("POST", "/admin/segments/NEW/coupon-grants", {"template_id": "01UNKNOWN0000000000000000"}, SEGMENTS_GRANT),
    ("POST", "/admin/coupon-grants/{id}/cancel", None, SEGMENTS_GRANT),
    ("GET", "/admin/staff", None, STAFF_MANAGE),
    ("POST", "/admin/staff", {"username": "eve", "password": "eve-pass-123", "role": "owner"}, STAFF_MANAGE),
    ("GET", "/admin/staff/{id}", None, STAFF_MANAGE),
    ("PUT", "/admin/staff/{id}", {"role": "owner"}, STAFF_MANAGE),
    ("GET", "/admin/sessions", None, STAFF_MANAGE),
    ("GET", "/admin/staff/{id}/sessions", None, STAFF_MANAGE),
    ("DELETE", "/admin/staff/{id}/sessions", None, STAFF_MANAGE),
    ("DELETE", "/admin/staff/{id}/sessions/{id}", None, STAFF_MANAGE),
    ("POST", "/admin/staff/{id}/unlock", None, STAFF_MANAGE),
]


@pytest.mark.parametrize("method, path, body, permission", PROTECTED)
def test_an_operator_without_the_permission_is_403_naming_it(client, method, path, body, permission):
    add_staff("clerk")
    response = client.as_token(staff_token("clerk", "operator")).call(method, path.replace("{id}", "clerk"), body)
    assert response.status_code == 403, response.data
    assert response.data["error"] == {
        "code": "PERMISSION_DENIED", "details": {"permission": permission},
        "message": f"this needs the permission {permission}, which your account does not hold"}


@pytest.mark.parametrize("method, path, body, permission", PROTECTED)
def test_an_owner_holds_every_permission(client, method, path, body, permission):
    add_staff("boss", "owner")
    add_staff("clerk")
    response = client.as_token(staff_token("boss", "owner")).call(method, path.replace("{id}", "clerk"), body)
    assert response.status_code not in (401, 403), response.data


@pytest.mark.parametrize("method, path, body, permission",
                         [row for row in PROTECTED if row[3] != STAFF_MANAGE])
def test_an_owner_can_grant_an_operator_a_permission_and_take_it_back(client, method, path, body, permission):
    add_staff("boss", "owner")
    add_staff("clerk")
    owner = client.as_token(staff_token("boss", "owner"))
    clerk = client.as_token(staff_token("clerk", "operator"))
    granted = owner.put("/admin/staff/clerk", {"grants": [permission]})
    assert granted.status_code == 200 and permission in granted.data["permissions"], granted.data
    assert clerk.call(method, path.replace("{id}", "clerk"), body).status_code not in (401, 403)
    assert owner.put("/admin/staff/clerk", {"grants": []}).status_code == 200
    assert clerk.call(method, path.replace("{id}", "clerk"), body).status_code == 403


def test_managing_staff_cannot_be_granted(client):
    add_staff("boss", "owner")
    add_staff("clerk")
    owner = client.as_token(staff_token("boss", "owner"))
    refused = owner.put("/admin/staff/clerk", {"grants": [STAFF_MANAGE]})
    assert (refused.status_code, error_code(refused)) == (400, "VALIDATION_ERROR")
    with pytest.raises(service.BadRequest):
        service.update_staff("clerk", grants=[STAFF_MANAGE], cost=FAST)


def test_an_operator_keeps_the_daily_console(client):
    add_staff("clerk")
    clerk = client.as_token(staff_token("clerk", "operator"))
    me = clerk.get("/admin/me")
    assert me.status_code == 200
    assert REFUNDS_DECIDE not in me.data["permissions"] and STOCK_ADJUST not in me.data["permissions"]
    assert SEGMENTS_GRANT not in me.data["permissions"]
    for path in ("/admin/orders", "/admin/products", "/admin/categories", "/admin/payments/anomalies"):
        assert clerk.get(path).status_code == 200, path
