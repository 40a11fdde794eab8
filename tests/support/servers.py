"""Real HTTP servers in this event loop, so clients are tested over the wire.

:func:`serve` runs any ASGI app with uvicorn on a free loopback port;
:class:`RecordingServer` is the receiver the notifier's sinks post to, and the
integration tests' recording webhook sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from tests.support.asgi import App, Receive, Scope, Send, read_body


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server(uvicorn.Server):
    """uvicorn without signal capture: pytest keeps its own handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass(slots=True)
class Served:
    """An app being served; ``url`` is its base URL."""

    url: str
    _server: _Server
    _task: asyncio.Task[None]

    async def stop(self) -> None:
        """Stop listening and wait for the server to finish."""
        self._server.should_exit = True
        await self._task


async def serve(app: App) -> Served:
    """Serve ``app`` with uvicorn in this event loop on a free loopback port."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", access_log=False
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return Served(f"http://127.0.0.1:{port}", server, task)


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
    _served: Served | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = await read_body(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
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
        self._served = await serve(self)
        self.url = self._served.url
        return self.url

    async def stop(self) -> None:
        """Stop listening."""
        if self._served is not None:
            await self._served.stop()

    async def __aenter__(self) -> RecordingServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def bodies(self, path: str | None = None) -> list[Any]:
        """Bodies received (on ``path`` if given), in order."""
        return [r.body for r in self.received if path is None or r.path == path]
