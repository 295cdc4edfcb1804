"""Business metrics come out as embedded-metric-format lines CloudWatch turns into metrics."""
from __future__ import annotations

import json

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
