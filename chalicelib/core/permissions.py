"""What staff may do: permissions, and the ones each role holds by default.

A staff route names the permission it needs (`auth=staff_may(REFUNDS_DECIDE)`); the
HTTP edge judges it against the account's role *now* (read on every staff request),
plus the permissions an owner granted that account, never against the role written
in the token. An owner holds every permission. An operator runs the daily console
(orders, shipping, catalog, marketing) but does not decide refunds, change stock, grant
coupons to a whole segment or manage staff unless an owner grants it the first three;
`staff.manage` is never granted, it comes only with the owner role.
"""
from __future__ import annotations

ORDERS_VIEW = "orders.view"
ORDERS_SHIP = "orders.ship"
ORDERS_CANCEL = "orders.cancel"
REFUNDS_DECIDE = "refunds.decide"  # approve, reject and retry refunds
PAYMENTS_VIEW = "payments.view"  # payment anomalies
CATALOG_VIEW = "catalog.view"
CATALOG_EDIT = "catalog.edit"  # categories, products, on/off sale
STOCK_ADJUST = "stock.adjust"  # set or adjust a SKU's available stock
MARKETING_MANAGE = "marketing.manage"  # coupon templates, flash sales, group-buy campaigns, member levels, segments
SEGMENTS_GRANT = "segments.grant"  # grant a coupon template to a whole segment at once, and cancel such a grant
STAFF_MANAGE = "staff.manage"  # accounts, roles, password resets, sessions, unlocking logins

ALL_PERMISSIONS = frozenset({
    ORDERS_VIEW, ORDERS_SHIP, ORDERS_CANCEL, REFUNDS_DECIDE, PAYMENTS_VIEW, CATALOG_VIEW, CATALOG_EDIT,
    STOCK_ADJUST, MARKETING_MANAGE, SEGMENTS_GRANT, STAFF_MANAGE,
})

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": ALL_PERMISSIONS,
    "operator": frozenset({ORDERS_VIEW, ORDERS_SHIP, ORDERS_CANCEL, PAYMENTS_VIEW, CATALOG_VIEW, CATALOG_EDIT,
                           MARKETING_MANAGE}),
}

# What an owner may grant an account beyond its role: everything but managing staff,
# so an operator can never make itself (or anyone) an owner.
GRANTABLE = ALL_PERMISSIONS - {STAFF_MANAGE}


def permissions_of(role: str, grants: frozenset[str] | set[str] | None = None) -> frozenset[str]:
    """The permissions an account of `role` holds, with `grants` added (grants outside GRANTABLE are ignored)."""
    return ROLE_PERMISSIONS.get(role, frozenset()) | (frozenset(grants or ()) & GRANTABLE)
