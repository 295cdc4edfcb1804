"""tests/contracts.py finds an answer that drifted from the shape its route declares, and passes one that did not;
a runtime view is that shape, documented by the model core/schema.py makes from it."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from chalicelib.core.http import Operation, documenting_model
from chalicelib.core.openapi import REF, _schema_of
from chalicelib.core.schema import Schema, view_model
from chalicelib.core.views import Doc, View
from tests.contracts import mismatch


class PartView(View):
    part_id: str


class ThingView(View):
    """A thing, as its owner sees it."""
    thing_id: str
    count: int
    parts: list[PartView]
    note: str | None = None


class SpecialThingView(ThingView):
    special: bool


def op(response=f"{__name__}:ThingView") -> Operation:
    return Operation(path="/things/{thing_id}", method="GET", handler=lambda ctx: None, tag="t", summary="",
                     response=response)


def thing(**changes) -> dict:
    return {"thing_id": "T1", "count": 2, "parts": [{"part_id": "P1"}], "note": None, **changes}


def test_a_view_that_matches_its_declared_shape_passes():
    assert mismatch(op(), ThingView(thing_id="T1", count=2, parts=[PartView(part_id="P1")])) is None
    assert mismatch(op(), thing(note="n")) is None


def test_a_field_the_view_does_not_declare_is_found():
    problem = mismatch(op(), thing(secret="x"))
    assert problem is not None and "no secret" in problem, problem


def test_a_field_a_view_within_does_not_declare_is_found():
    problem = mismatch(op(), thing(parts=[{"part_id": "P1", "secret": "x"}]))
    assert problem is not None and "no parts.0.secret" in problem, problem


def test_a_required_field_the_answer_lacks_is_found():
    answer = thing()
    del answer["count"]
    problem = mismatch(op(), answer)
    assert problem is not None and "count" in problem and "Field required" in problem, problem


def test_an_optional_field_may_be_absent_as_the_schema_allows():
    answer = thing()
    del answer["note"]
    assert mismatch(op(), answer) is None


def test_a_value_of_another_type_is_found():
    problem = mismatch(op(), thing(count="2"))
    assert problem is not None and "not a ThingView" in problem, problem
    assert mismatch(op(), thing(count=True)) is not None
    assert mismatch(op(), ThingView(thing_id="T1", count=2.5, parts=[])) is not None  # a view checks nothing itself


def test_a_subclass_view_is_held_to_its_own_fields_and_its_bases():
    special = op(f"{__name__}:SpecialThingView")
    assert mismatch(special, thing(special=True)) is None
    assert mismatch(special, thing()) is not None
    assert mismatch(op(), thing(special=True)) is not None


def test_a_list_of_views_is_held_to_the_view():
    listing = op(list[PartView])
    assert mismatch(listing, [PartView(part_id="P1")]) is None
    assert mismatch(listing, [{"part_id": "P1", "secret": "x"}]) is not None


def test_routes_without_a_documented_answer_are_not_judged():
    assert mismatch(op(response=None), {"anything": 1}) is None


def test_a_view_reads_as_a_model_does():
    view = ThingView(thing_id="T1", count=2, parts=[])
    assert view.model_dump() == {"thing_id": "T1", "count": 2, "parts": [], "note": None}
    assert view.model_copy(update={"note": "n"}) == ThingView(thing_id="T1", count=2, parts=[], note="n")
    assert view.note is None and view == ThingView(thing_id="T1", count=2, parts=[])


def test_a_view_is_documented_by_a_model_made_from_its_annotations():
    schemas: dict = {}
    _schema_of(ThingView, schemas)
    assert _schema_of(SpecialThingView, schemas) == {"$ref": REF.format(model="SpecialThingView")}
    assert schemas["ThingView"]["description"] == "A thing, as its owner sees it."  # its docstring
    documented = schemas["SpecialThingView"]
    assert "description" not in documented  # a docstring is the class's own, as pydantic reads a model's
    assert list(documented["properties"]) == ["thing_id", "count", "parts", "note", "special"]
    assert documented["required"] == ["thing_id", "count", "parts", "special"]
    assert documented["properties"]["note"]["default"] is None
    assert documented["properties"]["parts"] == {"items": {"$ref": REF.format(model="PartView")},
                                                 "title": "Parts", "type": "array"}
    assert schemas["PartView"]["required"] == ["part_id"]


class TallyView(View):
    points: Annotated[int, Doc("1 point = 1 fen", examples=[120])]
    note: Annotated[str | None, Doc("why")] = None


def test_a_fields_doc_is_its_description_and_examples_in_the_document():
    schemas: dict = {}
    _schema_of(TallyView, schemas)
    assert schemas["TallyView"]["properties"] == {
        "points": {"description": "1 point = 1 fen", "examples": [120], "title": "Points", "type": "integer"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "description": "why",
                 "title": "Note"}}
    assert schemas["TallyView"]["required"] == ["points"]
    assert TallyView(points=3).note is None
    assert mismatch(op(TallyView), {"points": 3}) is None
    assert mismatch(op(TallyView), {"points": "3"}) is not None


def test_each_view_has_one_model_and_a_model_documents_itself():
    assert view_model(ThingView) is view_model(ThingView) is documenting_model(f"{__name__}:ThingView")
    assert issubclass(view_model(ThingView), Schema)
    assert documenting_model(list[PartView]) == list[view_model(PartView)]
    assert documenting_model(Window) is Window


class Window(Schema):
    from_: str = Field(alias="from")
    to: str


def test_a_field_is_held_to_its_documented_name_its_alias():
    window = op(response=Window)
    assert mismatch(window, {"from": "a", "to": "b"}) is None
    assert mismatch(window, {"from_": "a", "to": "b"}) is not None
