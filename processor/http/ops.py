"""The operational endpoints: /metrics, /healthz, /readyz.

The worker and the notifier serve them on their own port, each with its own
registry of processor/metrics.py, so Prometheus can scrape them and
orchestrators can probe them; uvicorn runs it in the process's own event loop.
The ingress mounts the same app beside its webhook route.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Generator
from typing import Any, Final

import uvicorn
from prometheus_client import CollectorRegistry

from processor.http.asgi import Receive, Scope, Send
from processor.http.metrics_endpoint import render_metrics
from processor.http.responses import send_json, send_text

OPS_ROUTES: Final = frozenset({"/metrics", "/healthz", "/readyz"})


class OpsApp:
    """ASGI app answering the three operational routes.

    ``details``, when given, adds what readiness depends on to the /readyz body.
    """

    def __init__(
        self,
        ready: Callable[[], bool],
        registry: CollectorRegistry,
        details: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._ready = ready
        self._registry = registry
        self._details = details

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if await self.answer(path, send) is None:
            await send_json(send, 404, {"error": "not_found", "message": f"no route {path}"})

    async def answer(self, path: str, send: Send) -> int | None:
        """Answer ``path`` if it is one of :data:`OPS_ROUTES`; return the status sent, or None."""
        if path == "/metrics":
            body, content_type = render_metrics(self._registry)
            await send_text(send, 200, body, content_type)
            return 200
        if path == "/healthz":
            await send_json(send, 200, {"status": "alive"})
            return 200
        if path == "/readyz":
            ready = self._ready()
            status = 200 if ready else 503
            extra = self._details() if self._details is not None else {}
            await send_json(send, status, {"ready": ready, **extra})
            return status
        return None


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside a process that handles its own signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Leave SIGTERM/SIGINT to the process (uvicorn would take them over)."""
        yield


class OpsServer:
    """The ops endpoint running as a task of this event loop."""

    def __init__(
        self, host: str, port: int, ready: Callable[[], bool], registry: CollectorRegistry
    ) -> None:
        config = uvicorn.Config(
            OpsApp(ready, registry),
            host=host,
            port=port,
            lifespan="off",
            log_level="warning",
            log_config=None,  # uvicorn's records go through the process's structlog formatter
            access_log=False,
        )
        self._server = EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve until :meth:`stop`; returns once the port is bound."""
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise OSError("the ops endpoint stopped before it started")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop serving."""
        self._server.should_exit = True
        if self._task is not None:
            await self._task
