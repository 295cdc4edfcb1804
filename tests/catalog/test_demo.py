"""The demo catalog the local stack loads."""
from __future__ import annotations

from chalicelib.catalog.demo import seed_demo_catalog


def test_demo_catalog_has_categories_and_products_with_several_skus(client):
    created = seed_demo_catalog()

    categories = client.get("/catalog/categories").data["items"]
    products = []
    cursor = None
    while True:
        page = client.get("/catalog/products?limit=50" + (f"&cursor={cursor}" if cursor else "")).data
        products += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert created == len(products) >= 20
    assert {"服装", "数码", "食品"} <= {c["name"] for c in categories}
    page = client.get(f"/catalog/products/{products[0]['product_id']}").data
    assert len(page["skus"]) >= 2
    assert all(s["price"] > 0 and s["stock"] > 0 and s["image"].startswith("https://picsum.photos/seed/")
               for s in page["skus"])


def test_seeding_twice_creates_nothing_the_second_time(client):
    first = seed_demo_catalog()
    assert seed_demo_catalog() == 0
    assert len(client.get("/catalog/products?limit=50").data["items"]) == first
