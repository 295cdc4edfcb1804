"""Capacity model of a flash sale on DynamoDB, and of the whole shop at 1M orders a day.

The sale: requests arrive at `rate` a second for `seconds`, each handled by one of `functions`
Lambda instances, and each follows checkout/flash.py exactly: answered from the sold-out flag
(the pool's stream handler's, visible to every function `flag_lag` seconds after the last unit
went: stream delay plus the functions' 1 s cache) or from the function's own knowledge (it saw
every shard empty), otherwise a reservation on a random shard (a transactional write: 2 write
units on that item, charged whether its condition holds or not), and after a failed one a read
of the pool and a random shard that still holds a unit. Writes are counted per item per second
against DynamoDB's limit of 1,000 write units a second per item (partition). `python -m
benchmarks.flash_capacity` prints both models; `make bench` writes them into report.md.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass

ITEM_WCU_PER_SECOND = 1000  # DynamoDB: one partition (so one item) takes about 1,000 write units a second
TRANSACTION_WCU = 2  # a transactional write of an item up to 1 KB costs 2 write units
TARGET_UTILISATION = 0.75  # shards are sized for 75% of the item limit: random choice is lumpy
COMMIT_ATTEMPTS = 6  # checkout/flash.py


def shards_for(rate: float, utilisation: float = TARGET_UTILISATION) -> int:
    """The shard count docs/DEPLOY.md gives: reservations a second x 2 write units over 75% of one item's limit."""
    return max(1, math.ceil(rate * TRANSACTION_WCU / (ITEM_WCU_PER_SECOND * utilisation)))


@dataclass
class SaleRun:
    rate: int
    shards: int
    stock: int
    sold: int
    lowest_shard: int  # the lowest any shard's `available` ever was (never below 0)
    peak_item_wcu: int  # the most write units one pool item took in any one second
    items_over_limit: int  # (item, second) pairs above ITEM_WCU_PER_SECOND
    sold_out_at: float | None  # seconds from the start
    writes_after_sell_out: int  # reservations attempted after the last unit went (failing conditions)
    writes_after_flag: int  # ... after the flag was visible everywhere: must be 0
    requests_after_flag: int
    busy: int  # requests that ran out of attempts (503 BUSY)

    @property
    def oversold(self) -> int:
        return max(0, self.sold - self.stock)

    @property
    def holds(self) -> bool:
        return self.items_over_limit == 0 and self.oversold == 0 and self.lowest_shard >= 0


def simulate_sale(*, rate: int, shards: int, stock: int, seconds: float, functions: int = 1000,
                  flag_lag: float = 2.0, seed: int = 14) -> SaleRun:
    rng = random.Random(seed)
    share, extra = divmod(stock, shards)
    available = [share + (1 if n < extra else 0) for n in range(shards)]
    wcu: dict[tuple[int, int], int] = defaultdict(int)  # (item, whole second) -> write units
    knows_sold_out = [False] * functions
    sold = busy = writes_after_sell_out = writes_after_flag = requests_after_flag = 0
    sold_out_at: float | None = None
    lowest = min(available)
    for n in range(int(rate * seconds)):
        at = n / rate
        second = int(at)
        flag_visible = sold_out_at is not None and at >= sold_out_at + flag_lag
        requests_after_flag += flag_visible
        function = rng.randrange(functions)
        if flag_visible or knows_sold_out[function]:
            continue  # 409 SOLD_OUT: the key's GetItem, no write
        shard = rng.randrange(shards)
        for _ in range(COMMIT_ATTEMPTS):
            wcu[(shard, second)] += TRANSACTION_WCU
            writes_after_sell_out += sold_out_at is not None
            writes_after_flag += flag_visible
            if available[shard] > 0:
                available[shard] -= 1
                sold += 1
                lowest = min(lowest, available[shard])
                if sold == stock:
                    sold_out_at = at
                break
            candidates = [k for k in range(shards) if available[k] > 0]  # the consistent read of the pool
            if not candidates:
                knows_sold_out[function] = True
                break
            shard = rng.choice(candidates)
        else:
            busy += 1
    over = sum(1 for units in wcu.values() if units > ITEM_WCU_PER_SECOND)
    return SaleRun(rate=rate, shards=shards, stock=stock, sold=sold, lowest_shard=lowest,
                   peak_item_wcu=max(wcu.values(), default=0), items_over_limit=over, sold_out_at=sold_out_at,
                   writes_after_sell_out=writes_after_sell_out, writes_after_flag=writes_after_flag,
                   requests_after_flag=requests_after_flag, busy=busy)


def smallest_holding(rate: int, stock: int, seconds: float, **kw) -> SaleRun:
    """The fewest shards with no item above its limit, nothing oversold and no shard below zero."""
    for shards in range(1, 101):
        run = simulate_sale(rate=rate, shards=shards, stock=stock, seconds=seconds, **kw)
        if run.holds:
            return run
    raise RuntimeError(f"no shard count up to 100 holds {rate} reservations a second")


# --- the whole shop ---------------------------------------------------------------------------

# On-demand prices, us-east-1, USD (AWS price pages, 2025): DynamoDB $0.625 per million write request
# units and $0.125 per million read request units, storage $0.25 per GB-month; Lambda $0.0000166667 per
# GB-second (x86) and $0.20 per million requests; API Gateway REST API $3.50 per million requests. A shop in
# cn-north-1 / cn-northwest-1 pays in CNY at different rates: replace these with that region's prices.
PRICE_WRITE_UNIT = 0.625 / 1e6
PRICE_READ_UNIT = 0.125 / 1e6
PRICE_GB_MONTH = 0.25
PRICE_GB_SECOND = 0.0000166667
PRICE_LAMBDA_REQUEST = 0.20 / 1e6
PRICE_API_REQUEST = 3.50 / 1e6


@dataclass(frozen=True)
class Step:
    """One kind of request on the way to a shipped order: how many per order, what each costs."""
    stage: str
    what: str
    function: str
    per_order: float
    read_units: float  # per request: eventually consistent 0.5 per 4 KB, consistent 1, transactional 2
    write_units: float  # per request: 1 per KB written, 2 per KB in a transaction, plus index writes
    millis: float  # Lambda billed duration per request
    memory_mb: int
    api: bool = True  # through API Gateway (stream and schedule handlers are not)


STEPS = (
    Step("browse", "product page (GetItem product, BatchGetItem SKUs)", "catalog", 15, 2.0, 0, 30, 512),
    Step("browse", "category list / search (Query, BatchGetItem)", "catalog", 5, 6.0, 0, 40, 512),
    Step("cart", "add to cart (card read, line update)", "cart", 2, 1.0, 2, 40, 512),
    Step("cart", "view cart (Query lines, BatchGetItem cards)", "cart", 2, 2.0, 0, 40, 512),
    Step("checkout", "preview (key, address, cart, cards, member, level)", "checkout", 1, 4.0, 0, 80, 1024),
    Step("checkout", "submit: TransactWriteItems (stock, 3 KB order, key, cart) + 5 order indexes", "checkout", 1,
         4.5, 14 + 15, 150, 1024),
    Step("pay", "webhook: verify, TransactWriteItems (order, stock, ledger) + index moves", "payments", 1,
         3.0, 10 + 12, 120, 512),
    Step("pay", "orders stream: sales counter marker + product counter", "checkout-sales-counter", 1,
         1.0, 4, 10, 512, api=False),
    Step("ship", "staff ship: TransactWriteItems order + index moves", "admin", 1, 2.0, 6 + 12, 80, 512),
    Step("ship", "completion (buyer or sweeper) + index moves", "checkout", 1, 2.0, 6 + 12, 80, 1024),
    Step("ship", "member effects from the orders stream (growth, points ledger, marker)", "members-effects", 1,
         2.0, 8, 20, 512, api=False),
)
ORDER_BYTES = 3 * 1024 * 4  # the order item and its copies in 3 ALL-projected indexes kept over time


@dataclass
class ShopModel:
    orders_per_day: int
    peak_factor: int
    per_order_read_units: float
    per_order_write_units: float
    per_order_lambda_ms: float
    per_order_gb_seconds: float
    per_order_api_requests: float
    peak_orders_per_second: float
    concurrency: dict[str, int]
    monthly: dict[str, float]


def shop_model(orders_per_day: int = 1_000_000, peak_factor: int = 10, headroom: float = 2.0) -> ShopModel:
    peak = orders_per_day / 86_400 * peak_factor
    busy_seconds: dict[str, float] = defaultdict(float)
    for step in STEPS:
        busy_seconds[step.function] += step.per_order * step.millis / 1000
    concurrency = {function: max(1, math.ceil(peak * seconds * headroom)) for function, seconds in busy_seconds.items()}
    reads = sum(s.per_order * s.read_units for s in STEPS)
    writes = sum(s.per_order * s.write_units for s in STEPS)
    gb_seconds = sum(s.per_order * s.millis / 1000 * s.memory_mb / 1024 for s in STEPS)
    lambda_requests = sum(s.per_order for s in STEPS)
    api_requests = sum(s.per_order for s in STEPS if s.api)
    month = orders_per_day * 30
    monthly = {
        "DynamoDB writes": month * writes * PRICE_WRITE_UNIT,
        "DynamoDB reads": month * reads * PRICE_READ_UNIT,
        "DynamoDB storage (a month of orders)": month * ORDER_BYTES / 1024**3 * PRICE_GB_MONTH,
        "Lambda compute": month * gb_seconds * PRICE_GB_SECOND,
        "Lambda requests": month * lambda_requests * PRICE_LAMBDA_REQUEST,
        "API Gateway requests": month * api_requests * PRICE_API_REQUEST,
    }
    return ShopModel(orders_per_day=orders_per_day, peak_factor=peak_factor, per_order_read_units=reads,
                     per_order_write_units=writes, per_order_lambda_ms=sum(s.per_order * s.millis for s in STEPS),
                     per_order_gb_seconds=gb_seconds, per_order_api_requests=api_requests,
                     peak_orders_per_second=peak, concurrency=concurrency, monthly=monthly)


# --- the report ------------------------------------------------------------------------------

SALE_RATE = 10_000
SALE_STOCK = 50_000  # five seconds of reservations at 10,000 a second
SALE_SECONDS = 15.0  # ten more seconds of the crowd after the sell-out
SALE_TABLE_HEADER = ("| shards | sold | lowest shard | peak write units / item / s | item-seconds over the limit "
                     "| writes after the sell-out | writes after the flag | verdict |\n"
                     "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")


def flash_capacity_section() -> str:
    run = smallest_holding(SALE_RATE, SALE_STOCK, SALE_SECONDS)
    rows = [simulate_sale(rate=SALE_RATE, shards=n, stock=SALE_STOCK, seconds=SALE_SECONDS)
            for n in sorted({10, 20, run.shards, shards_for(SALE_RATE), 40})]
    table = "\n".join(
        f"| {r.shards} | {r.sold:,} | {r.lowest_shard} | {r.peak_item_wcu:,} | {r.items_over_limit} | "
        f"{r.writes_after_sell_out:,} | {r.writes_after_flag} of {r.requests_after_flag:,} | "
        f"{'holds' if r.holds else 'over the limit'} |" for r in rows)
    shop = shop_model()
    steps = "\n".join(f"| {s.stage} | {s.what} | `{s.function}` | {s.per_order:g} | {s.read_units:g} | "
                      f"{s.write_units:g} | {s.millis:g} ms @ {s.memory_mb} MB |" for s in STEPS)
    concurrency = "\n".join(f"| `{f}` | {c} |" for f, c in sorted(shop.concurrency.items()))
    costs = "\n".join(f"| {name} | ${amount:,.0f} |" for name, amount in shop.monthly.items())
    return f"""## Flash sale capacity (model: `benchmarks/flash_capacity.py`)

A sale of {SALE_STOCK:,} units with requests arriving at {SALE_RATE:,} a second for {SALE_SECONDS:g} s
(1,000 checkout instances; the sold-out flag visible everywhere 2 s after the last unit went). Each
reservation is a transactional write: 2 write units on its pool shard, charged whether its condition holds
or not; one item takes {ITEM_WCU_PER_SECOND:,} write units a second, so about 500 reservations.

{SALE_TABLE_HEADER}
{table}

The smallest shard count that holds {SALE_RATE:,} reservations a second: **{run.shards}** (docs/DEPLOY.md's
rule, rate x 2 / (1,000 x 75%), gives {shards_for(SALE_RATE)}). Nothing is oversold at any count: a shard
is only ever decremented under `available >= qty`. Between the last unit and the flag, each instance spends
at most one failing write before it answers SOLD_OUT by itself; after the flag the crowd costs no write.

### The whole shop: {shop.orders_per_day:,} orders a day, peaks at {shop.peak_factor}x

Per order, along the real path (assumptions: 20 catalog reads and 4 cart requests per order; order item
3 KB; an index write costs the item's size in write units; eventually consistent reads where the code
reads so):

| stage | request | function | per order | read units | write units | Lambda |
| --- | --- | --- | ---: | ---: | ---: | --- |
{steps}

Per order: {shop.per_order_read_units:g} read units, {shop.per_order_write_units:g} write units,
{shop.per_order_lambda_ms:,.0f} ms of Lambda ({shop.per_order_gb_seconds:.2f} GB-s),
{shop.per_order_api_requests:g} API requests. At the peak ({shop.peak_orders_per_second:,.0f} orders a
second) each function's reserved concurrency = peak requests a second x duration x 2 (headroom for
cold starts, well inside a 2 s answer):

| function | reserved concurrency at the peak |
| --- | ---: |
{concurrency}

A month at on-demand prices (us-east-1, USD; DynamoDB $0.625 per million write and $0.125 per million
read request units, $0.25 per GB-month; Lambda $0.0000166667 per GB-s and $0.20 per million requests;
API Gateway REST $3.50 per million):

| item | per month |
| --- | ---: |
{costs}
| **total** | **${sum(shop.monthly.values()):,.0f}** |

Not counted: CloudWatch Logs (the JSON lines; set a retention), X-Ray, data transfer, the payment
providers' fees, S3/CloudFront for the front ends. API Gateway is the largest line: an HTTP API
($1.00 per million) would cut it by 70% but lacks the REST API's request validation and usage plans.
"""


if __name__ == "__main__":
    print(flash_capacity_section())
