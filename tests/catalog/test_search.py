"""Title search through the token index the products stream keeps fresh (delivered for real by the pump)."""
from __future__ import annotations

import pytest

from chalicelib.catalog import search
from chalicelib.catalog.models import SearchTokenModel
from infra.local.pump import EventPump
from tests.catalog.helpers import as_staff, new_category, new_product


@pytest.fixture
def pump(app):
    return EventPump(app, raise_errors=True)


@pytest.fixture
def category_id(client):
    return new_category(client, "数码")


def found(client, q, **filters):
    query = "&".join([f"q={q}", *(f"{k}={v}" for k, v in filters.items())])
    response = client.get(f"/catalog/products?{query}")
    assert response.status_code == 200, response.data
    return [item["product_id"] for item in response.data["items"]]


def test_a_chinese_fragment_finds_its_product_and_others_do_not(client, pump, category_id):
    earbuds = new_product(client, category_id, title="无线蓝牙耳机")["product_id"]
    new_product(client, category_id, title="机械键盘")
    pump.drain()

    assert found(client, "蓝牙") == [earbuds]
    assert found(client, "蓝牙耳机") == [earbuds]
    assert found(client, "牙") == [earbuds], "a single character matches by unigram"
    assert found(client, "有线") == []
    assert found(client, "耳蓝") == [], "characters present but not adjacent do not match"


def test_ascii_words_match_case_and_width_insensitively(client, pump, category_id):
    phone = new_product(client, category_id, title="Apple iPhone15 手机壳")["product_id"]
    pump.drain()

    assert found(client, "IPHONE15") == [phone]
    assert found(client, "ａｐｐｌｅ") == [phone]
    assert found(client, "android") == []


def test_an_edited_title_stops_matching_its_old_fragments(client, pump, category_id):
    product_id = new_product(client, category_id, title="无线蓝牙耳机")["product_id"]
    pump.drain()

    as_staff(client).put(f"/admin/products/{product_id}", {"title": "降噪头戴耳麦"})
    pump.drain()

    assert found(client, "蓝牙") == []
    assert found(client, "降噪") == [product_id]
    assert SearchTokenModel.count("蓝牙") == 0, "old tokens are removed from the index, not just filtered"


def test_off_sale_products_leave_the_index_and_come_back_when_on_sale(client, pump, category_id):
    product_id = new_product(client, category_id, title="无线蓝牙耳机")["product_id"]
    pump.drain()

    as_staff(client).delete(f"/admin/products/{product_id}")
    pump.drain()
    assert found(client, "蓝牙") == []
    assert list(SearchTokenModel.by_product.query(product_id)) == []

    as_staff(client).put(f"/admin/products/{product_id}", {"on_sale": True})
    pump.drain()
    assert found(client, "蓝牙") == [product_id]


def test_search_respects_the_category_filter(client, pump, category_id):
    other = new_category(client, "家居")
    gadget = new_product(client, category_id, title="蓝牙音箱")["product_id"]
    lamp = new_product(client, other, title="蓝牙台灯")["product_id"]
    pump.drain()

    assert found(client, "蓝牙", category_id=other) == [lamp]
    assert sorted(found(client, "蓝牙")) == sorted([gadget, lamp])


def test_search_results_page_with_the_cursor(client, pump, frozen_clock, category_id):
    ids = []
    for n in range(5):
        frozen_clock.advance(1)
        ids.append(new_product(client, category_id, title=f"蓝牙耳机{n}代")["product_id"])
    pump.drain()

    pages, cursor = [], None
    while True:
        response = client.get("/catalog/products?q=蓝牙&limit=2" + (f"&cursor={cursor}" if cursor else ""))
        pages.append([item["product_id"] for item in response.data["items"]])
        cursor = response.data["next_cursor"]
        if cursor is None:
            break

    assert pages == [ids[::-1][0:2], ids[::-1][2:4], ids[::-1][4:]]


def test_redelivered_and_stale_records_never_bring_an_old_title_back(client, pump, app, category_id):
    product_id = new_product(client, category_id, title="无线蓝牙耳机")["product_id"]
    as_staff(client).put(f"/admin/products/{product_id}", {"title": "降噪头戴耳麦"})
    pump.drain()

    # A second pump starts at the stream's beginning: every record arrives again, oldest first.
    EventPump(app, raise_errors=True).drain()

    assert found(client, "蓝牙") == []
    assert found(client, "降噪") == [product_id]


def test_a_query_without_searchable_characters_finds_nothing(client, pump, category_id):
    new_product(client, category_id)
    pump.drain()
    assert found(client, "!!!") == []


def test_tokenizer_indexes_unigrams_bigrams_and_words():
    assert search.index_tokens("蓝牙 Mini耳机") == {"蓝", "牙", "蓝牙", "mini", "耳", "机", "耳机"}
    assert search.query_tokens("无线蓝牙") == ["无线", "线蓝", "蓝牙"]
    assert search.query_tokens("蓝") == ["蓝"]
