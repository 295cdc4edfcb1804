"""core/records.dataclass behaves as dataclasses.dataclass (the oracle) on every class shape the mall uses."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core import records


def make(decorator, frozen: bool) -> dict[str, type]:
    """The same class bodies under `decorator`: plain, defaults, factories, compare/repr off, inheritance,
    __post_init__, a ClassVar, a method of its own."""
    deco = decorator(frozen=True) if frozen else decorator

    @deco
    class Point:
        x: int
        y: int = 0
        label: str | None = None

    @deco
    class Tagged:
        name: str
        tags: list[str] = dataclasses.field(default_factory=list)
        issued_at: int = dataclasses.field(default=0, compare=False)
        secret: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)
        KIND: ClassVar[str] = "tagged"

        def shout(self) -> str:
            return self.name.upper()

    @deco
    class Point3(Point):
        z: int = 0

    class Checked:
        total: int
        parts: tuple[int, ...] = ()

        def __post_init__(self) -> None:
            if self.total != sum(self.parts):
                raise ValueError("total is not the sum of the parts")

    Checked = deco(Checked)
    return {"Point": Point, "Tagged": Tagged, "Point3": Point3, "Checked": Checked}


REAL = {frozen: make(dataclasses.dataclass, frozen) for frozen in (False, True)}
OURS = {frozen: make(records.dataclass, frozen) for frozen in (False, True)}
CALLS = [
    ("Point", (1,), {}), ("Point", (1, 2), {}), ("Point", (), {"x": 1, "label": "a"}), ("Point", (1, 2, "a"), {}),
    ("Point", (), {}), ("Point", (1, 2, "a", 4), {}), ("Point", (1,), {"x": 2}), ("Point", (), {"q": 1}),
    ("Tagged", ("n",), {}), ("Tagged", ("n", ["a"], 5, {"k": 1}), {}), ("Tagged", (), {"name": "n", "issued_at": 9}),
    ("Point3", (1, 2, "l", 3), {}), ("Point3", (), {"x": 1, "z": 5}), ("Point3", (), {}),
    ("Checked", (3, (1, 2)), {}), ("Checked", (0,), {}), ("Checked", (4, (1, 2)), {}),
]


def outcome(cls: type, args: tuple, kwargs: dict) -> tuple:
    try:
        made = cls(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        return ("error", type(exc).__name__, str(exc).replace(cls.__qualname__, cls.__name__))
    return ("made", repr(made).replace(cls.__qualname__, cls.__name__), dataclasses.asdict(made),
            [f.name for f in dataclasses.fields(made)], cls.__match_args__)


@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize(("name", "args", "kwargs"), CALLS)
def test_construction_repr_and_fields_match_dataclasses(frozen, name, args, kwargs):
    real, ours = outcome(REAL[frozen][name], args, kwargs), outcome(OURS[frozen][name], args, kwargs)
    assert ours == real


@pytest.mark.parametrize("frozen", [False, True])
def test_equality_hashing_and_freezing_match_dataclasses(frozen):
    for classes in (REAL[frozen], OURS[frozen]):
        a, b = classes["Tagged"]("n", ["a"], 1, {"k": 1}), classes["Tagged"]("n", ["a"], 2, {"k": 2})
        assert a == b and not (a != b), "compare=False fields are left out"
        assert a != classes["Tagged"]("m") and a != ("n", ["a"])
        assert classes["Point"](1) != classes["Point3"](1), "another class is never equal"
        assert classes["Tagged"]("n").tags is not classes["Tagged"]("n").tags, "a factory per instance"
        assert classes["Tagged"].KIND == "tagged" and classes["Tagged"]("n").shout() == "N"
        assert classes["Point"].y == 0 and "tags" not in vars(classes["Tagged"])
        point = classes["Point"](1)
        if frozen:
            assert hash(point) == hash(classes["Point"](1))
            with pytest.raises(dataclasses.FrozenInstanceError):
                point.x = 2
            with pytest.raises(dataclasses.FrozenInstanceError):
                del point.x
        else:
            assert classes["Point"].__hash__ is None
            point.x = 2
            assert point == classes["Point"](2)
        assert dataclasses.replace(point, y=5) == classes["Point"](point.x, 5)
        assert dataclasses.is_dataclass(point) and dataclasses.is_dataclass(classes["Point"])


def test_mixing_frozen_and_not_is_refused_as_dataclasses_refuses_it():
    for decorator in (dataclasses.dataclass, records.dataclass):
        @decorator(frozen=True)
        class Base:
            x: int

        with pytest.raises(TypeError, match="non-frozen"):
            @decorator
            class Child(Base):
                y: int = 0


def test_a_mutable_default_or_a_misplaced_default_is_refused():
    for decorator in (dataclasses.dataclass, records.dataclass):
        with pytest.raises(ValueError, match="mutable default"):
            @decorator
            class Bad:
                items: list = []  # noqa: RUF012

        with pytest.raises(TypeError, match="non-default argument"):
            @decorator
            class Order:
                x: int = 0
                y: int


def test_what_it_does_not_follow_is_built_by_dataclasses():
    @records.dataclass(order=True)
    class Ordered:
        x: int

    assert Ordered(1) < Ordered(2) and not getattr(Ordered, "__dataclass_records__", False)


@settings(max_examples=200, deadline=None)
@given(x=st.integers(), y=st.integers(), label=st.none() | st.text(max_size=5), frozen=st.booleans())
def test_any_values_compare_and_show_alike(x, y, label, frozen):
    real, ours = REAL[frozen]["Point"], OURS[frozen]["Point"]
    assert repr(ours(x, y, label)).replace("make.<locals>.", "") == repr(real(x, y, label)).replace(
        "make.<locals>.", "")
    assert (ours(x, y, label) == ours(x, y, label)) and (ours(x, y, label) == ours(y, x, label)) == (x == y)
    if frozen:
        assert (hash(ours(x, y, label)) == hash(ours(x, y, label)))
