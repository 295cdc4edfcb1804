"""Business metrics in CloudWatch's embedded metric format (a JSON line CloudWatch Logs turns into a metric).

Each count is one line, as Powertools' `single_metric` writes it (tests/unit/test_metrics.py holds the
two to the same line), written here: importing Powertools' metrics costs about 4 ms, and placing an
order, often a cold start's first request, counts one.
"""
from __future__ import annotations

import datetime as _dt
import json
import os

from chalicelib.core import config

NAMESPACE_DEFAULT = "micromall"
MAX_NAME_LENGTH = 255
MAX_DIMENSIONS = 29


def count(name: str, value: int = 1, **dimensions: str) -> None:
    """Adds `value` to the counter `name` (OrdersPaid, RefundFailed, ...), with optional dimensions."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise ValueError(f"The metric name should be between 1 and {MAX_NAME_LENGTH} characters")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value} is not a valid number")
    named = {key: dimension if isinstance(dimension, str) else str(dimension) for key, dimension in dimensions.items()}
    service = os.environ.get("POWERTOOLS_SERVICE_NAME")
    if service and not named.get("service"):
        named["service"] = service
    if len(named) > MAX_DIMENSIONS:
        raise ValueError(f"Maximum number of dimensions exceeded ({MAX_DIMENSIONS})")
    line = {
        "_aws": {
            "Timestamp": int(_dt.datetime.now().timestamp() * 1000),
            "CloudWatchMetrics": [{"Namespace": config.env("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE_DEFAULT),
                                   "Dimensions": [list(named)], "Metrics": [{"Name": name, "Unit": "Count"}]}],
        },
        **named,
        name: [float(value)],
    }
    print(json.dumps(line, separators=(",", ":")))


def count_if(result, name: str, value: int = 1, **dimensions: str):
    """`result`, after counting `name` when it is truthy: `return count_if(_commit(...), "OrdersPaid")`."""
    if result:
        count(name, value, **dimensions)
    return result
