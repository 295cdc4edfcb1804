"""One cold start, as Lambda sees it: a fresh process, import the handler, answer one request.

Run as `python -m benchmarks.coldstart_probe '<request as JSON>'`: {"app": "mall"|"bare", "method", "path",
"resource", "params", "query", "headers", "body"} (see `request_spec`). The mall's function is the one
MALL_FEATURES names in the environment. Prints the seconds from the process's first line of Python to the
answered request, the status code and the modules loaded.
"""
import time

STARTED = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402

# Libraries the bare app never loads, worth naming when a function's first request loads them.
HEAVY = ("pydantic", "jwt", "aws_lambda_powertools", "aws_xray_sdk", "ulid")


def request_spec(app: str, method: str, path: str, resource: str, *, params: dict | None = None,
                 query: dict | None = None, headers: dict | None = None, body: dict | None = None) -> str:
    """The probe's argument: one request, in the fields API Gateway's proxy event carries."""
    return json.dumps({"app": app, "method": method, "path": path, "resource": resource, "params": params,
                       "query": query, "headers": headers or {}, "body": body}, ensure_ascii=False)


def api_gateway_event(method: str, path: str, resource: str, params: dict | None = None,
                      query: dict | None = None, headers: dict | None = None, body: dict | None = None) -> dict:
    """An API Gateway REST (proxy) event, as Lambda hands it to Chalice."""
    all_headers = {"Accept": "application/json", "Host": "localhost", **(headers or {})}
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    return {
        "resource": resource, "path": path, "httpMethod": method,
        "headers": all_headers, "multiValueHeaders": {key: [value] for key, value in all_headers.items()},
        "queryStringParameters": query, "multiValueQueryStringParameters":
            {key: [value] for key, value in query.items()} if query else None,
        "pathParameters": params, "stageVariables": None,
        "body": json.dumps(body, ensure_ascii=False) if body is not None else None, "isBase64Encoded": False,
        "requestContext": {"resourcePath": resource, "httpMethod": method, "path": path, "stage": "api",
                           "requestId": "bench", "identity": {"sourceIp": "127.0.0.1"}},
    }


class Context:
    function_name = "bench"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis():
        return 30000


def main() -> None:
    spec = json.loads(sys.argv[1])
    if spec["app"] == "mall":
        from app import app as handler
    else:
        from benchmarks.bare_app import app as handler
    event = api_gateway_event(spec["method"], spec["path"], spec["resource"], spec["params"], spec["query"],
                              spec["headers"], spec["body"])
    response = handler(event, Context())
    elapsed = time.perf_counter() - STARTED
    loaded = sorted(name for name in sys.modules if name.startswith("chalicelib."))
    heavy = sorted(name for name in HEAVY if name in sys.modules)
    print(json.dumps({"seconds": elapsed, "status": response["statusCode"], "modules": loaded, "heavy": heavy,
                      "body": response["body"][:300] if response["statusCode"] >= 400 else ""}))


if __name__ == "__main__":
    main()
