"""The merchant's dashboard, read from the per-day counters only: its cost grows with days, never with orders.

A range of N days reads 12 rows a day (totals, campaigns, 4 product rows and, when N > 1, the 6 steps'
sketches) by BatchGetItem, 100 keys a call: 7 days are 1 call, 30 days 4, 92 days 12, whether the shop
took 10 orders or 10 million. Top products' titles are one more BatchGetItem, on the catalog.

Definitions (README, "Dashboard: what each number means"):
- gmv: `payable` of the orders paid in the range (on the day of their payment);
- refunds: the buyers' refunds settled in the range (on the day the provider settled them);
- net_gmv = gmv - refunds; average_order_value = gmv / paid_orders (fen, rounded);
- orders: orders placed in the range; paid_orders: orders paid in the range;
- buyers: distinct buyers who paid in the range (= the funnel's payers); new_buyers: buyers whose first
  payment the counters ever saw is in the range; repeat_buyer_rate: the share of the range's buyers who
  paid in it for an order that was not their first;
- orders_by_status: the orders placed in the range, by the status they have now;
- the funnel's steps: distinct visitors (a buyer, or a device without a buyer token) who did anything,
  viewed a product, added to a cart, placed an order, paid. Exact for one day; over several days, the
  union of the days' HyperLogLog sketches (standard error 1.6 %, `distinct` in the answer says which).
"""
from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from typing import Any

from chalicelib.analytics import days, sketch
from chalicelib.analytics.campaigns import KINDS
from chalicelib.analytics.counters import read_rows
from chalicelib.analytics.distinct import FUNNEL, PAYERS, REPEAT_BUYERS, STEPS
from chalicelib.analytics.models import CAMPAIGNS, TOTALS, product_slots, sketch_slot
from chalicelib.core import config
from chalicelib.core.errors import BadRequest

DEFAULT_DAYS = 7
DEFAULT_MAX_DAYS = 92
TOP_PRODUCTS = 10
PRODUCT_COUNTERS = {"v": "views", "c": "cart_adds", "u": "units", "a": "paid_amount"}
CAMPAIGN_COUNTERS = {"o": "orders", "p": "paid_orders", "a": "paid_amount", "d": "discount"}


def max_days() -> int:
    return config.env_int("MALL_DASHBOARD_MAX_DAYS", DEFAULT_MAX_DAYS)


def date_range(start: str | None, end: str | None) -> tuple[_dt.date, _dt.date]:
    """The range asked for, checked: `to` defaults to today (shop time), `from` to 6 days before `to`."""
    try:
        last = days.parse_day(end) if end else days.parse_day(days.today())
        first = days.parse_day(start) if start else days.shift(last, 1 - DEFAULT_DAYS)
    except (ValueError, OverflowError):  # OverflowError: a default `from` before year 1
        raise BadRequest("from and to are dates, YYYY-MM-DD", code="INVALID_DATE") from None
    if first > last:
        raise BadRequest("from is after to", code="INVALID_RANGE", details={"from": str(first), "to": str(last)})
    span = (last - first).days + 1
    if span > max_days():
        raise BadRequest(f"at most {max_days()} days at once", code="RANGE_TOO_LONG",
                         details={"days": span, "max_days": max_days()})
    return first, last


def dashboard(start: str | None = None, end: str | None = None) -> dict[str, Any]:
    first, last = date_range(start, end)
    day_list = days.days_between(first, last)
    slots = [TOTALS, CAMPAIGNS, *product_slots()]
    if len(day_list) > 1:
        slots += [sketch_slot(step) for step in STEPS]
    rows = read_rows((day, slot) for day in day_list for slot in slots)
    totals_by_day = [(day, rows.get((day, TOTALS), {})) for day in day_list]
    summed = _sum(row for _, row in totals_by_day)
    if len(day_list) > 1:
        distinct = {step: sketch.estimate(sketch.union(
            sketch.decode(rows[(day, sketch_slot(step))].get("registers"))
            for day in day_list if (day, sketch_slot(step)) in rows)) for step in STEPS}
        method = {"method": "hyperloglog", "standard_error": round(sketch.STANDARD_ERROR, 4)}
    else:
        distinct = {step: int(summed.get(step, 0)) for step in STEPS}
        method = {"method": "exact", "standard_error": 0.0}
    return {
        "from": str(first), "to": str(last), "time_zone": days.zone_name(),
        "totals": _figures(summed, distinct),
        "by_day": [{"day": day, **_figures(row, {step: int(row.get(step, 0)) for step in STEPS}),
                    "funnel": {step: int(row.get(step, 0)) for step in FUNNEL}} for day, row in totals_by_day],
        "orders_by_status": _statuses(summed),
        "funnel": {step: distinct[step] for step in FUNNEL},
        "distinct": method,
        "top_products": _top_products(rows, day_list),
        "campaigns": _campaigns(rows, day_list),
    }


def _sum(rows) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for row in rows:
        for name, value in row.items():
            if isinstance(value, int) and name not in ("day", "slot", "version"):
                total[name] += value
    return total


def _figures(counts: dict[str, int], distinct: dict[str, int]) -> dict[str, Any]:
    gmv, refunds, paid_orders = (int(counts.get(name, 0)) for name in ("gmv", "refunds", "paid_orders"))
    buyers = distinct[PAYERS]
    return {"gmv": gmv, "net_gmv": gmv - refunds, "refunds": refunds, "orders": int(counts.get("orders", 0)),
            "paid_orders": paid_orders, "buyers": buyers, "new_buyers": int(counts.get("new_buyers", 0)),
            "average_order_value": round(gmv / paid_orders) if paid_orders else 0,
            "repeat_buyer_rate": round(min(distinct[REPEAT_BUYERS], buyers) / buyers, 4) if buyers else 0.0,
            "page_views": int(counts.get("page_views", 0)), "product_views": int(counts.get("product_views", 0)),
            "searches": int(counts.get("searches", 0)), "shares": int(counts.get("shares", 0)),
            "cart_adds": int(counts.get("cart_adds", 0))}


def _statuses(summed: dict[str, int]) -> dict[str, int]:
    from chalicelib.checkout.statuses import ALL

    return {status: int(summed.get(f"status#{status}", 0)) for status in ALL}


def _top_products(rows: dict, day_list: list[str]) -> list[dict[str, Any]]:
    products: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(PRODUCT_COUNTERS.values(), 0))
    for day in day_list:
        for slot in product_slots():
            for name, value in rows.get((day, slot), {}).items():
                prefix, _, product_id = name.partition("#")
                if prefix in PRODUCT_COUNTERS and product_id:
                    products[product_id][PRODUCT_COUNTERS[prefix]] += int(value)
    ranked = sorted(products.items(), key=lambda item: (-item[1]["paid_amount"], -item[1]["units"],
                                                         -item[1]["views"], -item[1]["cart_adds"], item[0]))
    top = ranked[:TOP_PRODUCTS]
    titles = _titles([product_id for product_id, _ in top])
    return [{"product_id": product_id, "title": titles.get(product_id), **figures} for product_id, figures in top]


def _titles(product_ids: list[str]) -> dict[str, str]:
    if not product_ids:
        return {}
    from chalicelib.catalog.reads import product_titles

    return product_titles(product_ids)


def _campaigns(rows: dict, day_list: list[str]) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for day in day_list:
        for name, value in rows.get((day, CAMPAIGNS), {}).items():
            prefix, _, key = name.partition("#")
            kind, _, campaign_id = key.partition("#")
            if kind not in KINDS or not campaign_id:
                continue
            entry = found.setdefault(key, {"kind": kind, "campaign_id": campaign_id, "name": None,
                                           **dict.fromkeys(CAMPAIGN_COUNTERS.values(), 0)})
            if prefix == "n":
                entry["name"] = value
            elif prefix in CAMPAIGN_COUNTERS:
                entry[CAMPAIGN_COUNTERS[prefix]] += int(value)
    return sorted(found.values(), key=lambda entry: (-entry["paid_amount"], -entry["orders"], entry["kind"],
                                                     entry["campaign_id"]))
