"""`@dataclass` as the standard library's, without compiling code for each class: for the classes a cold start loads.

Python 3.11's `dataclasses.dataclass` writes `__init__`, `__repr__`, `__eq__` (and, frozen,
`__setattr__`, `__delattr__`, `__hash__`) as source text and compiles each with `exec` when
the class is created: about 0.4 ms a class here, and a cold start's first request loads 20
to 40 of them (README, "Cold starts"). This decorator makes classes that behave the same
(construction by position and keyword, defaults and `field(default_factory=...,
compare=..., repr=...)`, `__post_init__`, equality, hashing, repr, frozen instances,
`__match_args__`) from methods written once, here, and that the `dataclasses` module
recognises as its own: `fields`, `replace`, `asdict` and `is_dataclass` work on them.
tests/unit/test_records.py holds the two to the same behaviour. A class using anything
else (`InitVar`, `KW_ONLY`, `order`, `slots`, ...) is handed to `dataclasses.dataclass`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

_SIMPLE_OPTIONS = {"init", "repr", "eq", "frozen"}
_MUTABLE_DEFAULTS = (list, dict, set)


def dataclass(cls: type | None = None, /, **options: Any) -> Any:
    """Use as `dataclasses.dataclass`: `@dataclass`, `@dataclass(frozen=True)`."""
    def wrap(target: type) -> type:
        if set(options) - _SIMPLE_OPTIONS or not options.get("init", True) or not options.get("repr", True) \
                or not options.get("eq", True) or not _simple(target):
            return dataclasses.dataclass(target, **options)
        return _build(target, frozen=options.get("frozen", False))
    return wrap if cls is None else wrap(cls)


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return getattr(annotation, "__origin__", None) is ClassVar


def _simple(cls: type) -> bool:
    """Nothing this module does not follow: no InitVar or KW_ONLY, no keyword-only field, bases alike."""
    for annotation in cls.__dict__.get("__annotations__", {}).values():
        text = annotation if isinstance(annotation, str) else repr(annotation)
        if "InitVar" in text or "KW_ONLY" in text:
            return False
    for value in cls.__dict__.values():
        if isinstance(value, dataclasses.Field) and value.kw_only is True:
            return False
    return all(not dataclasses.is_dataclass(base) or getattr(base, "__dataclass_records__", False)
               for base in cls.__mro__[1:])


def _build(cls: type, *, frozen: bool) -> type:
    fields: dict[str, dataclasses.Field] = {}
    for base in reversed(cls.__mro__[1:]):
        fields.update(getattr(base, "__dataclass_fields__", {}))
    if any(getattr(base, "__dataclass_params__", None) and base.__dataclass_params__.frozen != frozen
           for base in cls.__mro__[1:]):
        raise TypeError("cannot inherit frozen dataclass from a non-frozen one" if frozen
                        else "cannot inherit non-frozen dataclass from a frozen one")
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if _is_classvar(annotation):
            continue
        fields[name] = _field(cls, name, annotation)
    _check_order(fields)
    cls.__dataclass_fields__ = fields
    cls.__dataclass_params__ = dataclasses._DataclassParams(True, True, True, False, False, frozen)
    cls.__dataclass_records__ = True
    cls.__match_args__ = tuple(name for name, f in fields.items() if f.init)
    _set(cls, "__init__", _init)
    _set(cls, "__repr__", _repr)
    _set(cls, "__eq__", _eq)
    class_hash = cls.__dict__.get("__hash__", dataclasses.MISSING)
    explicit_hash = not (class_hash is dataclasses.MISSING or (class_hash is None and "__eq__" in cls.__dict__))
    if frozen:
        _freeze(cls, fields)
        if not explicit_hash:
            cls.__hash__ = _hash
    elif not explicit_hash:
        cls.__hash__ = None
    return cls


def _field(cls: type, name: str, annotation: Any) -> dataclasses.Field:
    default = cls.__dict__.get(name, dataclasses.MISSING)
    if isinstance(default, dataclasses.Field):
        made = default
        if made.default is dataclasses.MISSING:
            delattr(cls, name)
        else:
            setattr(cls, name, made.default)
    else:
        if isinstance(default, _MUTABLE_DEFAULTS):
            raise ValueError(f"mutable default {type(default)} for field {name} is not allowed: use default_factory")
        made = dataclasses.field(default=default)
    made.name, made.type, made._field_type = name, annotation, dataclasses._FIELD
    return made


def _check_order(fields: dict[str, dataclasses.Field]) -> None:
    seen_default = False
    for name, f in fields.items():
        if not f.init:
            continue
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            if seen_default:
                raise TypeError(f"non-default argument {name!r} follows default argument")
        else:
            seen_default = True


def _set(cls: type, name: str, method: Any) -> None:
    if name not in cls.__dict__:  # a method the class writes itself is kept, as dataclasses keeps it
        setattr(cls, name, method)


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    cls = type(self)
    fields = cls.__dataclass_fields__
    positional = cls.__match_args__
    if len(args) > len(positional):
        least = 1 + sum(1 for name in positional if fields[name].default is dataclasses.MISSING
                        and fields[name].default_factory is dataclasses.MISSING)
        takes = f"{least}" if least == len(positional) + 1 else f"from {least} to {len(positional) + 1}"
        raise TypeError(f"{cls.__name__}.__init__() takes {takes} positional arguments but {len(args) + 1} were given")
    values = dict(zip(positional, args, strict=False))
    for name, value in kwargs.items():
        if name not in fields or not fields[name].init:
            raise TypeError(f"{cls.__name__}.__init__() got an unexpected keyword argument {name!r}")
        if name in values:
            raise TypeError(f"{cls.__name__}.__init__() got multiple values for argument {name!r}")
        values[name] = value
    missing = [repr(name) for name in positional if name not in values
               and fields[name].default is dataclasses.MISSING and fields[name].default_factory is dataclasses.MISSING]
    if missing:
        listed = missing[0] if len(missing) == 1 else (
            " and ".join(missing) if len(missing) == 2 else ", ".join(missing[:-1]) + ", and " + missing[-1])
        raise TypeError(f"{cls.__name__}.__init__() missing {len(missing)} required positional argument"
                        f"{'s' if len(missing) > 1 else ''}: {listed}")
    frozen = cls.__dataclass_params__.frozen
    for name, f in fields.items():
        if name in values:
            value = values[name]
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        elif f.default is not dataclasses.MISSING:
            value = f.default
        else:
            continue  # init=False without a default: left unset, as dataclasses leaves it
        if frozen:
            object.__setattr__(self, name, value)
        else:
            setattr(self, name, value)
    post_init = getattr(self, "__post_init__", None)
    if post_init is not None:
        post_init()


def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name, f in self.__dataclass_fields__.items() if f.repr)
    return f"{type(self).__qualname__}({shown})"


def _compared(self: Any) -> tuple:
    return tuple(getattr(self, name) for name, f in self.__dataclass_fields__.items() if f.compare)


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        return _compared(self) == _compared(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(tuple(getattr(self, name) for name, f in self.__dataclass_fields__.items()
                      if (f.compare if f.hash is None else f.hash)))


def _freeze(cls: type, fields: dict[str, dataclasses.Field]) -> None:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in fields:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in fields:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    for method in (__setattr__, __delattr__):
        if method.__name__ in cls.__dict__:
            raise TypeError(f"Cannot overwrite attribute {method.__name__} in class {cls.__name__}")
        method.__qualname__ = f"{cls.__qualname__}.{method.__name__}"
        setattr(cls, method.__name__, method)
