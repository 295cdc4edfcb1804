"""Business metrics come out as embedded-metric-format lines CloudWatch turns into metrics."""
from __future__ import annotations

import json

import pytest

from chalicelib.core import metrics


def test_count_prints_one_emf_line_with_its_dimensions(capsys):
    metrics.count("RefundFailed", 2, provider="wechat")

    line = json.loads(capsys.readouterr().out.strip())
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "micromall"
    assert directive["Metrics"] == [{"Name": "RefundFailed", "Unit": "Count"}]
    assert directive["Dimensions"] == [["provider"]]
    assert line["RefundFailed"] == [2.0] and line["provider"] == "wechat"


def test_namespace_follows_powertools_setting(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "shop-a")
    metrics.count("OrdersPaid")

    assert json.loads(capsys.readouterr().out)["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "shop-a"


def emf_names(text: str) -> list[str]:
    return [metric["Name"] for line in text.splitlines() if line.startswith('{"_aws"')
            for metric in json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]]


def test_count_if_counts_only_what_happened(capsys):
    assert metrics.count_if(False, "OrdersPaid") is False
    assert metrics.count_if(True, "OrdersPaid", provider="alipay") is True

    assert emf_names(capsys.readouterr().out) == ["OrdersPaid"]


def powertools_line(name: str, value: int, namespace: str, **dimensions: str) -> dict:
    """What Powertools' own single_metric writes, the oracle for core/metrics.py's line."""
    import contextlib
    import io

    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=namespace) as metric:
            for key, dimension in dimensions.items():
                metric.add_dimension(name=key, value=dimension)
    return json.loads(out.getvalue())


@pytest.mark.parametrize(("name", "value", "dimensions", "service"), [
    ("OrdersCreated", 1, {}, None), ("RefundFailed", 2, {"provider": "wechat"}, None),
    ("OrdersPaid", 1, {"provider": "alipay", "kind": "GROUP"}, "checkout"), (" Spaced ", 3, {"service": "x"}, "y"),
])
def test_a_count_is_the_line_powertools_writes(capsys, monkeypatch, name, value, dimensions, service):
    if service:
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", service)
    else:
        monkeypatch.delenv("POWERTOOLS_SERVICE_NAME", raising=False)
    metrics.count(name, value, **dimensions)
    ours = json.loads(capsys.readouterr().out)
    theirs = powertools_line(name, value, "micromall", **dimensions)
    assert abs(ours["_aws"].pop("Timestamp") - theirs["_aws"].pop("Timestamp")) < 5_000
    assert json.dumps(ours) == json.dumps(theirs)  # the same keys, in the same order


def test_a_count_of_no_name_or_no_number_is_refused():
    with pytest.raises(ValueError):
        metrics.count("  ")
    with pytest.raises(ValueError):
        metrics.count("OrdersPaid", "1")  # type: ignore[arg-type]
