"""The local stack's DynamoDB answers are the JSON moto's own serializer writes, only cheaper
(infra/local/moto_serialize.py): held to moto's full walk over any item hypothesis draws."""
from __future__ import annotations

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.core.serialize import BaseJSONSerializer, XFormedAttributePicker, get_serializer_class
from moto.core.utils import get_service_model
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from infra.local.moto_pin import ORIGINALS
from infra.local.moto_serialize import _serialize_type_structure

names = st.text(min_size=1, max_size=8)
numbers = st.integers(-10**12, 10**12).map(str) | st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
blobs = st.binary(max_size=12).map(lambda raw: base64.b64encode(raw).decode())
scalars = st.one_of(
    st.text(max_size=12).map(lambda text: {"S": text}), numbers.map(lambda number: {"N": number}),
    blobs.map(lambda blob: {"B": blob}), st.booleans().map(lambda flag: {"BOOL": flag}), st.just({"NULL": True}),
    st.lists(st.text(max_size=6), min_size=1, max_size=4, unique=True).map(lambda items: {"SS": items}),
    st.lists(st.integers(-999, 999).map(str), min_size=1, max_size=4, unique=True).map(lambda items: {"NS": items}),
    st.lists(blobs, min_size=1, max_size=3, unique=True).map(lambda items: {"BS": items}))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.dictionaries(names, inner, max_size=4).map(lambda members: {"M": members}),
    st.lists(inner, max_size=4).map(lambda items: {"L": items})), max_leaves=20)
items = st.dictionaries(names, values, min_size=1, max_size=6)


def as_moto_holds_it(item: dict) -> dict:
    """What moto's responses hand the serializer: the item stored as moto stores it, then `Item.to_json`."""
    return Item(DynamoType({"S": "key"}), None, item).to_json()["Attributes"]


def serialized(service: str, operation: str, result: dict, fast: bool, monkeypatch) -> dict:
    method = _serialize_type_structure if fast else ORIGINALS["BaseJSONSerializer._serialize_type_structure"]
    monkeypatch.setattr(BaseJSONSerializer, "_serialize_type_structure", method)
    service_model = get_service_model(service)
    serializer = get_serializer_class(service_model.service_name, "json")(
        operation_model=service_model.operation_model(operation), pretty_print=False,
        value_picker=XFormedAttributePicker(response_transformers=None))
    answer = serializer.serialize(result)
    return {"status": answer["status_code"], "headers": answer["headers"], "body": answer["body"]}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page=st.lists(items, max_size=4), key=items)
def test_query_and_get_item_answers_are_byte_for_byte_what_moto_writes(page, key, monkeypatch):
    query = {"Items": [as_moto_holds_it(item) for item in page], "Count": len(page), "ScannedCount": len(page),
             "LastEvaluatedKey": as_moto_holds_it(key)}
    get_item = {"Item": as_moto_holds_it(key)}
    batch = {"Responses": {"orders": [as_moto_holds_it(item) for item in page]}, "UnprocessedKeys": {}}
    for operation, result in (("Query", query), ("GetItem", get_item), ("BatchGetItem", batch)):
        assert serialized("dynamodb", operation, result, True, monkeypatch) == \
            serialized("dynamodb", operation, result, False, monkeypatch), operation


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(new=items, old=items)
def test_stream_records_are_byte_for_byte_what_moto_writes(new, old, monkeypatch):
    record = {"eventID": "1", "eventName": "MODIFY", "dynamodb": {
        "Keys": as_moto_holds_it(old), "NewImage": as_moto_holds_it(new), "OldImage": as_moto_holds_it(old),
        "SequenceNumber": "1", "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    result = {"Records": [record], "NextShardIterator": "next"}
    assert serialized("dynamodbstreams", "GetRecords", result, True, monkeypatch) == \
        serialized("dynamodbstreams", "GetRecords", result, False, monkeypatch)


def test_an_order_shaped_item_serializes_to_the_wire_form_it_was_stored_in(monkeypatch):
    item = {"order_id": {"S": "01J"}, "payable": {"N": "1990"}, "lines": {"L": [{"M": {
        "sku_id": {"S": "S1"}, "quantity": {"N": "2"}, "specs": {"M": {"颜色": {"S": "红"}}}}}]},
        "tags": {"SS": ["a"]}, "note": {"NULL": True}, "paid": {"BOOL": False}}
    body = json.loads(serialized("dynamodb", "GetItem", {"Item": as_moto_holds_it(item)}, True, monkeypatch)["body"])
    assert body == {"Item": item}
