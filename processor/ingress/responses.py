"""The ingress's answers: JSON bodies and the pydantic models that document them."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, Field

from processor.ingress.asgi import Send


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


_JSON_HEADERS = [(b"content-type", b"application/json")]


async def send_json(
    send: Send,
    status: int,
    body: dict[str, Any],
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a complete JSON response."""
    payload = orjson.dumps(body)
    headers = [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
    if extra_headers:
        headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def send_problem(
    send: Send,
    status: int,
    error: str,
    message: str,
    request_id: str,
    *,
    field: str | None = None,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a :class:`Problem` answer."""
    body: dict[str, Any] = {"error": error, "message": message, "requestId": request_id}
    if field is not None:
        body["field"] = field
    await send_json(send, status, body, extra_headers)


async def send_text(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    """Send a complete non-JSON response (metrics exposition)."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
