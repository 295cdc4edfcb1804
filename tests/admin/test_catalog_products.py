"""The admin catalog console: categories and products, for staff only."""
from __future__ import annotations

import pytest

from chalicelib.admin import service as staff_service
from tests.catalog.helpers import as_staff, error_code, new_category, new_product, sku
from tests.conftest import buyer_token, staff_token

UNKNOWN = "01UNKNOWN00000000000000000"

ROUTES = [
    ("POST", "/admin/categories", {"name": "服装"}),
    ("GET", "/admin/categories", None),
    ("PUT", f"/admin/categories/{UNKNOWN}", {"name": "服装"}),
    ("POST", "/admin/products", {"title": "T恤", "category_id": UNKNOWN, "skus": [sku()]}),
    ("GET", "/admin/products", None),
    ("GET", f"/admin/products/{UNKNOWN}", None),
    ("PUT", f"/admin/products/{UNKNOWN}", {"title": "T恤"}),
    ("DELETE", f"/admin/products/{UNKNOWN}", None),
    ("PUT", f"/admin/skus/{UNKNOWN}/stock", {"stock": 1}),
    ("POST", f"/admin/skus/{UNKNOWN}/stock-adjustments", {"delta": 1, "reason": "到货"}),
    ("GET", f"/admin/skus/{UNKNOWN}/stock-adjustments", None),
]


@pytest.mark.parametrize("method, path, body", ROUTES)
def test_every_catalog_console_route_wants_a_staff_token(client, frozen_clock, method, path, body):
    token = as_staff(client).token
    operator = as_staff(client, "op", "operator")
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")

    assert client.as_token(None).call(method, path, body).status_code == 401
    assert client.as_token(tampered).call(method, path, body).status_code == 401
    assert client.as_token(buyer_token()).call(method, path, body).status_code == 403
    changes_stock = "/stock" in path and method != "GET"  # stock.adjust: an operator lacks it by default
    assert operator.call(method, path, body).status_code in ((403,) if changes_stock else (200, 201, 404))
    frozen_clock.advance(hours=13)
    assert client.as_token(token).call(method, path, body).status_code == 401


@pytest.mark.parametrize("method, path, body", ROUTES)
def test_a_disabled_staff_member_loses_the_console_before_the_token_expires(client, method, path, body):
    clerk = as_staff(client, "clerk", "operator")
    staff_service.update_staff("clerk", disabled=True)

    response = clerk.call(method, path, body)

    assert (response.status_code, error_code(response)) == (401, "ACCOUNT_INACTIVE"), response.data


def test_a_token_whose_account_never_existed_opens_nothing(client):
    response = client.as_token(staff_token("ghost", "owner")).post("/admin/categories", {"name": "服装"})
    assert (response.status_code, error_code(response)) == (401, "ACCOUNT_INACTIVE"), response.data


# --- categories -----------------------------------------------------------------

def test_create_category_answers_201_with_its_id(client):
    response = as_staff(client).post("/admin/categories", {"name": "服装", "sort": 2})
    assert response.status_code == 201
    assert response.data == {"category_id": response.data["category_id"], "name": "服装", "parent_id": None, "sort": 2}


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "   "}, {"name": "长" * 21}, {"name": 5},
                                  {"name": "服装", "colour": "red"}, {"name": "服装", "parent_id": 7},
                                  {"name": "服装", "sort": -1}])
def test_create_category_refuses_bad_fields(client, body):
    response = as_staff(client).post("/admin/categories", body)
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")


def test_create_category_under_unknown_parent_is_not_found(client):
    response = as_staff(client).post("/admin/categories", {"name": "上衣", "parent_id": UNKNOWN})
    assert (response.status_code, error_code(response)) == (404, "CATEGORY_NOT_FOUND")


def test_duplicate_sibling_category_is_a_conflict(client):
    new_category(client, "服装")
    response = as_staff(client).post("/admin/categories", {"name": "服装"})
    assert (response.status_code, error_code(response)) == (409, "CATEGORY_EXISTS")


def test_rename_category_frees_the_old_name_and_claims_the_new(client):
    clothes = new_category(client, "服装")
    new_category(client, "食品")

    taken = as_staff(client).put(f"/admin/categories/{clothes}", {"name": "食品"})
    renamed = as_staff(client).put(f"/admin/categories/{clothes}", {"name": "服饰", "sort": 1})

    assert (taken.status_code, error_code(taken)) == (409, "CATEGORY_EXISTS")
    assert renamed.status_code == 200 and renamed.data["name"] == "服饰" and renamed.data["sort"] == 1
    assert as_staff(client).post("/admin/categories", {"name": "服装"}).status_code == 201
    names = {node["name"] for node in as_staff(client).get("/admin/categories").data["items"]}
    assert names == {"服饰", "食品", "服装"}


@pytest.mark.parametrize("body, status", [({}, 400), ({"parent_id": UNKNOWN}, 400), ({"name": ""}, 400)])
def test_edit_category_refuses_bad_fields(client, body, status):
    clothes = new_category(client, "服装")
    assert as_staff(client).put(f"/admin/categories/{clothes}", body).status_code == status


def test_edit_unknown_category_is_not_found(client):
    response = as_staff(client).put(f"/admin/categories/{UNKNOWN}", {"name": "x"})
    assert (response.status_code, error_code(response)) == (404, "CATEGORY_NOT_FOUND")


# --- products -------------------------------------------------------------------

@pytest.fixture
def category_id(client):
    return new_category(client, "数码")


def test_create_product_answers_201_with_ids_and_stock(client, category_id):
    response = as_staff(client).post("/admin/products", {
        "title": "无线蓝牙耳机", "category_id": category_id, "description": "降噪",
        "images": ["https://img.example/a.jpg"], "skus": [sku("红", stock=4), sku("蓝", stock=0)]})

    assert response.status_code == 201, response.data
    product = response.data
    assert product["product_id"] and product["on_sale"] is True and product["version"] == 1
    assert [(s["specs"], s["stock"]["available"], s["active"]) for s in product["skus"]] == [
        ({"颜色": "红"}, 4, True), ({"颜色": "蓝"}, 0, True)]
    assert all(s["sku_id"] for s in product["skus"])
    assert as_staff(client).get(f"/admin/products/{product['product_id']}").data == product


BAD_PRODUCTS = [
    {"title": "T恤", "skus": [sku()]},
    {"title": "", "category_id": "C", "skus": [sku()]},
    {"title": "长" * 61, "category_id": "C", "skus": [sku()]},
    {"title": 5, "category_id": "C", "skus": [sku()]},
    {"title": "T恤", "category_id": "C", "skus": []},
    {"title": "T恤", "category_id": "C", "skus": [sku(color=c) for c in map(str, range(100))]},
    {"title": "T恤", "category_id": "C", "skus": [sku(price=0)]},
    {"title": "T恤", "category_id": "C", "skus": [sku(price=10**9 + 1)]},
    {"title": "T恤", "category_id": "C", "skus": [sku(price=9.5)]},
    {"title": "T恤", "category_id": "C", "skus": [sku(stock=-1)]},
    {"title": "T恤", "category_id": "C", "skus": [sku(stock=10**7 + 1)]},
    {"title": "T恤", "category_id": "C", "skus": [sku(stock="5")]},
    {"title": "T恤", "category_id": "C", "skus": [{"specs": {"颜色": "红" * 21}, "price": 1, "stock": 1}]},
    {"title": "T恤", "category_id": "C", "skus": [{"specs": {"": "红"}, "price": 1, "stock": 1}]},
    {"title": "T恤", "category_id": "C", "skus": [{"specs": {"颜色": 1}, "price": 1, "stock": 1}]},
    {"title": "T恤", "category_id": "C", "skus": [sku(image="ftp://x/y.jpg")]},
    {"title": "T恤", "category_id": "C", "skus": [sku()], "images": "https://x/y.jpg"},
    {"title": "T恤", "category_id": "C", "skus": [sku()], "on_sale": "yes"},
    {"title": "T恤", "category_id": "C", "skus": [sku()], "brand": "x"},
]


@pytest.mark.parametrize("body", BAD_PRODUCTS)
def test_create_product_refuses_bad_fields(client, category_id, body):
    response = as_staff(client).post("/admin/products", {**body, "category_id": category_id}
                                     if "category_id" in body else body)
    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")


def test_create_product_refuses_duplicate_spec_combinations(client, category_id):
    response = as_staff(client).post("/admin/products", {"title": "T恤", "category_id": category_id,
                                                         "skus": [sku("红"), sku("红", price=1)]})
    assert (response.status_code, error_code(response)) == (400, "DUPLICATE_SPECS")


def test_create_product_in_unknown_category_is_not_found(client):
    response = as_staff(client).post("/admin/products", {"title": "T恤", "category_id": UNKNOWN, "skus": [sku()]})
    assert (response.status_code, error_code(response)) == (404, "CATEGORY_NOT_FOUND")


def test_malformed_json_is_a_bad_request(client):
    response = as_staff(client).call("POST", "/admin/products", raw="{not json")
    assert (response.status_code, error_code(response)) == (400, "INVALID_JSON")


def test_edit_changes_fields_bumps_version_and_keeps_stock(client, category_id):
    other = new_category(client, "家居")
    product = new_product(client, category_id)

    response = as_staff(client).put(f"/admin/products/{product['product_id']}", {
        "title": "头戴耳机", "description": "新版", "images": ["https://img.example/n.jpg"], "category_id": other})

    assert response.status_code == 200, response.data
    edited = response.data
    assert (edited["title"], edited["description"], edited["images"], edited["category_id"], edited["version"]) == (
        "头戴耳机", "新版", ["https://img.example/n.jpg"], other, 2)
    assert [s["stock"]["available"] for s in edited["skus"]] == [10, 10]


def test_edit_skus_changes_prices_adds_new_and_withdraws_left_out(client, category_id):
    product = new_product(client, category_id)
    red, blue = product["skus"]

    response = as_staff(client).put(f"/admin/products/{product['product_id']}", {"skus": [
        {"sku_id": red["sku_id"], "specs": {"颜色": "红"}, "price": 8800},
        {"specs": {"颜色": "白"}, "price": 7700, "stock": 3}]})

    assert response.status_code == 200, response.data
    skus = response.data["skus"]
    assert [(s["specs"]["颜色"], s["price"], s["active"], s["stock"]["available"]) for s in skus] == [
        ("红", 8800, True, 10), ("白", 7700, True, 3), ("蓝", 10900, False, 10)]
    assert skus[2]["sku_id"] == blue["sku_id"]

    back = as_staff(client).put(f"/admin/products/{product['product_id']}", {"skus": [
        {"sku_id": blue["sku_id"], "specs": {"颜色": "蓝"}, "price": 10900}]})
    assert [(s["specs"]["颜色"], s["active"]) for s in back.data["skus"]] == [("蓝", True), ("红", False), ("白", False)]


@pytest.mark.parametrize("skus, code", [
    ([{"sku_id": "SKU", "specs": {"颜色": "红"}, "price": 1, "stock": 5}], "STOCK_NOT_EDITABLE"),
    ([{"specs": {"颜色": "紫"}, "price": 1}], "STOCK_REQUIRED"),
    ([{"sku_id": "SKU", "specs": {"颜色": "红"}, "price": 1}, {"sku_id": "SKU", "specs": {"颜色": "蓝"}, "price": 1}],
     "DUPLICATE_SKU"),
    ([{"sku_id": "SKU", "specs": {"颜色": "红"}, "price": 1}, {"specs": {"颜色": "红"}, "price": 1, "stock": 1}],
     "DUPLICATE_SPECS"),
])
def test_edit_skus_refuses_inconsistent_lists(client, category_id, skus, code):
    product = new_product(client, category_id)
    red_id = product["skus"][0]["sku_id"]
    body = {"skus": [{**s, "sku_id": red_id} if "sku_id" in s else s for s in skus]}

    response = as_staff(client).put(f"/admin/products/{product['product_id']}", body)

    assert (response.status_code, error_code(response)) == (400, code)


def test_edit_naming_a_sku_of_another_product_is_not_found(client, category_id):
    product, other = new_product(client, category_id), new_product(client, category_id, title="别的")
    response = as_staff(client).put(f"/admin/products/{product['product_id']}", {"skus": [
        {"sku_id": other["skus"][0]["sku_id"], "specs": {"颜色": "红"}, "price": 1}]})
    assert (response.status_code, error_code(response)) == (404, "SKU_NOT_FOUND")


@pytest.mark.parametrize("body, code", [({}, "EMPTY_EDIT"), ({"title": ""}, "VALIDATION_ERROR"),
                                        ({"stock": 5}, "VALIDATION_ERROR"), ({"on_sale": 1}, "VALIDATION_ERROR"),
                                        ({"skus": []}, "VALIDATION_ERROR")])
def test_edit_refuses_bad_fields(client, category_id, body, code):
    product = new_product(client, category_id)
    response = as_staff(client).put(f"/admin/products/{product['product_id']}", body)
    assert (response.status_code, error_code(response)) == (400, code)


def test_edit_into_unknown_category_is_not_found(client, category_id):
    product = new_product(client, category_id)
    response = as_staff(client).put(f"/admin/products/{product['product_id']}", {"category_id": UNKNOWN})
    assert (response.status_code, error_code(response)) == (404, "CATEGORY_NOT_FOUND")


def test_edit_losing_every_race_is_a_conflict(client, category_id, monkeypatch):
    from chalicelib.catalog import service

    product = new_product(client, category_id)
    real_apply = service._apply_edit

    def someone_else_edits_first(current, edit, actor):
        other = service.ProductModel.get(current.product_id)
        other.update(actions=[service.ProductModel.version.add(1)])
        return real_apply(current, edit, actor)

    monkeypatch.setattr(service, "_apply_edit", someone_else_edits_first)
    response = as_staff(client).put(f"/admin/products/{product['product_id']}", {"title": "新标题"})
    assert (response.status_code, error_code(response)) == (409, "CONCURRENT_EDIT")


def test_delete_takes_off_sale_and_keeps_the_product(client, category_id):
    product = new_product(client, category_id)

    first = as_staff(client).delete(f"/admin/products/{product['product_id']}")
    again = as_staff(client).delete(f"/admin/products/{product['product_id']}")

    assert first.status_code == again.status_code == 200
    assert first.data["on_sale"] is False and first.data["status"] == "OFF_SALE"
    assert again.data["version"] == first.data["version"], "taking an off-sale product off sale changes nothing"
    assert as_staff(client).get(f"/admin/products/{product['product_id']}").data["on_sale"] is False


@pytest.mark.parametrize("method, body", [("GET", None), ("PUT", {"title": "x"}), ("DELETE", None)])
@pytest.mark.parametrize("product_id", [UNKNOWN, "x" * 100])
def test_unknown_product_is_not_found(client, method, body, product_id):
    response = as_staff(client).call(method, f"/admin/products/{product_id}", body)
    assert (response.status_code, error_code(response)) == (404, "PRODUCT_NOT_FOUND")


def test_admin_list_shows_off_sale_products_and_filters(client, frozen_clock, category_id):
    other = new_category(client, "家居")
    on_sale = new_product(client, category_id)["product_id"]
    frozen_clock.advance(1)
    off_sale = new_product(client, category_id, title="下架", on_sale=False)["product_id"]
    frozen_clock.advance(1)
    elsewhere = new_product(client, other, title="台灯")["product_id"]

    def listed(query=""):
        response = as_staff(client).get(f"/admin/products?{query}")
        assert response.status_code == 200, response.data
        return [item["product_id"] for item in response.data["items"]]

    assert listed() == [elsewhere, off_sale, on_sale]
    assert listed("status=OFF_SALE") == [off_sale]
    assert listed("status=ON_SALE") == [elsewhere, on_sale]
    assert listed(f"category_id={category_id}") == [off_sale, on_sale]
    assert listed(f"category_id={category_id}&status=ON_SALE") == [on_sale]
    assert listed(f"category_id={category_id}&status=OFF_SALE") == [off_sale]
    first = as_staff(client).get("/admin/products?limit=2").data
    assert [i["product_id"] for i in first["items"]] == [elsewhere, off_sale]
    rest = as_staff(client).get(f"/admin/products?limit=2&cursor={first['next_cursor']}").data
    assert ([i["product_id"] for i in rest["items"]], rest["next_cursor"]) == ([on_sale], None)
    assert first["items"][0]["skus"][0]["stock"] == {"available": 10, "reserved": 0, "sold": 0}


@pytest.mark.parametrize("query, status", [("status=SOLD", 400), ("limit=0", 400), ("cursor=zz", 400),
                                           (f"category_id={UNKNOWN}", 404)])
def test_admin_list_refuses_bad_queries(client, query, status):
    assert as_staff(client).get(f"/admin/products?{query}").status_code == status
