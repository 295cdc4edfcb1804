"""The base of every request and response model, the shapes core itself answers with, and input types."""
from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, model_validator


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
