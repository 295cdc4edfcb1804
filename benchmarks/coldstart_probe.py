"""One cold start, as Lambda sees it: a fresh process, import the handler, answer one request.

Run as `python -m benchmarks.coldstart_probe mall|bare <id>`; prints the seconds from
the process's first line of Python to the answered request, and the status code.
"""
import time

STARTED = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402


def api_gateway_event(path: str, resource: str, params: dict) -> dict:
    return {
        "resource": resource, "path": path, "httpMethod": "GET",
        "headers": {"Accept": "application/json", "Host": "localhost"}, "multiValueHeaders": {},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": params, "stageVariables": None, "body": None, "isBase64Encoded": False,
        "requestContext": {"resourcePath": resource, "httpMethod": "GET", "path": path, "stage": "api",
                           "requestId": "bench", "identity": {"sourceIp": "127.0.0.1"}},
    }


class Context:
    function_name = "bench"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis():
        return 30000


def main() -> None:
    which, item_id = sys.argv[1], sys.argv[2]
    if which == "mall":
        from app import app as handler
        event = api_gateway_event(f"/catalog/products/{item_id}", "/catalog/products/{product_id}",
                                  {"product_id": item_id})
    else:
        from benchmarks.bare_app import app as handler
        event = api_gateway_event(f"/items/{item_id}", "/items/{item_id}", {"item_id": item_id})
    response = handler(event, Context())
    elapsed = time.perf_counter() - STARTED
    loaded = sorted(name for name in sys.modules if name.startswith("chalicelib."))
    print(json.dumps({"seconds": elapsed, "status": response["statusCode"], "modules": loaded}))


if __name__ == "__main__":
    main()
