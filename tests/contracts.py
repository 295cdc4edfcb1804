"""Every answer a test gets from a route matches the shape its route declares, as /openapi.json documents it.

Handlers on the paths a cold start answers shape their answers without pydantic (runtime
views, plain data: core/views.py), and nothing checks a view's values when it is made.
This does: installed for every test (tests/conftest.py), it validates each answer a route
gives against the route's documented model (a pydantic model, or the one made from the
route's view: core/schema.view_model), strictly, as a client reading JSON would, and
dumps it back: the answer must come back unchanged, so a field the declared shape does
not have, a required one the answer lacks, or a value of another type fails the test
that drove the route, naming the route and the difference. (A field the shape declares
optional may be absent, as its JSON schema allows: a prepay answers only its provider's.)
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from chalicelib.core import http
from chalicelib.core.views import jsonable

_lock = threading.Lock()
_broken: list[str] | None = None


@cache
def _adapter(model: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(model)


def mismatch(op: http.Operation, answer: Any) -> str | None:
    """Why `answer` is not what `op`'s declared response shape describes; None when it is."""
    from pydantic import ValidationError

    if op.response is None or op.status == 204:
        return None
    model = http.documenting_model(op.response)
    data = jsonable(answer)
    adapter = _adapter(model)
    try:
        validated = adapter.validate_json(json.dumps(data, ensure_ascii=False), strict=True)
    except ValidationError as exc:
        return f"{op.method} {op.path}: not a {_name(model)}: {exc}"
    again = adapter.dump_python(validated, mode="json", by_alias=True, exclude_unset=True)
    if again != data:
        return f"{op.method} {op.path}: {_name(model)} documents {_difference(again, data)}"
    return None


def _name(model: Any) -> str:
    return getattr(model, "__name__", str(model))


def _difference(documented: Any, answered: Any, path: str = "") -> str:
    if isinstance(documented, dict) and isinstance(answered, dict):
        for key in [*documented, *answered]:
            if key not in answered:
                return f"{path}{key} but the answer lacks it"
            if key not in documented:
                return f"no {path}{key} but the answer has it"
            if documented[key] != answered[key]:
                return _difference(documented[key], answered[key], f"{path}{key}.")
    if isinstance(documented, list) and isinstance(answered, list) and len(documented) == len(answered):
        for index, (left, right) in enumerate(zip(documented, answered, strict=True)):
            if left != right:
                return _difference(left, right, f"{path}{index}.")
    return f"{path.rstrip('.') or 'the answer'} as {documented!r}, the answer holds {answered!r}"


def _observe(op: http.Operation, answer: Any) -> None:
    problem = mismatch(op, answer)
    if problem is not None:
        with _lock:
            if _broken is not None:
                _broken.append(problem)


@contextmanager
def checking() -> Iterator[list[str]]:
    """Collects, while open, every answer that does not match its documentation."""
    global _broken
    found: list[str] = []
    previous, http.response_observer = http.response_observer, _observe
    _broken = found
    try:
        yield found
    finally:
        http.response_observer = previous
        _broken = None
