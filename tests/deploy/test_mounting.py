"""A feature stage behind a base-path mapping (MALL_BASE_PATHS) answers its routes without the stripped segment."""
from __future__ import annotations

from app import unmount
from infra.apps import built_app, shape


def test_unmount_drops_only_a_mounted_first_segment():
    mounted = frozenset({"catalog", "me"})
    assert unmount("/catalog/products/{product_id}", mounted) == "/products/{product_id}"
    assert unmount("/me", mounted) == "/"
    assert unmount("/cart/items", mounted) == "/cart/items"
    assert unmount("/catalogue/x", mounted) == "/catalogue/x"


def test_a_mounted_catalog_serves_a_product_page_at_the_stripped_path(client, tmp_path):
    from chalice.test import Client

    from chalicelib.catalog import service

    category = service.create_category("挂载")
    product = service.create_product("挂载测试", category.category_id, [{"specs": {"色": "红"}, "price": 100,
                                                                       "stock": 1}])
    with built_app(("catalog",), shape("catalog").base_paths) as mounted:
        with Client(mounted, project_dir=str(tmp_path)) as mounted_client:
            page = mounted_client.http.get(f"/products/{product.product_id}")
            health = mounted_client.http.get("/health")
            unmounted = mounted_client.http.get(f"/catalog/products/{product.product_id}")
    assert page.status_code == 200 and product.product_id in page.body.decode()
    assert health.status_code == 200
    assert unmounted.status_code in (403, 404)
    # The app the other tests use still answers at the full path: composing a second app left it alone.
    assert client.get(f"/catalog/products/{product.product_id}").status_code == 200


def test_composing_the_same_features_twice_keeps_every_method():
    with built_app(("members",)) as first, built_app(("members",), ("auth", "me")) as second:
        assert {path: sorted(methods) for path, methods in first.routes.items()}["/me/addresses"] == ["GET", "POST"]
        assert sorted(second.routes["/addresses"]) == ["GET", "POST"]
        assert sorted(second.routes["/"]) == ["DELETE", "GET"]  # GET /me and DELETE /me, mounted at the base path
