"""The base of every request and response model, and the shapes core itself answers with."""
from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    """A pydantic model whose validator is built on first use, not at import.

    A Lambda function imports every model of its feature but one request uses one
    or two of them; building all of them at import was a measurable part of the
    cold start (see benchmarks/report.md).
    """
    model_config = ConfigDict(defer_build=True)


class Health(Schema):
    status: str
    features: list[str]
