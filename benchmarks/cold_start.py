"""The cold start section: each function's first answered request in a fresh process, against a bare Chalice app.

`first_requests()` is the list of what each function's cold starts mostly answer; tests/unit/test_lazy_imports.py
runs it (`python -m benchmarks.run first-requests`, `print_first_requests`) to hold that none of them loads
pydantic, PyJWT or python-ulid. The fixtures it reads come from benchmarks/bench_tables.py.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.report import ms

ROOT = Path(__file__).resolve().parents[1]
COLD_START_TARGET = 1.3
COLD_START_RUNS = int(os.environ.get("BENCH_COLD_START_RUNS", "7"))
PYC_CACHE = Path(tempfile.gettempdir()) / "micromall-bench-pycache"


@dataclass(frozen=True)
class FirstRequest:
    """A function's representative first request: what its cold starts mostly answer."""
    function: str  # the stage (MALL_FEATURES)
    label: str
    spec: Callable[[dict, int], str]  # (fixtures, run number) -> the probe's argument


def buyer(fixtures: dict, run: int) -> dict:
    return fixtures["buyers"][run % len(fixtures["buyers"])]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def first_requests() -> list[FirstRequest]:
    from benchmarks.coldstart_probe import request_spec as mall

    def submit(f: dict, run: int) -> str:
        who = buyer(f, run)  # a buyer per run: the order limit is 10 a minute per buyer
        return mall("mall", "POST", "/orders", "/orders", headers={
            **bearer(who["token"]), "Idempotency-Key": f"bench-cold-{run}-{time.time_ns()}"},
            body={"items": [{"sku_id": f["red_sku"], "quantity": 1}], "address_id": who["address_id"]})

    return [
        FirstRequest("members", "`GET /me`", lambda f, r: mall(
            "mall", "GET", "/me", "/me", headers=bearer(buyer(f, r)["token"]))),
        FirstRequest("catalog", "`GET /catalog/products/{id}`", lambda f, r: mall(
            "mall", "GET", f"/catalog/products/{f['product_id']}", "/catalog/products/{product_id}",
            params={"product_id": f["product_id"]})),
        FirstRequest("cart", "`GET /cart`", lambda f, r: mall(
            "mall", "GET", "/cart", "/cart", headers=bearer(buyer(f, r)["token"]))),
        FirstRequest("checkout", "`POST /orders` (validated body)", submit),
        FirstRequest("checkout", "`GET /orders`", lambda f, r: mall(
            "mall", "GET", "/orders", "/orders", headers=bearer(buyer(f, r)["token"]))),
        FirstRequest("payments", "`POST /payments/prepay` (WeChat Pay sandbox)", lambda f, r: mall(
            "mall", "POST", "/payments/prepay", "/payments/prepay", headers=bearer(f["buyers"][0]["token"]),
            body={"order_id": f["unpaid_order"], "provider": "wechat"})),
        FirstRequest("marketing", "`GET /marketing/coupons`", lambda f, r: mall(
            "mall", "GET", "/marketing/coupons", "/marketing/coupons")),
        FirstRequest("groupbuy", "`GET /groupbuy/campaigns`", lambda f, r: mall(
            "mall", "GET", "/groupbuy/campaigns", "/groupbuy/campaigns")),
        FirstRequest("admin", "`GET /admin/orders`", lambda f, r: mall(
            "mall", "GET", "/admin/orders", "/admin/orders", headers=bearer(f["staff_token"]))),
    ]


def probe(function: str | None, spec: str, *, check: bool = True) -> tuple[float, dict]:
    """One cold start of `function` (None: the bare app) answering the request `spec` names (`check`: a 2xx)."""
    # Every module, the mall's and the libraries', loads from a .pyc in the bench's own cache (written by the
    # warm-up runs), whatever the machine's PYTHONDONTWRITEBYTECODE or __pycache__ folders: what the code costs,
    # not what compiling it costs (README, "Cold starts", on packages that ship no .pyc).
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env.update({"BARE_TABLE": "bench-bare", "PYTHONPYCACHEPREFIX": str(PYC_CACHE),
                **({"MALL_FEATURES": function} if function else {})})
    result = subprocess.run([sys.executable, "-m", "benchmarks.coldstart_probe", spec], cwd=ROOT,
                            env=env, capture_output=True, text=True, check=True)
    data = json.loads(result.stdout.strip().splitlines()[-1])
    if check and data["status"] not in (200, 201):
        raise RuntimeError(f"{function} answered {data['status']}: {result.stdout}{result.stderr}")
    return data["seconds"], data


def bare_spec(fixtures: dict) -> str:
    from benchmarks.coldstart_probe import request_spec

    item = fixtures["bare_id"]
    return request_spec("bare", "GET", f"/items/{item}", "/items/{item_id}", params={"item_id": item})


def cold_starts(request: FirstRequest, fixtures: dict) -> dict:
    """COLD_START_RUNS fresh processes of the function and of the bare app, interleaved, after one warm-up each."""
    probe(request.function, request.spec(fixtures, COLD_START_RUNS))  # warm the OS file cache and the .pyc files
    probe(None, bare_spec(fixtures))
    mall, bare, data = [], [], {}
    for run in range(COLD_START_RUNS):  # interleaved, so drift in machine load hits both alike
        seconds, data = probe(request.function, request.spec(fixtures, run))
        mall.append(seconds)
        bare.append(probe(None, bare_spec(fixtures))[0])
    return {"mall": statistics.median(mall), "bare": statistics.median(bare), "heavy": data["heavy"],
            "modules": data["modules"], "spread": (min(mall), max(mall))}


def cold_start_section(fixtures: dict, functions: set[str] | None = None) -> str:
    started = time.perf_counter()
    rows, verdicts, strays = [], [], []
    for request in first_requests():
        if functions is not None and request.function not in functions:
            continue
        result = cold_starts(request, fixtures)
        ratio = result["mall"] / result["bare"]
        verdicts.append(ratio <= COLD_START_TARGET)
        heavy = ", ".join(result["heavy"]) or "none"
        rows.append(f"| {request.function} | {request.label} | {ms(result['mall'])} | {ms(result['bare'])} "
                    f"| **{ratio:.2f}x** | {'meets' if verdicts[-1] else 'MISSES'} | {heavy} |")
        others = sorted({m.split(".")[1] for m in result["modules"]} - {"core", request.function})
        if others:
            strays.append(f"{request.function} ({', '.join(others)})")
    table = "\n".join(rows)
    return f"""## Cold start: each function's first answered request in a fresh process

A fresh Python process imports the handler (`MALL_FEATURES=<function>`, as its Lambda function does) and answers
one API Gateway event: the request that function's cold starts mostly answer, against the embedded DynamoDB
with a buyer's or a staff account's token (bench tables: buyers with an address and a cart line, an unpaid order,
coupons, a running campaign, a staff account). The baseline is a bare Chalice app answering `GET /items/{{id}}`
with one boto3 `GetItem` on the same server. {COLD_START_RUNS} runs each, each function's runs interleaved with
the bare app's; medians ("first line of Python -> response", what a Lambda init plus first invoke costs). Every
module loads from a `.pyc` in the bench's own cache, as it does from the packages in Lambda (README, "Cold starts").
Section time {time.perf_counter() - started:.0f} s.

| function | first request | mall | bare Chalice + boto3 | ratio | target <= {COLD_START_TARGET}x | heavy modules loaded |
| --- | --- | ---: | ---: | ---: | --- | --- |
{table}

{sum(verdicts)} of {len(verdicts)} meet the target. None of these requests imports pydantic, PyJWT or python-ulid
(README, "Cold starts": runtime views, committed request schemas; tests/unit/test_lazy_imports.py). The admin's list
reads eight index shards, one round trip each. Other features' modules these requests load:
{"; ".join(strays) or "none"}.
"""


def print_first_requests(fixtures: dict) -> None:
    """Each first request once, in a fresh process: a JSON line each of its status and the heavy modules it loaded."""
    for number, request in enumerate(first_requests()):
        _, data = probe(request.function, request.spec(fixtures, number), check=False)
        print(json.dumps({"function": request.function, "request": request.label, "status": data["status"],
                          "heavy": data["heavy"], "body": data["body"]}, ensure_ascii=False), flush=True)
