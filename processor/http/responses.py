"""Complete HTTP answers in one call: JSON bodies, JSON problems, plain text."""

from __future__ import annotations

from typing import Any

import orjson

from processor.http.asgi import Send

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
