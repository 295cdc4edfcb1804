"""`make run`: the whole mall on this machine, in one process, with no AWS account.

Starts the embedded DynamoDB/SQS, creates every table from the models, restores
the data kept under .local/, seeds the admin account and the demo catalog, then
serves the app on 127.0.0.1:$PORT with the event pump delivering streams, queues
and schedules to its handlers. Ctrl-C (or SIGTERM) stops everything and saves.
"""
from __future__ import annotations

import errno
import faulthandler
import logging
import os
import secrets
import signal
import sys
from pathlib import Path

LOCAL_DIR = Path(os.environ.get("MALL_LOCAL_DIR", ".local"))
HOST = "127.0.0.1"


def local_secret(name: str) -> str:
    """A secret generated once per checkout and kept in .local/keys (git-ignored)."""
    path = LOCAL_DIR / "keys" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def configure_environment(dynamodb_url: str) -> None:
    """Everything the app reads from its environment, set before the app is imported."""
    os.environ.update({
        "MALL_DYNAMODB_ENDPOINT": dynamodb_url,
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "MALL_PROVIDERS": "sandbox",
        # No X-Ray daemon here; tracing is off outside Lambda anyway, this keeps it off in a Lambda-like
        # container too (the AWS base images set LAMBDA_TASK_ROOT).
        "POWERTOOLS_TRACE_DISABLED": "true",
    })
    os.environ.setdefault("MALL_TABLE_PREFIX", "micromall-local-")
    os.environ.setdefault("MALL_JWT_SECRET", local_secret("jwt_secret"))
    os.environ.setdefault("MALL_SANDBOX_KEYS_DIR", str(LOCAL_DIR / "keys"))
    # buyers' phones and addresses are sealed under a local key generated once (chalicelib/core/pii.py)
    os.environ.setdefault("MALL_PII_KEY_FILE", str(LOCAL_DIR / "keys" / "pii.key"))
    # raw analytics events, one JSON line each, a file per shop day (chalicelib/analytics/sink.py)
    os.environ.setdefault("MALL_EVENTS_DIR", str(LOCAL_DIR / "events"))
    os.environ.pop("MALL_EVENTS_FIREHOSE", None)
    os.environ.pop("AWS_PROFILE", None)


def ensure_payment_sandbox() -> Path:
    """The sandbox providers' keys, generated on the first run and kept: a tester signs notifications with them."""
    from chalicelib.payments.providers.sandbox import ensure_sandbox_keys

    keys = ensure_sandbox_keys(Path(os.environ["MALL_SANDBOX_KEYS_DIR"]))
    return keys.directory / "sandbox.json"


class LocalStack:
    def __init__(self, port: int, dynamodb_port: int = 0):
        from infra.local.embedded import EmbeddedAws

        self.port = port
        self.aws = EmbeddedAws(HOST, dynamodb_port).start()
        configure_environment(self.aws.url)
        self.pump = None
        self.server = None

    def prepare_data(self) -> None:
        from infra.tables import create_tables

        create_tables(wait=True)
        restored = self.aws.keep_data(LOCAL_DIR / "data")
        items = sum(len(items) for items in restored.tables.values())
        if items:
            print(f"  restored {items} items from {LOCAL_DIR / 'data'}"
                  f" ({restored.lines_replayed} journaled writes replayed)")

    def start_app(self) -> None:
        from chalice.config import Config

        import app as app_module
        from infra.local.pump import EventPump

        chalice_app = app_module.app
        # The streams hold only what this run wrote, plus the records of the journal's last segments:
        # delivered again after a restart (at least once, as Lambda's triggers), so none is lost to a hard kill.
        self.pump = EventPump(chalice_app, endpoint_url=self.aws.url, starting_position="TRIM_HORIZON",
                              wake=self.aws.app.written)
        self.pump.create_queues()
        self.pump.position_streams()
        self.pump.start()
        seed_demo_data()
        config = Config.create(chalice_stage="dev", chalice_app=chalice_app, app_name="micromall")
        self.server = local_http_server(chalice_app, config, self.port)

    def serve(self) -> None:
        print_welcome(self.port, self.pump)
        self.server.server.serve_forever()

    def stop(self) -> None:
        if self.pump is not None:
            self.pump.stop()
        if self.server is not None:
            self.server.server.server_close()
        self.aws.stop()


def local_http_server(chalice_app, config, port: int):
    """Chalice's local server, answering methods it does not know (TRACE, QUERY, ...) with 405.

    Python's http.server answers an unknown method with a 501 HTML page; API Gateway
    answers JSON in the 4xx range, and so does the mall.
    """
    import json

    from chalice.local import (
        ChaliceRequestHandler,
        CustomLocalChalice,
        ForbiddenError,
        LocalChalice,
        LocalDevServer,
        ThreadedHTTPServer,
    )

    from infra.edges import UNKNOWN_ROUTE
    from infra.local.web import app_of, is_sandbox_login, sandbox_authorize, web_file
    from infra.swagger import docs_file, is_docs_path

    class MallHTTPServer(ThreadedHTTPServer):
        # socketserver listens with a backlog of 5: a burst of buyers (a flash sale) overflows it while
        # the embedded DynamoDB in this process holds the GIL, and the kernel resets the connections.
        request_queue_size = 1024

    class MallRequestHandler(ChaliceRequestHandler):
        # Headers and body are separate writes: without TCP_NODELAY a keep-alive client waits 40 ms for each reply.
        disable_nagle_algorithm = True

        def method_not_allowed(self) -> None:
            body = json.dumps({"error": {"code": "METHOD_NOT_ALLOWED",
                                         "message": f"Unsupported method: {self.command}"}}).encode()
            self.send_file(405, {"Content-Type": "application/json; charset=utf-8"}, body)

        def __getattr__(self, name: str):
            # http.server looks up do_<METHOD>; every method Chalice lacks is not allowed.
            if name.startswith("do_"):
                return self.method_not_allowed
            raise AttributeError(name)

        def do_GET(self) -> None:
            # Swagger UI (infra.swagger), the front ends and the sandbox's authorize pages (infra.local.web); every
            # other GET is the app's
            if is_docs_path(self.path):
                status, content_type, body = docs_file(self.path)
                return self.send_file(status, {"Content-Type": content_type}, body)
            if app_of(self.path):
                return self.send_file(*web_file(self.path))
            if is_sandbox_login(self.path):  # the providers' authorize pages, for the web login (members)
                return self.send_file(*sandbox_authorize(self.path, self.headers.get("Cookie")))
            return super().do_GET()

        def send_file(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _send_error_response(self, error) -> None:
            # An unknown route: Chalice mimics API Gateway's 403; the deployed API answers a JSON 404
            # (its Gateway Response, infra.edges), and so does this server.
            if not (isinstance(error, ForbiddenError) and b"Missing Authentication Token" in (error.body or b"")):
                return super()._send_error_response(error)
            body = json.dumps(UNKNOWN_ROUTE).encode()
            self.send_file(404, {"Content-Type": "application/json; charset=utf-8"}, body)

    # What chalice.local.create_local_server does, with our request handler.
    CustomLocalChalice.__bases__ = (LocalChalice, chalice_app.__class__)
    chalice_app.__class__ = CustomLocalChalice
    return LocalDevServer(chalice_app, config, HOST, port, handler_cls=MallRequestHandler,
                          server_cls=MallHTTPServer)


def seed_demo_data() -> None:
    from chalicelib.admin.service import ensure_admin
    from chalicelib.catalog.demo import seed_demo_catalog

    print(f"  payment sandbox keys: {ensure_payment_sandbox()}")
    from chalicelib.core import pii

    print(f"  personal data sealed under: {pii.envelope().keys.key_id} (local key, chalicelib/core/pii.py)")
    password = os.environ.get("MALL_ADMIN_PASSWORD", "admin")
    if ensure_admin("admin", password):
        print("  created staff account admin (owner)")
    created = seed_demo_catalog()
    if created:
        print(f"  seeded the demo catalog: {created} products")
    from chalicelib.marketing.demo import seed_demo_coupons

    coupons = seed_demo_coupons()
    if coupons:
        print(f"  seeded {coupons} demo coupon templates")


def print_welcome(port: int, pump) -> None:
    url = f"http://{HOST}:{port}"
    handlers = len(pump.stream_cursors) + len(pump.queue_sources) + len(pump.schedules)
    schedules = ", ".join(f"{source.name} every {pump.schedule_interval(source):g}s" for source in pump.schedules)
    print(f"""
micromall is running at {url}  (event pump: {handlers} handlers; {schedules})

  storefront (phone):  {url}/shop/
  merchant console:    {url}/console/
  API docs:            {url}/docs/

  demo buyer login:  POST /auth/login {{"code": "dev:alice"}}   (any dev:<name> is a stable test buyer)
  admin login:       POST /admin/login {{"username": "admin", "password": "$MALL_ADMIN_PASSWORD or admin"}}

  try first:
    curl -s {url}/catalog/products | python3 -m json.tool
    curl -s -X POST {url}/auth/login -H 'Content-Type: application/json' -d '{{"code": "dev:alice"}}'
    curl -s {url}/openapi.json | head -c 300

  pay an order:      POST /payments/sandbox/pay {{"order_id": "..."}}  (a signed WeChat Pay notification to our webhook)

  data is kept in {LOCAL_DIR}/ (make reset wipes it). Ctrl-C stops everything.
""", flush=True)


def stop_like_ctrl_c(signum: int, frame: object) -> None:
    """SIGTERM (a supervisor, a test) stops as cleanly as Ctrl-C."""
    raise KeyboardInterrupt


def main() -> int:
    logging.basicConfig(level=os.environ.get("MALL_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    port = int(os.environ.get("PORT", "8000"))
    signal.signal(signal.SIGTERM, stop_like_ctrl_c)
    # A process inherits ignored signals and its blocked-signal mask: make sure Ctrl-C can reach us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>`: where is every thread?
    print("starting micromall's local stack ...", flush=True)
    stack = LocalStack(port, int(os.environ.get("MALL_LOCAL_DYNAMODB_PORT", "0")))
    try:
        stack.prepare_data()
        stack.start_app()
        stack.serve()
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"port {port} is in use: stop what holds it, or run with PORT=<another port>", flush=True)
        return 1
    finally:
        stack.stop()
        print("stopped; data saved under", LOCAL_DIR, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
