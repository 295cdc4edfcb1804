"""`make run` starts the whole stack on a free port, keeps data across restarts, and stops cleanly."""
from __future__ import annotations

import time

import pytest

from tests.e2e.stack import RunningStack


@pytest.fixture(scope="module")
def stack_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("local")


def test_stack_starts_serves_demo_data_and_stops_cleanly(stack_dir):
    stack = RunningStack(stack_dir).wait_ready()
    try:
        status, products = stack.request("GET", "/catalog/products?limit=50")
        assert status == 200, products
        assert len(products["items"]) >= 20
        status, login = stack.request("POST", "/auth/login", {"code": "dev:alice"})
        assert status == 200, login
        status, address = stack.request("POST", "/me/addresses", {
            "name": "张三", "phone": "13800138000", "province": "广东省", "city": "深圳市",
            "district": "南山区", "detail": "科技园 1 号", "is_default": True}, token=login["token"])
        assert status == 201, address
        output = stack.output()
        assert f"http://127.0.0.1:{stack.port}" in output and "curl" in output and "dev:alice" in output
    finally:
        code = stack.stop()
    assert code == 0, stack.output()
    time.sleep(0.2)
    assert not stack.group_alive(), "a process of the stack outlived Ctrl-C"
    assert (stack_dir / "data" / "dynamodb.json").exists()


def test_data_survives_a_restart(stack_dir):
    stack = RunningStack(stack_dir).wait_ready()
    try:
        status, login = stack.request("POST", "/auth/login", {"code": "dev:alice"})
        assert status == 200, login
        status, addresses = stack.request("GET", "/me/addresses", token=login["token"])
        assert status == 200, addresses
        items = addresses["items"] if isinstance(addresses, dict) else addresses
        assert [a["detail"] for a in items] == ["科技园 1 号"]
        assert "seeded the demo catalog" not in stack.output(), "demo data was seeded twice"
    finally:
        assert stack.stop() == 0


def test_a_busy_port_is_reported_plainly(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    from tests.e2e.stack import ROOT

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MALL_", "AWS_"))}
        env.update({"PORT": str(port), "MALL_LOCAL_DIR": str(tmp_path)})
        result = subprocess.run([sys.executable, "-m", "infra.local"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"port {port} is in use" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
