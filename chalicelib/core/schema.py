"""The base of every request and response model, and the shapes core itself answers with."""
from __future__ import annotations

import importlib
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, model_validator


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
