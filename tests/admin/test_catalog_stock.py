"""Staff set and adjust available stock; every change is audited with its exact before and after."""
from __future__ import annotations

import pytest

from chalicelib.catalog import service, stock
from tests.catalog.helpers import as_staff, error_code, new_category, new_product, sku

UNKNOWN = "01UNKNOWN00000000000000000"


@pytest.fixture
def sku_id(client):
    product = new_product(client, new_category(client), skus=[sku("红", stock=10), sku("蓝", stock=0)])
    return product["skus"][0]["sku_id"]


def available(sku_id):
    return service.sku_cards([sku_id])[sku_id].stock


def test_set_stock_answers_before_and_after_and_the_card_follows(client, sku_id):
    response = as_staff(client, "alice").put(f"/admin/skus/{sku_id}/stock", {"stock": 25})

    assert response.status_code == 200, response.data
    assert {k: response.data[k] for k in ("sku_id", "kind", "delta", "available_before", "available_after",
                                          "actor", "reason")} == {
        "sku_id": sku_id, "kind": "SET", "delta": 15, "available_before": 10, "available_after": 25,
        "actor": "alice", "reason": "stock count"}
    assert available(sku_id) == 25


def test_adjust_stock_adds_and_takes_away(client, sku_id):
    added = as_staff(client).post(f"/admin/skus/{sku_id}/stock-adjustments", {"delta": 5, "reason": "到货"})
    taken = as_staff(client).post(f"/admin/skus/{sku_id}/stock-adjustments", {"delta": -15, "reason": "报损"})

    assert added.status_code == taken.status_code == 201
    assert (added.data["available_before"], added.data["available_after"]) == (10, 15)
    assert (taken.data["available_before"], taken.data["available_after"], taken.data["reason"]) == (15, 0, "报损")
    assert available(sku_id) == 0


def test_taking_more_than_available_is_refused_and_changes_nothing(client, sku_id):
    response = as_staff(client).post(f"/admin/skus/{sku_id}/stock-adjustments", {"delta": -11, "reason": "报损"})

    assert (response.status_code, error_code(response)) == (409, "INSUFFICIENT_STOCK")
    assert available(sku_id) == 10
    assert as_staff(client).get(f"/admin/skus/{sku_id}/stock-adjustments").data["items"] == []


def test_stock_above_the_limit_is_refused(client, sku_id):
    as_staff(client).put(f"/admin/skus/{sku_id}/stock", {"stock": 10**7})
    response = as_staff(client).post(f"/admin/skus/{sku_id}/stock-adjustments", {"delta": 1, "reason": "到货"})
    assert (response.status_code, error_code(response)) == (409, "STOCK_LIMIT_EXCEEDED")


@pytest.mark.parametrize("body", [{}, {"stock": -1}, {"stock": 10**7 + 1}, {"stock": "5"}, {"stock": 1.5},
                                  {"stock": True}, {"stock": 5, "extra": 1}, {"stock": 5, "reason": ""}])
def test_set_stock_refuses_bad_fields(client, sku_id, body):
    response = as_staff(client).put(f"/admin/skus/{sku_id}/stock", body)
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize("body", [{"delta": 5}, {"reason": "到货"}, {"delta": 0, "reason": "到货"},
                                  {"delta": "5", "reason": "到货"}, {"delta": 10**7 + 1, "reason": "到货"},
                                  {"delta": 5, "reason": " "}, {"delta": 5, "reason": "长" * 201},
                                  {"delta": 5, "reason": "到货", "who": "me"}])
def test_adjust_stock_refuses_bad_fields(client, sku_id, body):
    response = as_staff(client).post(f"/admin/skus/{sku_id}/stock-adjustments", body)
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize("method, suffix, body", [("PUT", "stock", {"stock": 1}),
                                                  ("POST", "stock-adjustments", {"delta": 1, "reason": "到货"}),
                                                  ("GET", "stock-adjustments", None)])
@pytest.mark.parametrize("bad_id", [UNKNOWN, "y" * 100])
def test_unknown_sku_is_not_found(client, method, suffix, body, bad_id):
    response = as_staff(client).call(method, f"/admin/skus/{bad_id}/{suffix}", body)
    assert (response.status_code, error_code(response)) == (404, "SKU_NOT_FOUND")


def test_audit_trail_lists_every_change_newest_first_in_pages(client, frozen_clock, sku_id):
    for delta in (1, 2, 3):
        frozen_clock.advance(1)
        as_staff(client).post(f"/admin/skus/{sku_id}/stock-adjustments", {"delta": delta, "reason": f"第{delta}批"})
    frozen_clock.advance(1)
    as_staff(client).put(f"/admin/skus/{sku_id}/stock", {"stock": 0, "reason": "清仓"})

    first = as_staff(client).get(f"/admin/skus/{sku_id}/stock-adjustments?limit=3").data
    rest = as_staff(client).get(f"/admin/skus/{sku_id}/stock-adjustments?limit=3&cursor={first['next_cursor']}").data

    trail = [(i["kind"], i["delta"], i["available_before"], i["available_after"]) for i in first["items"] + rest["items"]]
    assert trail == [("SET", -16, 16, 0), ("ADJUST", 3, 13, 16), ("ADJUST", 2, 11, 13), ("ADJUST", 1, 10, 11)]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=51", "cursor=%%%", "page=2"])
def test_audit_trail_refuses_bad_queries(client, sku_id, query):
    assert as_staff(client).get(f"/admin/skus/{sku_id}/stock-adjustments?{query}").status_code == 400


def test_a_change_racing_a_reservation_retries_and_audits_the_true_before(client, sku_id, monkeypatch):
    """Checkout may take stock between our read and our write; the audit must still be exact."""
    from chalicelib.catalog.models import MAIN_SHARD, InventoryModel

    real_read = stock._main_shard
    raced = []

    def read_then_checkout_reserves(sku):
        row = real_read(sku)
        if not raced:
            raced.append(True)
            InventoryModel(sku, MAIN_SHARD).update(actions=[InventoryModel.available.add(-4)])
        return row

    monkeypatch.setattr(stock, "_main_shard", read_then_checkout_reserves)
    response = as_staff(client).post(f"/admin/skus/{sku_id}/stock-adjustments", {"delta": -6, "reason": "报损"})

    assert response.status_code == 201, response.data
    assert (response.data["available_before"], response.data["available_after"]) == (6, 0)
    assert available(sku_id) == 0


def test_a_sku_hot_enough_to_lose_every_race_answers_busy(client, sku_id, monkeypatch):
    from chalicelib.catalog.models import MAIN_SHARD, InventoryModel

    real_read = stock._main_shard

    def read_then_someone_moves_stock(sku):
        row = real_read(sku)
        InventoryModel(sku, MAIN_SHARD).update(actions=[InventoryModel.available.add(1)])
        return row

    monkeypatch.setattr(stock, "_main_shard", read_then_someone_moves_stock)
    response = as_staff(client).put(f"/admin/skus/{sku_id}/stock", {"stock": 3})

    assert (response.status_code, error_code(response)) == (503, "BUSY")
    assert response.headers.get("Retry-After")
