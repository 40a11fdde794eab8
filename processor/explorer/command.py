"""``processor explorer``: the materialiser and the HTTP server in one event loop."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn

from processor.entry import run_main, stop_event
from processor.explorer.api import ExplorerApp, check_exposure
from processor.explorer.backends import open_store
from processor.explorer.materialize import Materializer
from processor.explorer.store import Store
from processor.http.ops import EmbeddedServer
from processor.logs import get_logger
from processor.settings import Settings

log = get_logger(__name__)


class Explorer:
    """One explorer: store, consumer loop and HTTP server; start, then stop."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        check_exposure(settings)  # refuse an unauthenticated public bind before anything
        self.settings = settings
        self.store = store if store is not None else open_store(settings)
        self.materializer = Materializer(settings, self.store)
        self.app = ExplorerApp(settings, self.store, self.ready)
        config = uvicorn.Config(
            self.app,
            host=settings.explorer_host,
            port=settings.explorer_port,
            lifespan="off",
            log_level="warning",
            access_log=False,
            server_header=False,
        )
        self._server = EmbeddedServer(config)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def ready(self) -> bool:
        """True while records are being consumed into the store."""
        return self.materializer.consuming

    @property
    def port(self) -> int:
        """The bound port (useful with explorer_port=0)."""
        servers = self._server.servers
        return int(servers[0].sockets[0].getsockname()[1]) if servers else 0

    @property
    def url(self) -> str:
        """Where the web page is."""
        return f"http://{self.settings.explorer_host}:{self.port}/"

    async def start(self, *, consume: bool = True) -> None:
        """Open the store (migrating it), start consuming (unless told not to) and serving."""
        await self.store.open()
        if consume:
            self._tasks.append(asyncio.create_task(self.materializer.run(self._stop)))
        serving = asyncio.create_task(self._server.serve())
        self._tasks.append(serving)
        while not self._server.started:
            if serving.done():
                serving.result()
                raise OSError("the explorer's HTTP server stopped before it started")
            await asyncio.sleep(0.01)
        log.info("explorer_serving", url=self.url, store=self.store.kind)

    async def stop(self) -> None:
        """Stop serving and consuming; close the store."""
        self._stop.set()
        self._server.should_exit = True
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.store.close()


async def run(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run until ``stop`` is set (by default: until SIGTERM or SIGINT)."""
    explorer = Explorer(settings)
    with stop_event(stop) as stopping:
        await explorer.start()
        print(f"explorer: {explorer.url}", flush=True)
        try:
            await stopping.wait()
        finally:
            await explorer.stop()
    return 0


def command(settings: Settings) -> int:
    """Entry point for the CLI."""
    return run_main(run(settings))
