"""The mall's log lines reach stdout: plain lines locally, one JSON object per line in Lambda."""
from __future__ import annotations

import json
import logging

import pytest

from chalicelib.core import logs
from tests.conftest import buyer_token


@pytest.fixture
def chalice(app, tmp_path):
    from chalice.test import Client

    with Client(app, project_dir=str(tmp_path)) as chalice_client:
        yield chalice_client


@pytest.fixture
def lambda_logs(monkeypatch):
    """The process as in Lambda: JSON lines; plain lines again afterwards."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "micromall-checkout-checkout_sweeper")
    logs.configure()
    yield
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    logs.configure()


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{") and '"level"' in line]


def test_feature_loggers_write_info_lines_once_the_app_is_built(app, capsys):
    # Chalice left "micromall" at ERROR without propagation: these lines were dropped.
    logging.getLogger("micromall.payments").info("reconcile: 3 checked")
    logging.getLogger("micromall.checkout").warning("sweep stopped early")

    out = capsys.readouterr().out
    assert "INFO micromall.payments: reconcile: 3 checked" in out, out
    assert "WARNING micromall.checkout: sweep stopped early" in out, out


def test_a_scheduled_handler_line_reaches_stdout(chalice, capsys):
    chalice.lambda_.invoke("checkout_sweeper", chalice.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))

    assert "micromall.checkout: sweep: 0 expired, 0 completed" in capsys.readouterr().out


def test_mall_log_level_is_honoured(app, monkeypatch, capsys):
    monkeypatch.setenv("MALL_LOG_LEVEL", "warning")
    logs.configure()
    try:
        logging.getLogger("micromall.checkout").info("quiet")
        logging.getLogger("micromall.checkout").warning("loud")
    finally:
        monkeypatch.delenv("MALL_LOG_LEVEL")
        logs.configure()

    out = capsys.readouterr().out
    assert "loud" in out and "quiet" not in out, out


def test_in_lambda_a_line_is_json_with_the_invocation_keys(chalice, lambda_logs, capsys, monkeypatch):
    monkeypatch.setattr(logs, "_cold_start", True)  # as in a fresh process
    chalice.lambda_.invoke("checkout_sweeper", chalice.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
    chalice.lambda_.invoke("checkout_sweeper", chalice.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))

    first, second = [line for line in json_lines(capsys.readouterr().out) if line["message"].startswith("sweep:")]
    assert first["level"] == "INFO" and first["service"] == "micromall"
    assert first["function_name"] == "checkout_sweeper" and first["function_request_id"]
    assert first["cold_start"] is True and second["cold_start"] is False


def test_in_lambda_a_buyers_request_names_buyer_and_order(client, lambda_logs, capsys, monkeypatch):
    from chalicelib.checkout import orders

    def failing_read(*args, **kwargs):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "GetItem")

    monkeypatch.setattr(orders, "get_order", failing_read)
    response = client.as_token(buyer_token("U-logs")).get("/orders/01JORDERIDFORLOGS000000000")

    assert response.status_code == 503
    [line] = [line for line in json_lines(capsys.readouterr().out) if "throttled" in line["message"]]
    assert line["buyer_id"] == "U-logs" and line["order_id"] == "01JORDERIDFORLOGS000000000", line
    assert line["level"] == "WARNING" and "function_request_id" in line


def test_keys_of_one_invocation_do_not_leak_into_the_next(chalice, capsys):
    logs.bind(buyer_id="U-previous")
    chalice.lambda_.invoke("checkout_sweeper", chalice.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))

    [line] = [line for line in capsys.readouterr().out.splitlines() if "sweep:" in line]
    assert "U-previous" not in line and "function_name=checkout_sweeper" in line
