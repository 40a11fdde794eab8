"""The pydantic models that document the ingress's answers (its OpenAPI document)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Accepted(BaseModel):
    """202: the webhook is durably in Kafka at this position."""

    topic: str = Field(description="Kafka topic the raw body was written to.")
    partition: int = Field(description="Partition (chosen by callId).")
    offset: int = Field(description="Offset of the record in that partition.")
    request_id: str = Field(alias="requestId", description="Id of this request, also in logs.")
    flags: list[str] = Field(
        default_factory=list,
        description="Why the payload was flagged (unknown values, off-schema fields); "
        "it was accepted anyway.",
    )


class Problem(BaseModel):
    """Every 4xx/503 answer: what is wrong, in words and as a stable code."""

    error: str = Field(description="Stable machine code, e.g. invalid_token, body_too_large.")
    message: str = Field(description="What is wrong, for a human.")
    field: str | None = Field(default=None, description="Offending field path, if any.")
    request_id: str = Field(alias="requestId", description="Id of this request, also in logs.")
