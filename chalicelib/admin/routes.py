"""Admin routes: staff login and accounts, the catalog console, the orders console and refund decisions,
group-buy campaigns, the notifications console, the segments console and the dashboard.

Each module below registers its routes on the one admin Api, so the admin
feature deploys as one function.
"""
from chalicelib.admin import (  # noqa: F401  (they register routes)
    analytics_routes,
    catalog_routes,
    flash_routes,
    groupbuy_routes,
    marketing_routes,
    notify_routes,
    order_routes,
    payment_routes,
    segment_routes,
    staff_routes,
)
from chalicelib.admin.api import api

__all__ = ["api"]
