"""Arrange catalog state through the public API, shared by the catalog and admin catalog tests."""
from __future__ import annotations

from tests.conftest import staff_token

COLORS = ["红", "蓝", "绿", "黑", "白", "灰", "紫", "黄", "橙", "粉"]
SIZES = ["S", "M", "L"]


def sku(color: str = "红", price: int = 9900, stock: int = 10, **more) -> dict:
    return {"specs": {"颜色": color}, "price": price, "stock": stock, **more}


def skus_for(count: int) -> list[dict]:
    """`count` SKUs with distinct 颜色 x 尺码 combinations (up to 30)."""
    combos = [(color, size) for color in COLORS for size in SIZES][:count]
    return [{"specs": {"颜色": c, "尺码": s}, "price": 1000 + i, "stock": i} for i, (c, s) in enumerate(combos)]


def as_staff(client, username: str = "admin", role: str = "owner"):
    """`client` acting as staff `username`, whose account exists (the console re-checks it on every call)."""
    from chalicelib.admin import service
    from chalicelib.admin.passwords import ScryptCost

    try:
        service.create_staff(username, f"{username}-password", role, cost=ScryptCost(n=2**4, r=8, p=1))
    except service.StaffExists:
        pass
    return client.as_token(staff_token(username, role))


def new_category(client, name: str = "数码", parent_id: str | None = None) -> str:
    body = {"name": name} if parent_id is None else {"name": name, "parent_id": parent_id}
    response = as_staff(client).post("/admin/categories", body)
    assert response.status_code == 201, response.data
    return response.data["category_id"]


def new_product(client, category_id: str, title: str = "无线蓝牙耳机", skus: list[dict] | None = None,
                **fields) -> dict:
    body = {"title": title, "category_id": category_id, "skus": skus or [sku("红"), sku("蓝", price=10900)],
            **fields}
    response = as_staff(client).post("/admin/products", body)
    assert response.status_code == 201, response.data
    return response.data


def error_code(response) -> str:
    return (response.data or {}).get("error", {}).get("code")
