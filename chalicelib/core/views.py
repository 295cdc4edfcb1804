"""Runtime views: what handlers answer with, without pydantic, and how any answer becomes JSON.

A route's answer may be a pydantic model (it documents itself), plain data, or a runtime
view: a frozen dataclass that names the pydantic model documenting it,

    @documented_by("chalicelib.checkout.view_models:OrderView")
    @dataclass(frozen=True, kw_only=True)
    class OrderView: ...

The requests a cold start mostly answers are shaped this way, so they never import
pydantic (README, "Cold starts"); /openapi.json still documents each route with the
pydantic model (core/http.documenting_model), and the tests hold every answer of every
route they drive to that model, field for field (tests/contracts.py), so the view and
its documentation cannot drift apart. Services and tests read a view's attributes as
they read a model's; `dataclasses.replace` stands in for `model_copy(update=...)`.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, TypeVar

T = TypeVar("T")
DOCUMENTED_BY = "__documented_by__"


def documented_by(model: str) -> Callable[[type[T]], type[T]]:
    """Marks a runtime view with the pydantic model ("package.module:Model") that documents it."""
    def mark(cls: type[T]) -> type[T]:
        setattr(cls, DOCUMENTED_BY, model)
        return cls
    return mark


def documented_by_model(shape: Any) -> str | None:
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
