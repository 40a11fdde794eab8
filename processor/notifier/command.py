"""``processor notifier``: deliver alerts until SIGTERM/SIGINT, with its ops endpoint."""

from __future__ import annotations

import asyncio
import signal

import structlog

from processor import metrics
from processor.http.ops import OpsServer
from processor.notifier.runner import Notifier
from processor.notifier.sinks import RetryPolicy
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
    loop = asyncio.get_running_loop()
    signals: tuple[signal.Signals, ...] = ()
    if stop is None:
        stop = asyncio.Event()
        signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    notifier = Notifier(settings, policy)
    ops = OpsServer(
        settings.ingress_host,
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
        for sig in signals:
            loop.remove_signal_handler(sig)
    log.info("notifier_stopped")
    return 0


def command(settings: Settings) -> int:
    """Entry point for the CLI."""
    try:
        import uvloop

        return uvloop.run(run_notifier(settings))
    except ImportError:
        return asyncio.run(run_notifier(settings))
