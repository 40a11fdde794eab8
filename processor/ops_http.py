"""A small HTTP endpoint for the background processes: /metrics, /healthz, /readyz.

The worker and the notifier serve it on their own port, each with its own
registry of processor/metrics.py, so Prometheus can scrape them and
orchestrators can probe them. uvicorn runs it in the
process's own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Generator

import uvicorn
from prometheus_client import CollectorRegistry

from processor.ingress.asgi import Receive, Scope, Send
from processor.ingress.metrics_endpoint import render_metrics
from processor.ingress.responses import send_json, send_text


class OpsApp:
    """ASGI app answering the three operational routes."""

    def __init__(self, ready: Callable[[], bool], registry: CollectorRegistry) -> None:
        self._ready = ready
        self._registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/metrics":
            body, content_type = render_metrics(self._registry)
            await send_text(send, 200, body, content_type)
        elif path == "/healthz":
            await send_json(send, 200, {"status": "alive"})
        elif path == "/readyz":
            ready = self._ready()
            await send_json(send, 200 if ready else 503, {"ready": ready})
        else:
            await send_json(send, 404, {"error": "not_found", "message": f"no route {path}"})


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
