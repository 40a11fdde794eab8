"""``processor notifier``: deliver alerts until SIGTERM/SIGINT, with its ops endpoint."""

from __future__ import annotations

import asyncio

import structlog

from processor import metrics
from processor.entry import run_main, stop_event
from processor.http.ops import OpsServer
from processor.notifier.runner import Notifier
from processor.retry import RetryPolicy
from processor.settings import Settings

log = structlog.get_logger(__name__)


async def run_notifier(
    settings: Settings, stop: asyncio.Event | None = None, policy: RetryPolicy | None = None
) -> int:
    """Run one notifier until ``stop`` is set; return the process exit code.

    Without ``stop`` (the ``processor notifier`` process), SIGTERM and SIGINT
    stop it; a caller that passes ``stop`` (``processor run``, tests) owns
    the signals. Raises ConfigError when no sink is configured (the CLI
    prints it).
    """
    with stop_event(stop) as stopping:
        return await _run_notifier(settings, stopping, policy)


async def _run_notifier(settings: Settings, stop: asyncio.Event, policy: RetryPolicy | None) -> int:
    notifier = Notifier(settings, policy)
    ops = OpsServer(
        settings.ops_host,
        settings.notifier_metrics_port,
        lambda: notifier.joined,
        metrics.NOTIFIER_REGISTRY,
    )
    await ops.start()
    log.info(
        "notifier_started",
        group=settings.notifier_group_id,
        topic=settings.topic_call_alerts,
        metrics_port=settings.notifier_metrics_port,
    )
    try:
        await notifier.run(stop)
    finally:
        await ops.stop()
    log.info("notifier_stopped")
    return 0


def command(settings: Settings) -> int:
    """Entry point for the CLI."""
    return run_main(run_notifier(settings))
