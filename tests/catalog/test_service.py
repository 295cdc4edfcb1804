"""The service functions other features build on: SKU cards, create_category, create_product."""
from __future__ import annotations

import pytest
from pynamodb.exceptions import TransactWriteError

from chalicelib.catalog import service
from chalicelib.catalog.inputs import CategoryEdit, ProductEdit, SkuEdit
from chalicelib.core.errors import BadRequest, Conflict, NotFound


@pytest.fixture
def category(aws, frozen_clock):
    return service.create_category("服装")


def two_skus():
    return [{"specs": {"颜色": "红", "尺码": "M"}, "price": 5900, "stock": 3},
            {"specs": {"颜色": "红", "尺码": "L"}, "price": 6900, "stock": 0, "image": "https://img.example/l.jpg"}]


def test_create_product_returns_ids_and_cards_carry_price_title_specs_and_stock(category):
    product = service.create_product("纯棉T恤", category.category_id, two_skus(), images=["https://img.example/p.jpg"])

    cards = service.sku_cards([product.skus[0].sku_id, product.skus[1].sku_id])

    first, second = cards[product.skus[0].sku_id], cards[product.skus[1].sku_id]
    assert (first.product_id, first.title, first.specs, first.price, first.stock, first.on_sale) == (
        product.product_id, "纯棉T恤", {"颜色": "红", "尺码": "M"}, 5900, 3, True)
    assert first.image == "https://img.example/p.jpg", "a SKU without an image shows the product's first image"
    assert second.image == "https://img.example/l.jpg" and second.stock == 0


def test_sku_cards_leave_out_unknown_and_malformed_ids(category):
    product = service.create_product("纯棉T恤", category.category_id, two_skus())
    known = product.skus[0].sku_id

    cards = service.sku_cards([known, known, "01UNKNOWN000000000000000000", "x" * 300, ""])

    assert list(cards) == [known]


def test_cards_follow_every_product_edit(category):
    product = service.create_product("纯棉T恤", category.category_id, two_skus())
    kept, dropped = product.skus[0].sku_id, product.skus[1].sku_id

    service.update_product(product.product_id, ProductEdit(
        title="新款纯棉T恤", skus=[SkuEdit(sku_id=kept, specs={"颜色": "白", "尺码": "M"}, price=4900)]), "staff")

    cards = service.sku_cards([kept, dropped])
    assert (cards[kept].title, cards[kept].price, cards[kept].specs, cards[kept].on_sale) == (
        "新款纯棉T恤", 4900, {"颜色": "白", "尺码": "M"}, True)
    assert cards[dropped].on_sale is False, "a SKU left out of the edit is withdrawn, not deleted"
    assert cards[dropped].title == "新款纯棉T恤"


def test_taking_a_product_off_sale_marks_every_card_off_sale(category):
    product = service.create_product("纯棉T恤", category.category_id, two_skus())

    service.take_off_sale(product.product_id, "staff")

    assert [card.on_sale for card in service.sku_cards(s.sku_id for s in product.skus).values()] == [False, False]


def test_a_product_created_off_sale_has_off_sale_cards(category):
    product = service.create_product("纯棉T恤", category.category_id, two_skus(), on_sale=False)
    assert not any(card.on_sale for card in service.sku_cards(s.sku_id for s in product.skus).values())


@pytest.mark.parametrize("skus, code", [
    ([], "VALIDATION_ERROR"),
    ([{"specs": {"颜色": "红"}, "price": 0, "stock": 1}], "VALIDATION_ERROR"),
    ([{"specs": {"颜色": "红"}, "price": 10**9 + 1, "stock": 1}], "VALIDATION_ERROR"),
    ([{"specs": {"颜色": "红"}, "price": 100, "stock": 10**7 + 1}], "VALIDATION_ERROR"),
    ([{"specs": {"颜色": "红"}, "price": "100", "stock": 1}], "VALIDATION_ERROR"),
    ([{"specs": {"颜色" * 11: "红"}, "price": 100, "stock": 1}], "VALIDATION_ERROR"),
    ([{"specs": {"颜色": ""}, "price": 100, "stock": 1}], "VALIDATION_ERROR"),
    ([{"specs": {"颜色": "红"}, "price": 100, "stock": 1, "colour": "x"}], "VALIDATION_ERROR"),
    ([{"specs": {"颜色": "红"}, "price": 100, "stock": 1}] * 2, "DUPLICATE_SPECS"),
    ([{"specs": {"颜色": "红"}, "price": 100, "stock": 1}, {"specs": {"尺码": "M"}, "price": 100, "stock": 1}],
     "SPEC_NAMES_DIFFER"),
])
def test_create_product_refuses_bad_skus(category, skus, code):
    with pytest.raises(BadRequest) as refused:
        service.create_product("纯棉T恤", category.category_id, skus)
    assert refused.value.code == code


def test_create_product_in_an_unknown_category_is_not_found(category):
    with pytest.raises(NotFound) as refused:
        service.create_product("纯棉T恤", "01UNKNOWNCATEGORY000000000", two_skus())
    assert refused.value.code == "CATEGORY_NOT_FOUND"


def test_sibling_categories_have_distinct_names_but_cousins_may_share(category):
    with pytest.raises(Conflict):
        service.create_category("服装")
    child = service.create_category("上衣", category.category_id)
    other = service.create_category("男装")
    assert service.create_category("上衣", other.category_id).category_id != child.category_id


def test_categories_nest_three_levels_at_most(category):
    second = service.create_category("上衣", category.category_id)
    third = service.create_category("T恤", second.category_id)
    with pytest.raises(BadRequest) as refused:
        service.create_category("短袖", third.category_id)
    assert refused.value.code == "CATEGORY_TOO_DEEP"


def test_find_category_finds_by_name_under_its_parent(category):
    assert service.find_category("服装") == category.category_id
    assert service.find_category("服装", category.category_id) is None


def test_a_rename_racing_another_rename_is_refused_and_leaves_no_stray_name_claim(category, monkeypatch):
    real_get = service.get_category
    reads = []

    def read_then_another_admin_renames(category_id):
        row = real_get(category_id)
        if not reads:
            reads.append(category_id)
            service.update_category(category_id, CategoryEdit(name="服饰"))
        return row

    monkeypatch.setattr(service, "get_category", read_then_another_admin_renames)
    with pytest.raises(Conflict) as refused:
        service.update_category(category.category_id, CategoryEdit(name="衣服"))

    assert refused.value.code == "CONCURRENT_EDIT"
    assert real_get(category.category_id).name == "服饰"
    assert service.find_category("衣服") is None, "the losing rename must not keep a claim on its name"
    assert service.find_category("服装") is None and service.find_category("服饰") == category.category_id


def test_a_failed_category_write_is_not_mistaken_for_a_taken_name(category):
    from chalicelib.core import db
    from tests.faults import failing_calls, transaction_cancelled

    broken = transaction_cancelled("None", "ValidationError")
    with failing_calls(db.connection().client, "TransactWriteItems", [broken]):
        with pytest.raises(TransactWriteError):
            service.create_category("食品")
