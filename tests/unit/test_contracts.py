"""tests/contracts.py finds an answer that drifted from its documented model, and passes one that did not."""
from __future__ import annotations

from pydantic import Field

from chalicelib.core.http import Operation
from chalicelib.core.schema import Schema
from chalicelib.core.views import View
from tests.contracts import mismatch


class Thing(Schema):
    thing_id: str
    count: int
    note: str | None = None


class ThingView(View, documented_by=f"{__name__}:Thing"):
    thing_id: str
    count: int
    note: str | None = None


def op(response=f"{__name__}:ThingView") -> Operation:
    return Operation(path="/things/{thing_id}", method="GET", handler=lambda ctx: None, tag="t", summary="",
                     response=response)


def test_a_view_that_matches_its_model_passes():
    assert mismatch(op(), ThingView(thing_id="T1", count=2)) is None
    assert mismatch(op(Thing), {"thing_id": "T1", "count": 2, "note": "n"}) is None


def test_a_field_the_model_does_not_document_is_found():
    problem = mismatch(op(), {"thing_id": "T1", "count": 2, "note": None, "secret": "x"})
    assert problem is not None and "no secret" in problem, problem


def test_a_required_field_the_answer_lacks_is_found():
    problem = mismatch(op(), {"thing_id": "T1", "note": "n"})
    assert problem is not None and "count" in problem and "Field required" in problem, problem


def test_an_optional_field_may_be_absent_as_the_schema_allows():
    assert mismatch(op(), {"thing_id": "T1", "count": 2}) is None


def test_a_value_of_another_type_is_found():
    problem = mismatch(op(), {"thing_id": "T1", "count": "2", "note": None})
    assert problem is not None and "not a Thing" in problem, problem
    assert mismatch(op(), {"thing_id": "T1", "count": True, "note": None}) is not None


def test_routes_without_a_documented_answer_are_not_judged():
    assert mismatch(op(response=None), {"anything": 1}) is None


def test_a_view_reads_as_its_model_did():
    view = ThingView(thing_id="T1", count=2)
    assert view.model_dump() == {"thing_id": "T1", "count": 2, "note": None}
    assert view.model_copy(update={"note": "n"}) == ThingView(thing_id="T1", count=2, note="n")
    assert view.note is None and view == ThingView(thing_id="T1", count=2)


class Window(Schema):
    from_: str = Field(alias="from")
    to: str


def test_a_field_is_held_to_its_documented_name_its_alias():
    window = op(response=Window)
    assert mismatch(window, {"from": "a", "to": "b"}) is None
    assert mismatch(window, {"from_": "a", "to": "b"}) is not None
