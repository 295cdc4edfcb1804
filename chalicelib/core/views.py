"""Runtime views: what handlers answer with, without pydantic, and how any answer becomes JSON.

A route's answer may be a pydantic model (it documents itself), plain data, or a runtime
view: a dataclass that names the pydantic model documenting it,

    class OrderView(View, documented_by="chalicelib.checkout.view_models:OrderView"):
        order_id: str
        ...

The requests a cold start mostly answers are shaped this way, so they never import
pydantic (README, "Cold starts"); /openapi.json still documents each route with the
pydantic model (core/http.documenting_model), and the tests hold every answer of every
route they drive to that model, field for field (tests/contracts.py), so a view and its
documentation cannot drift apart. Callers use a view as they used the model: attributes,
keyword construction, `model_dump()` and `model_copy(update=...)`.
"""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any, dataclass_transform

DOCUMENTED_BY = "__documented_by__"


@dataclass_transform(kw_only_default=True)
class View:
    """The base of runtime views: each subclass is a keyword-only dataclass; `documented_by` names its model."""

    def __init_subclass__(cls, *, documented_by: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(kw_only=True)(cls)
        if documented_by is not None:
            setattr(cls, DOCUMENTED_BY, documented_by)

    def model_dump(self, *, mode: str = "python") -> dict[str, Any]:
        """The view as plain data (its values are JSON's already, so both modes agree)."""
        return jsonable(self)

    def model_copy(self, *, update: dict[str, Any] | None = None) -> View:
        return dataclasses.replace(self, **(update or {}))


def documented_by_model(shape: Any) -> str | None:
    """The lazy name of the model documenting `shape`, when it is a runtime view."""
    return getattr(shape, DOCUMENTED_BY, None) if isinstance(shape, type) else None


def jsonable(value: Any) -> Any:
    """`value` as JSON data: pydantic models as they dump in JSON mode, views and validated inputs field by field."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, SimpleNamespace):  # a body or query validated against its committed schema
        return {key: jsonable(item) for key, item in vars(value).items()}
    if hasattr(value, "model_dump"):  # a pydantic model
        return value.model_dump(mode="json")
    return value
