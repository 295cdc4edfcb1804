"""Business metrics in CloudWatch's embedded metric format (a JSON line CloudWatch Logs turns into a metric).

Powertools is imported on the first metric, not at cold start: most requests emit none.
"""
from __future__ import annotations

from chalicelib.core import config

NAMESPACE_DEFAULT = "micromall"


def count(name: str, value: int = 1, **dimensions: str) -> None:
    """Adds `value` to the counter `name` (OrdersPaid, RefundFailed, ...), with optional dimensions."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    namespace = config.env("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE_DEFAULT)
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=namespace) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)


def count_if(result, name: str, value: int = 1, **dimensions: str):
    """`result`, after counting `name` when it is truthy: `return count_if(_commit(...), "OrdersPaid")`."""
    if result:
        count(name, value, **dimensions)
    return result
