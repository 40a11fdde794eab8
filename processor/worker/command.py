"""``processor worker``: run the worker until SIGTERM/SIGINT, with its ops endpoint."""

from __future__ import annotations

import asyncio
import signal

import structlog

from processor import metrics
from processor.errors import FencedError
from processor.http.ops import OpsServer
from processor.settings import Settings
from processor.worker.runner import Worker

log = structlog.get_logger(__name__)


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run one worker; return the process exit code."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(settings)
    ops = OpsServer(
        settings.ingress_host,
        settings.worker_metrics_port,
        lambda: worker.ready,
        metrics.WORKER_REGISTRY,
    )
    await ops.start()
    log.info(
        "worker_started", group=settings.worker_group_id, metrics_port=settings.worker_metrics_port
    )
    try:
        await worker.run(stop)
    except FencedError as exc:
        log.error("worker_stopped_fenced", error=str(exc))
        return 1
    finally:
        await ops.stop()
    log.info("worker_stopped")
    return 0


def command(settings: Settings) -> int:
    """Entry point for the CLI."""
    try:
        import uvloop

        return uvloop.run(run_worker(settings))
    except ImportError:
        return asyncio.run(run_worker(settings))
