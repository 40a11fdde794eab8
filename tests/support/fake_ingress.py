"""A recording ingress for the simulator's tests: an ASGI app that keeps every request
and answers as the test tells it (503 first, 401 always, slow...); serve it with
:func:`tests.support.servers.serve`."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from processor.errors import AuthError
from processor.ingress.auth import Authenticator
from tests.support.asgi import read_body


@dataclass
class Received:
    """One request as the fake ingress saw it."""

    body: bytes
    headers: dict[str, str]
    call_id: str
    event_type: str
    attempt: int
    """1 the first time these exact bytes arrived, 2 the second time..."""
    arrived_at: float
    answered_at: float = 0.0
    status: int = 0


@dataclass
class FakeIngress:
    """A recording ASGI app; ``answer`` picks each response's status."""

    answer: Callable[[Received], int] = lambda _: 202
    retry_after: str | None = None
    delay_s: float = 0.0
    authenticator: Authenticator | None = None
    requests: list[Received] = field(default_factory=list)
    first_request: asyncio.Event = field(default_factory=asyncio.Event)
    _seen: Counter[bytes] = field(default_factory=Counter)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Record the request, wait ``delay_s``, answer."""
        assert scope["type"] == "http"
        loop = asyncio.get_running_loop()
        body = await read_body(receive)
        digest = hashlib.sha256(body).digest()
        self._seen[digest] += 1
        document = orjson.loads(body)
        received = Received(
            body=body,
            headers={k.decode(): v.decode() for k, v in scope["headers"]},
            call_id=document["body"]["data"]["callId"],
            event_type=document["eventType"],
            attempt=self._seen[digest],
            arrived_at=loop.time(),
        )
        self.requests.append(received)
        self.first_request.set()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status = self.answer(received)
        if self.authenticator is not None and status < 300:
            status = self._verify(received)
        received.status = status
        received.answered_at = loop.time()
        headers = [(b"content-type", b"application/json")]
        if self.retry_after is not None and status == 503:
            headers.append((b"retry-after", self.retry_after.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    def _verify(self, received: Received) -> int:
        assert self.authenticator is not None
        try:
            self.authenticator.verify(
                authorization=header(received, "authorization"),
                signature=header(received, "x-recho-signature"),
                timestamp=header(received, "x-recho-timestamp"),
                body=received.body,
                now_s=float(received.headers.get("x-recho-timestamp", "0")),
            )
        except AuthError:
            return 401
        return 202

    def by_call(self) -> dict[str, list[Received]]:
        """Requests grouped by callId, in arrival order."""
        grouped: dict[str, list[Received]] = defaultdict(list)
        for request in self.requests:
            grouped[request.call_id].append(request)
        return grouped


def header(received: Received, name: str) -> bytes | None:
    """A header of the request as bytes, None when absent."""
    value = received.headers.get(name)
    return None if value is None else value.encode()
