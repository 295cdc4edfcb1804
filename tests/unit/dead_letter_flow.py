"""A child process for test_pump: on the embedded server, a failing stream handler's batch goes to its
on-failure queue through the local pump, and `infra redrive` replays it once the handler works again.

Run as `python -m tests.unit.dead_letter_flow`; prints one JSON line of what it saw.
"""
from __future__ import annotations

import json
import os

from infra.local.embedded import EmbeddedAws


def main() -> None:
    server = EmbeddedAws().start()
    os.environ.update({"MALL_DYNAMODB_ENDPOINT": server.url, "MALL_TABLE_PREFIX": "dead-letter-flow-",
                       "MALL_PROVIDERS": "sandbox", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})
    from infra.tables import create_tables

    create_tables(wait=True)
    import app as app_module
    from chalicelib.catalog import search, service
    from infra.local.pump import EventPump
    from infra.redrive import redrive

    pump = EventPump(app_module.app, endpoint_url=server.url, starting_position="LATEST")
    pump.create_queues()
    pump.position_streams()
    working = search.refresh
    search.refresh = lambda records: (_ for _ in ()).throw(RuntimeError("the search index is down"))
    category = service.create_category("死信")
    service.create_product("死信测试商品", category.category_id, [{"specs": {"色": "红"}, "price": 100, "stock": 1}])
    pump.drain()
    dead_lettered = pump.dead_lettered
    found_while_down = search.search("死信", category_id=None, after=None, limit=10)[0]
    search.refresh = working
    report = redrive("catalog_search_indexer-dlq", say=lambda line: None)
    found = search.search("死信", category_id=None, after=None, limit=10)[0]
    print(json.dumps({"dead_lettered": dead_lettered, "found_while_down": len(found_while_down),
                      "replayed": report.replayed, "failed": len(report.failed), "found": len(found)}))


if __name__ == "__main__":
    main()
