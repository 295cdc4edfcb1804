"""Rules across an order request's fields, without pydantic: the request model runs them after its fields
validate (core.schema.Schema.cross_field_rules), and so does the committed-schema validator (core/input_schemas.py)."""
from __future__ import annotations

from typing import Any


def one_source(submission: Any) -> None:
    """`items` (buy now) or `from_cart: true` (the cart's selected lines), never both, never neither."""
    if (submission.items is not None) == submission.from_cart:
        raise ValueError("send either `items` or `from_cart: true`")
