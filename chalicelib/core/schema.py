"""The base of every request and response model, the shapes core itself answers with, input types, and the
pydantic models that document runtime views (core/views.py), made from the views themselves."""
from __future__ import annotations

import importlib
import types
import typing
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, ClassVar, Union

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, create_model, model_validator

from chalicelib.core.views import Doc, View


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00:00+01:00" is a valid ISO time before the first UTC instant
        raise ValueError("the time must fall between the years 1 and 9999 in UTC") from None


# A time with its zone, given back in UTC; one that falls outside what UTC can hold is a 400, not a 500.
UtcMoment = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class Schema(BaseModel):
    """A pydantic model whose validator is built on first use, not at import.

    A Lambda function imports every model of its feature but one request uses one
    or two of them; building all of them at import was a measurable part of the
    cold start (see benchmarks/report.md).

    `cross_field_rules`: checks across a request's fields, each a pydantic-free function
    ("package.module:function") that takes the validated fields and raises ValueError,
    run once every field is valid: here, and by core/input_schemas.py for a model
    validated against its committed JSON schema, so both refuse the same bodies alike.
    """
    model_config = ConfigDict(defer_build=True)
    cross_field_rules: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _apply_rules(self) -> Schema:
        for rule in self.cross_field_rules:
            module, _, name = rule.partition(":")
            getattr(importlib.import_module(module), name)(self)
        return self


class Health(Schema):
    status: str
    features: list[str]


def documented(annotation: Any) -> Any:
    """`annotation` as pydantic documents and checks it: each runtime view in it (`OrderView`, `list[Address]`,
    `CouponView | None`) replaced by its `view_model`; anything else as it is."""
    if isinstance(annotation, type) and issubclass(annotation, View):
        return view_model(annotation)
    arguments = typing.get_args(annotation)
    if not arguments or isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    replaced = tuple(documented(argument) for argument in arguments)
    if replaced == arguments:
        return annotation
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return Annotated[(replaced[0], *annotation.__metadata__)]
    if origin in (Union, types.UnionType):
        return Union[replaced]
    return origin[replaced]


@cache
def view_model(view: type[View]) -> type[Schema]:
    """The pydantic model documenting `view`: of its name, with its fields in order (its bases' first), their
    types (views within replaced by their models), defaults and `Doc`s, and its docstring as the description.

    The view is the only definition of its shape; this is made when /openapi.json is built or a test checks an
    answer (tests/contracts.py), never on a request path, and once a view, so a component is one model."""
    hints = typing.get_type_hints(view, include_extras=True)
    defaults = view.__view_defaults__
    fields = {name: _field(hints[name], defaults[name] if name in defaults else ...) for name in view.__view_fields__}
    return create_model(view.__name__, __base__=Schema, __module__=view.__module__, __doc__=view.__doc__,
                        **fields)


def _field(annotation: Any, default: Any) -> tuple[Any, Any]:
    """A view's field for `create_model`: its `Doc` (core/views.py) taken out of the type into pydantic's `Field`."""
    metadata = getattr(annotation, "__metadata__", ()) if typing.get_origin(annotation) is Annotated else ()
    docs = [item for item in metadata if isinstance(item, Doc)]
    if not docs:
        return documented(annotation), default
    rest = tuple(item for item in metadata if not isinstance(item, Doc))
    bare = annotation.__origin__
    kept = Annotated[(bare, *rest)] if rest else bare
    extra = {"examples": docs[-1].examples} if docs[-1].examples is not None else {}
    return documented(kept), Field(default, description=docs[-1].description, **extra)
