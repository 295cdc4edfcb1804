"""Runtime views: what handlers answer with, without pydantic, and how any answer becomes JSON.

A route's answer may be a pydantic model (it documents itself), plain data, or a runtime
view: a small record class whose annotations are its whole definition,

    class OrderView(View):
        '''Amounts in fen: ...'''  # its docstring: the schema's description
        order_id: str
        coupon: AppliedCouponView | None  # a view within a view
        flash_sale_id: str | None = None  # a default: optional in the schema
        points: Annotated[int, Doc("1 point = 1 fen", examples=[120])]  # a field's own documentation
        ...

The requests a cold start mostly answers are shaped this way, so they never import
pydantic (README, "Cold starts"). A view is written once: /openapi.json documents it
with a pydantic model made from the view itself (its fields, types, defaults and
docstring: core/schema.view_model), made only when the document is built or a test
checks an answer, never on a request path; and the tests hold every answer of every
route they drive to that model, field for field (tests/contracts.py), so what a handler
answers cannot drift from the view its route declares. Callers use a view as they would
a model: attributes, keyword construction, `model_dump()` and `model_copy(update=...)`.
"""
from __future__ import annotations

import copy
import dataclasses
from types import SimpleNamespace
from typing import Any, ClassVar, dataclass_transform


class Doc:
    """What /openapi.json says of one field of a view, beside its type: `Annotated[int, Doc("...")]` in the
    view's annotations (core/schema.view_model makes it the field's description and examples). A view's
    own description is its docstring. Plain data, so a view module that uses it still imports no pydantic."""
    __slots__ = ("description", "examples")

    def __init__(self, description: str, *, examples: list[Any] | None = None) -> None:
        self.description, self.examples = description, examples

    def __repr__(self) -> str:
        return f"Doc({self.description!r}, examples={self.examples!r})"


@dataclass_transform(kw_only_default=True)
class View:
    """The base of runtime views: fields are the annotated names (a subclass adds to its base's), set by keyword,
    a class attribute being a field's default; equality, repr and `model_dump` over the fields.

    Not `@dataclass`: that compiles each class's methods with exec when the class is created, about 0.4 ms a
    class on a cold start, and a first request loads tens of views; these methods are written once, here.
    """
    __view_fields__: ClassVar[tuple[str, ...]] = ()
    __view_defaults__: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = [name for name, annotation in cls.__dict__.get("__annotations__", {}).items()
               if not str(annotation).startswith(("ClassVar", "typing.ClassVar"))]
        cls.__view_fields__ = tuple(dict.fromkeys([*cls.__view_fields__, *own]))
        cls.__view_defaults__ = {**cls.__view_defaults__,
                                 **{name: cls.__dict__[name] for name in own if name in cls.__dict__}}

    def __init__(self, **values: Any) -> None:
        defaults = self.__view_defaults__
        for name in self.__view_fields__:
            if name in values:
                value = values.pop(name)
            elif name in defaults:
                value = copy.copy(defaults[name])  # a list default is the instance's own, as pydantic makes it
            else:
                raise TypeError(f"{type(self).__name__}() missing keyword argument {name!r}")
            self.__dict__[name] = value
        if values:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments {sorted(values)}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__view_fields__)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the pydantic models were

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__view_fields__)
        return f"{type(self).__name__}({shown})"

    def model_dump(self, *, mode: str = "python") -> dict[str, Any]:
        """The view as plain data (its values are JSON's already, so both modes agree)."""
        return jsonable(self)

    def model_copy(self, *, update: dict[str, Any] | None = None) -> View:
        return type(self)(**{**{name: getattr(self, name) for name in self.__view_fields__}, **(update or {})})


def jsonable(value: Any) -> Any:
    """`value` as JSON data: pydantic models as they dump in JSON mode, views and validated inputs field by field."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, View):
        return {name: jsonable(getattr(value, name)) for name in value.__view_fields__}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, SimpleNamespace):  # a body or query validated against its committed schema
        return {key: jsonable(item) for key, item in vars(value).items()}
    if hasattr(value, "model_dump"):  # a pydantic model
        return value.model_dump(mode="json")
    return value
