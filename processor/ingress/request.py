"""What the ingress reads from a request: the headers it uses, its id, its body.

Also :class:`Refusal`, an answer other than 2xx decided by one of the webhook's
steps (admit, read, verify, key, publish) and sent by the app in one place.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

from processor.http.asgi import Receive

_REQUEST_ID_PREFIX = os.urandom(5).hex()
_REQUEST_COUNTER = itertools.count(1)
_REQUEST_ID_MAX_CHARS = 64

_WANTED = frozenset(
    {
        b"content-type",
        b"content-length",
        b"authorization",
        b"x-recho-signature",
        b"x-recho-timestamp",
        b"x-request-id",
    }
)
_SINGLE = frozenset({b"authorization", b"x-recho-signature", b"x-recho-timestamp"})


class BodyTooLargeError(Exception):
    """The body grew past the limit while it was read."""


class ClientGoneError(Exception):
    """The client disconnected before it finished sending the body."""


@dataclass
class Refusal(Exception):  # noqa: N818 - an answer, not an error of the ingress
    """A webhook answered with ``status`` (4xx/503) and the JSON problem body."""

    status: int
    error: str
    message: str
    field: str | None = None
    headers: list[tuple[bytes, bytes]] | None = None


def new_request_id() -> str:
    """A request id unique across processes: a random per-process prefix and a counter.

    Cheaper than uuid4 on the hot path, and ordered within a process.
    """
    return f"{_REQUEST_ID_PREFIX}{next(_REQUEST_COUNTER):012x}"


def request_id_of(header: bytes | None) -> str:
    """The client's ``X-Request-Id`` (at most 64 characters), else a new id."""
    given = (header or b"").decode("latin-1")[:_REQUEST_ID_MAX_CHARS]
    return given or new_request_id()


def find_request_id(raw_headers: list[tuple[bytes, bytes]]) -> str:
    """:func:`request_id_of` for a request whose headers were not picked."""
    for name, value in raw_headers:
        if name == b"x-request-id":
            return request_id_of(value)
    return new_request_id()


def pick_headers(
    raw_headers: list[tuple[bytes, bytes]],
) -> tuple[dict[bytes, bytes], bytes | None]:
    """The headers the ingress reads, and the name of an auth header sent twice, if any."""
    picked: dict[bytes, bytes] = {}
    repeated = None
    for name, value in raw_headers:
        if name in _WANTED:
            if name in picked and name in _SINGLE:
                repeated = name
            picked[name] = value
    return picked, repeated


async def read_body(receive: Receive, limit: int) -> bytes:
    """Read the request body, failing as soon as it grows past ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGoneError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
