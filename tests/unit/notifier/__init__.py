"""Notifier tests; also home of :class:`RecordingServer`, the HTTP receiver they post to.

The receiver is a real HTTP server (uvicorn, in this event loop, on a free
loopback port), so the sinks are tested over the wire instead of through a
mocked client. The integration tests reuse it as a recording webhook sink.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from processor.http.asgi import Receive, Scope, Send
from processor.http.ops import EmbeddedServer


@dataclass(frozen=True, slots=True)
class Received:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    """The body parsed as JSON."""


@dataclass(slots=True)
class RecordingServer:
    """Records every request; answers ``fail_status`` to the first ``fail_first``, then 200."""

    fail_first: int = 0
    fail_status: int = 503
    retry_after: str | None = None
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _server: EmbeddedServer | None = None
    _task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        raw = b"".join(chunks)
        body = json.loads(raw) if raw else None
        self.received.append(Received(scope["method"], scope["path"], headers, body))
        failing = len(self.received) <= self.fail_first
        status = self.fail_status if failing else 200
        extra = (
            [(b"retry-after", self.retry_after.encode())] if failing and self.retry_after else []
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *extra],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})

    async def start(self) -> str:
        """Listen on a free loopback port; return the base URL."""
        config = uvicorn.Config(
            self, host="127.0.0.1", port=0, lifespan="off", log_level="warning", access_log=False
        )
        self._server = EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    def bodies(self, path: str | None = None) -> list[Any]:
        """Bodies received (on ``path`` if given), in order."""
        return [r.body for r in self.received if path is None or r.path == path]


def alert_record(
    alert_id: str = "a" * 32,
    call_id: str = "c-1",
    codes: tuple[str, ...] = ("NETWORK_ERROR",),
    *,
    kind: str = "ERRORED_EVENT",
    severity: str = "critical",
    at_ms: int = 1_780_000_000_000,
    project_id: str = "6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f",
) -> dict[str, Any]:
    """A call-alerts record as the worker writes it (see processor/schemas/call-alerts.v1.json)."""
    errored = kind == "ERRORED_EVENT"
    errors = [
        {
            "code": code,
            "phase": "CONNECTING",
            "message": "Upstream socket reset",
            "where": "OutboundCallAdapter.connect",
            "timestamp": "2026-06-01T09:15:02.418Z",
        }
        for code in codes
    ]
    return {
        "schema": "recho.call-alert/1",
        "alertId": alert_id,
        "kind": kind,
        "severity": severity,
        "callId": call_id,
        "projectId": project_id,
        "direction": "OUTBOUND",
        "eventType": "OUTBOUND_CALL_ERROR" if errored else None,
        "eventTypeRaw": "OUTBOUND_CALL_ERROR" if errored else None,
        "callStatus": "CALLING",
        "errorKind": "IN_CALL" if errored else None,
        "errors": errors if errored else [],
        "errorCodes": list(codes) if errored else [],
        "atMs": at_ms,
        "summary": f"OUTBOUND_CALL_ERROR on call {call_id}: {codes[0] if codes else 'error'}",
        "context": {
            "status": "CALLING",
            "attempts": 1,
            "eventsSeen": 3,
            "errorCount": 1,
            "firstSeenMs": at_ms - 5000,
            "lastSeenMs": at_ms,
            "outcome": None,
        },
        "source": {"topic": "recho.webhooks.v1", "partition": 0, "offset": 7} if errored else None,
    }
