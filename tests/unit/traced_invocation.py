"""A child process for test_tracing: the checkout function's cold start as Lambda runs it, on moto in-process.

The parent sets the environment (Lambda's variables, a trace header, the X-Ray daemon's address, or
POWERTOOLS_TRACE_DISABLED). This imports the app, then answers a buyer's GET /orders/{order_id} and
GET /orders through the Lambda handler, and prints one JSON line: the statuses, whether the X-Ray SDK
was imported by the app's import and by the requests, whether botocore was patched, and the seconds
the import and the first request took.

Run as `python -m tests.unit.traced_invocation`.
"""
import time

STARTED = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402

ORDER_ID = "01JTRACEDORDER000000000000"
BUYER = "U-traced"


def api_event(path: str, resource: str, params: dict | None, token: str) -> dict:
    return {
        "resource": resource, "path": path, "httpMethod": "GET",
        "headers": {"Accept": "application/json", "Host": "localhost", "Authorization": f"Bearer {token}"},
        "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": params, "stageVariables": None, "body": None, "isBase64Encoded": False,
        "requestContext": {"resourcePath": resource, "httpMethod": "GET", "path": path, "stage": "api",
                           "requestId": "traced", "identity": {"sourceIp": "127.0.0.1"}},
    }


class LambdaContext:
    function_name = "micromall-checkout"
    aws_request_id = "traced-request"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:micromall-checkout"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30000


def xray_loaded() -> bool:
    return any(name == "aws_xray_sdk" or name.startswith("aws_xray_sdk.") for name in sys.modules)


def main() -> None:
    from app import app as handler

    imported = time.perf_counter()
    loaded_at_import = xray_loaded()
    from moto import mock_aws

    with mock_aws():
        from chalicelib.core import auth
        from infra.tables import create_tables

        create_tables()
        token = auth.issue_buyer_token(BUYER)
        one = api_event(f"/orders/{ORDER_ID}", "/orders/{order_id}", {"order_id": ORDER_ID}, token)
        first = time.perf_counter()
        statuses = [handler(one, LambdaContext())["statusCode"]]
        answered = time.perf_counter()
        statuses.append(handler(api_event("/orders", "/orders", None, token), LambdaContext())["statusCode"])
    import botocore.client

    print(json.dumps({
        "statuses": statuses, "xray_at_import": loaded_at_import, "xray_after_requests": xray_loaded(),
        "botocore_patched": type(botocore.client.BaseClient.__dict__["_make_api_call"]).__name__ != "function",
        "import_seconds": imported - STARTED, "first_request_seconds": answered - first}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
