"""Buyers browse: the category tree, on-sale listings with cursors, product pages with live stock."""
from __future__ import annotations

import base64

import pytest

from tests.catalog.helpers import as_staff, error_code, new_category, new_product, sku


@pytest.fixture
def category_id(client):
    return new_category(client, "数码")


def create_products(client, frozen_clock, category_id, count, **fields):
    ids = []
    for n in range(count):
        frozen_clock.advance(1)  # ids sort by time: newest first is the creation order reversed
        ids.append(new_product(client, category_id, title=f"商品{n}", **fields)["product_id"])
    return ids


def walk_pages(client, path):
    seen, cursor = [], None
    for _ in range(20):
        response = client.get(path + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.data
        seen.append([item["product_id"] for item in response.data["items"]])
        cursor = response.data["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("pagination never ended")


def test_category_tree_nests_children_under_parents(client):
    clothes = new_category(client, "服装")
    tops = new_category(client, "上衣", clothes)
    new_category(client, "食品")

    response = client.get("/catalog/categories")

    assert response.status_code == 200
    tree = {node["name"]: node for node in response.data["items"]}
    assert set(tree) == {"服装", "食品"}
    assert [(c["category_id"], c["name"], c["parent_id"]) for c in tree["服装"]["children"]] == [
        (tops, "上衣", clothes)]


def test_listing_pages_through_every_on_sale_product_newest_first(client, frozen_clock, category_id):
    ids = create_products(client, frozen_clock, category_id, 5)

    pages = walk_pages(client, "/catalog/products?limit=2")

    assert pages == [ids[::-1][0:2], ids[::-1][2:4], ids[::-1][4:5]]


def test_listing_shows_what_a_product_card_needs(client, category_id):
    product = new_product(client, category_id, skus=[sku("红", price=500), sku("蓝", price=900)],
                          images=["https://img.example/1.jpg"])

    item = client.get("/catalog/products").data["items"][0]

    assert item == {"product_id": product["product_id"], "title": "无线蓝牙耳机", "category_id": category_id,
                    "image": "https://img.example/1.jpg", "price": 500, "price_max": 900, "sales": 0,
                    "created_at": "2026-11-25T04:00:00.000Z"}


def test_listing_filters_by_category(client, category_id):
    food = new_category(client, "食品")
    gadget = new_product(client, category_id)["product_id"]
    snack = new_product(client, food, title="每日坚果")["product_id"]

    assert [i["product_id"] for i in client.get(f"/catalog/products?category_id={food}").data["items"]] == [snack]
    assert [i["product_id"] for i in client.get(f"/catalog/products?category_id={category_id}").data["items"]] == [
        gadget]


def test_listing_and_product_page_hide_off_sale_products(client, category_id):
    shown = new_product(client, category_id, title="在售商品")["product_id"]
    hidden = new_product(client, category_id, title="下架商品")["product_id"]
    never = new_product(client, category_id, title="未上架", on_sale=False)["product_id"]
    as_staff(client).delete(f"/admin/products/{hidden}")

    listed = [i["product_id"] for i in client.get("/catalog/products").data["items"]]
    by_category = [i["product_id"] for i in client.get(f"/catalog/products?category_id={category_id}").data["items"]]

    assert listed == by_category == [shown]
    for product_id in (hidden, never):
        response = client.get(f"/catalog/products/{product_id}")
        assert (response.status_code, error_code(response)) == (404, "PRODUCT_NOT_FOUND")


def test_product_page_shows_skus_with_live_stock_and_spec_options(client, category_id):
    product = new_product(client, category_id, skus=[
        {"specs": {"颜色": "红", "尺码": "M"}, "price": 100, "stock": 7},
        {"specs": {"颜色": "蓝", "尺码": "M"}, "price": 200, "stock": 0, "image": "https://img.example/b.jpg"}],
        description="降噪", images=["https://img.example/p.jpg"])
    red = product["skus"][0]["sku_id"]
    as_staff(client).post(f"/admin/skus/{red}/stock-adjustments", {"delta": -2, "reason": "盘点"})

    response = client.get(f"/catalog/products/{product['product_id']}")

    assert response.status_code == 200, response.data
    page = response.data
    assert (page["title"], page["description"], page["price"], page["price_max"]) == ("无线蓝牙耳机", "降噪", 100, 200)
    assert page["skus"] == [
        {"sku_id": red, "specs": {"颜色": "红", "尺码": "M"}, "price": 100, "stock": 5,
         "image": "https://img.example/p.jpg"},
        {"sku_id": product["skus"][1]["sku_id"], "specs": {"颜色": "蓝", "尺码": "M"}, "price": 200, "stock": 0,
         "image": "https://img.example/b.jpg"}]
    assert page["spec_options"] == {"颜色": ["红", "蓝"], "尺码": ["M"]}


def test_product_page_hides_withdrawn_skus(client, category_id):
    product = new_product(client, category_id)
    kept = product["skus"][0]
    as_staff(client).put(f"/admin/products/{product['product_id']}",
                         {"skus": [{"sku_id": kept["sku_id"], "specs": kept["specs"], "price": kept["price"]}]})

    page = client.get(f"/catalog/products/{product['product_id']}").data

    assert [s["sku_id"] for s in page["skus"]] == [kept["sku_id"]]


@pytest.mark.parametrize("product_id", ["01UNKNOWN00000000000000000", "x" * 200, "bad%20id"])
def test_unknown_product_is_not_found(client, product_id):
    response = client.get(f"/catalog/products/{product_id}")
    assert (response.status_code, error_code(response)) == (404, "PRODUCT_NOT_FOUND")


@pytest.mark.parametrize("query", ["limit=0", "limit=51", "limit=abc", "colour=red", "q=" + "长" * 51,
                                   "category_id=" + "x" * 65])
def test_bad_listing_queries_are_refused(client, query):
    response = client.get(f"/catalog/products?{query}")
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize("cursor", ["not-base64!!", base64.urlsafe_b64encode(b"[1,2]").decode(),
                                    base64.urlsafe_b64encode(b'{"after": "../../x"}').decode(),
                                    base64.urlsafe_b64encode(b'{"after": 5}').decode(), "%FF%FE"])
def test_a_cursor_this_api_did_not_make_is_refused(client, category_id, cursor):
    response = client.get(f"/catalog/products?cursor={cursor}")
    assert (response.status_code, error_code(response)) == (400, "INVALID_CURSOR")


def test_listing_an_unknown_category_is_not_found(client):
    response = client.get("/catalog/products?category_id=01UNKNOWN00000000000000000")
    assert (response.status_code, error_code(response)) == (404, "CATEGORY_NOT_FOUND")


def test_browsing_needs_no_token(client, category_id):
    new_product(client, category_id)
    assert client.as_token(None).get("/catalog/products").status_code == 200
    assert client.as_token(None).get("/catalog/categories").status_code == 200


def test_empty_query_parameters_count_as_not_given(client, category_id):
    """A mini-program sends every parameter of `?category_id=&q=&cursor=&limit=`, the unused ones empty."""
    product_id = new_product(client, category_id)["product_id"]

    response = client.get("/catalog/products?category_id=&q=&cursor=&limit=")

    assert response.status_code == 200, response.data
    assert ([item["product_id"] for item in response.data["items"]], response.data["next_cursor"]) == (
        [product_id], None)


def test_the_product_page_matches_its_documented_shape_exactly(client):
    """The page is built as plain data (no pydantic on the hot path); views.BuyerProduct documents it."""
    from chalicelib.catalog.views import BuyerProduct

    product = new_product(client, new_category(client))
    page = client.get(f"/catalog/products/{product['product_id']}").data

    assert BuyerProduct.model_validate(page).model_dump(mode="json") == page
