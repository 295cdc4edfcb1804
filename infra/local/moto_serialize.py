"""Moto's DynamoDB answers, serialized at the cost of what they carry.

Pinned moto turns every answer into JSON by walking the operation's output shape
(`moto.core.serialize`), and for each AttributeValue it asks for all ten of its
members (S, N, B, SS, NS, BS, M, L, NULL, BOOL) through a value picker that tries
several spellings of each name. An item's attributes hold one member each, so nine
of those ten lookups find nothing: a page of twenty orders cost the embedded server
about 5 ms a Query, more than the query itself (`make bench`, "Cold start": the
admin's order list). DynamoDB has no such cost.

`install()` makes an AttributeValue, as moto holds it (a dict already keyed by its
wire member), serialize only the members it has, through the same member
serialization as before, in the shape's order: the same JSON, byte for byte
(`tests/unit/test_moto_serialize.py` holds it to moto's own walk with hypothesis).
"""
from __future__ import annotations

from typing import Any

from moto.core.serialize import BaseJSONSerializer

from infra.local.moto_pin import ORIGINALS, patch_once

SERVICES = frozenset({"dynamodb", "dynamodbstreams"})


def _serialize_type_structure(self: BaseJSONSerializer, serialized: Any, value: Any, shape: Any, key: str) -> None:
    if (shape.name != "AttributeValue" or not isinstance(value, dict)
            or self.operation_model.service_model.service_name not in SERVICES):
        return ORIGINALS["BaseJSONSerializer._serialize_type_structure"](self, serialized, value, shape, key)
    wrapper = self.MAP_TYPE() if key else serialized
    for member_key, member_shape in shape.members.items():
        if member_key in value:  # what the full walk would find: the picker reads a dict by its exact key first
            member_shape.parent = shape
            self._serialize_structure_member(wrapper, value, member_shape, member_key)
    if key:
        self._default_serialize(serialized, wrapper, shape, key)
    return None


def install() -> None:
    """Patches moto's JSON serializer in this process (idempotent); refuses a moto whose internals it does not know."""
    patch_once("serialize", {(BaseJSONSerializer, "_serialize_type_structure"): _serialize_type_structure})
