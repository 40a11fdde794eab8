"""``processor worker``: run the worker until SIGTERM/SIGINT, with its ops endpoint."""

from __future__ import annotations

import asyncio

import structlog

from processor import metrics
from processor.entry import run_main, stop_event
from processor.errors import FencedError
from processor.http.ops import OpsServer
from processor.settings import Settings
from processor.worker.runner import Worker

log = structlog.get_logger(__name__)


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run one worker until ``stop`` is set; return the process exit code.

    Without ``stop`` (the ``processor worker`` process), SIGTERM and SIGINT stop it; a
    caller that passes ``stop`` owns the signals.
    """
    with stop_event(stop) as stopping:
        return await _run_worker(settings, stopping)


async def _run_worker(settings: Settings, stop: asyncio.Event) -> int:
    worker = Worker(settings)
    ops = OpsServer(
        settings.ops_host,
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
    return run_main(run_worker(settings))
