"""A Python client generated from the stack's /openapi.json (openapi-python-client) buys, pays and reads back.

The generator skips what the document cannot describe (it warns), so a clean generation with
a module for every operation, and a real session through it, show the document is complete
enough for a typed client: bodies, path and query parameters, the Idempotency-Key header.
"""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def generated(stack, tmp_path_factory):
    """(the generated package, the document it was generated from)."""
    root = tmp_path_factory.mktemp("client")
    with urllib.request.urlopen(stack.url + "/openapi.json", timeout=10) as response:
        document = json.loads(response.read())
    (root / "openapi.json").write_text(json.dumps(document))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # it formats with ruff
    result = subprocess.run([str(BIN / "openapi-python-client"), "generate", "--path", str(root / "openapi.json"),
                             "--output-path", str(root / "mall_client"), "--meta", "none"],
                            cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("mall_client"), document
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name == "mall_client" or name.startswith("mall_client.")]:
            del sys.modules[name]


def module(client, name: str):
    tag = name.split("_", 1)[0]
    return importlib.import_module(f"{client.__name__}.api.{tag}.{name}")


def test_every_documented_operation_has_a_generated_call(generated):
    client, document = generated
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert hasattr(module(client, operation["operationId"]), "sync_detailed"), (method, path)


def test_a_buyer_session_through_the_generated_client(stack, generated):
    client, _ = generated
    models = importlib.import_module(f"{client.__name__}.models")
    anonymous = client.Client(base_url=stack.url, raise_on_unexpected_status=True)

    login = module(client, "members_login").sync_detailed(client=anonymous, body=models.LoginBody(code="dev:typed"))
    assert login.status_code == 200, login.content
    buyer = client.AuthenticatedClient(base_url=stack.url, token=login.parsed.token)

    address = module(client, "members_add_address").sync_detailed(client=buyer, body=models.NewAddressBody(
        name="李四", phone="13900139000", province="浙江省", city="杭州市", district="西湖区", detail="文三路 1 号"))
    assert address.status_code == 201, address.content
    page = module(client, "catalog_products").sync_detailed(client=anonymous, limit=5)
    product = module(client, "catalog_product").sync_detailed(page.parsed.items[0].product_id, client=anonymous)
    sku = next(sku for sku in product.parsed.skus if sku.stock > 0)

    submission = models.OrderSubmission(items=[models.OrderItem(sku_id=sku.sku_id, quantity=1)],
                                        address_id=address.parsed.address_id)
    submit = module(client, "checkout_submit_order")
    placed = submit.sync_detailed(client=buyer, body=submission, idempotency_key="typed-client-0001")
    assert placed.status_code == 201, placed.content
    again = submit.sync_detailed(client=buyer, body=submission, idempotency_key="typed-client-0001")
    assert again.parsed.order_id == placed.parsed.order_id

    paid = module(client, "payments_sandbox_pay").sync_detailed(
        client=buyer, body=models.SandboxPayBody(order_id=placed.parsed.order_id))
    assert paid.status_code == 200 and paid.parsed.status == "PAID", paid.content
    read = module(client, "checkout_get_order").sync_detailed(placed.parsed.order_id, client=buyer)
    assert read.parsed.status == "PAID" and read.parsed.payable == placed.parsed.payable

    refused = submit.sync_detailed(client=buyer, body=submission, idempotency_key="short")
    assert refused.status_code == 400 and refused.parsed.error.code == "INVALID_IDEMPOTENCY_KEY"
