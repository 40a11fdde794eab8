"""A served ingress freezes its startup heap once Kafka is connected; an embedded one does not."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import pytest

from processor.ingress.app import IngressApp
from processor.ingress.server import create_app
from processor.settings import Settings


@pytest.fixture
async def unfrozen() -> AsyncIterator[None]:
    """Give any frozen objects back to the collector after the test."""
    gc.unfreeze()
    yield
    gc.unfreeze()


_Lifespan = tuple["asyncio.Task[None]", "asyncio.Queue[dict[str, Any]]"]


async def _started(app: IngressApp) -> _Lifespan:
    """Run the app's lifespan until its producer is connected."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    task = asyncio.create_task(app({"type": "lifespan"}, inbox.get, send))
    for _ in range(200):
        if app.ready:
            break
        await asyncio.sleep(0.05)
    assert app.ready
    return task, inbox


async def _stopped(lifespan: _Lifespan) -> None:
    task, inbox = lifespan
    await inbox.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(task, 30)


@pytest.mark.usefixtures("unfrozen")
class TestHeapFreeze:
    async def test_served_app_freezes_once_connected(self, settings: Settings) -> None:
        app = create_app(settings, freeze_heap=True)
        assert gc.get_freeze_count() == 0
        lifespan = await _started(app)
        try:
            for _ in range(100):  # the freeze follows the connection in the same task
                if gc.get_freeze_count():
                    break
                await asyncio.sleep(0.01)
            assert gc.get_freeze_count() > 1000
        finally:
            await _stopped(lifespan)

    async def test_embedded_app_leaves_the_heap_alone(self, settings: Settings) -> None:
        app = create_app(settings)
        lifespan = await _started(app)
        try:
            assert gc.get_freeze_count() == 0
        finally:
            await _stopped(lifespan)
