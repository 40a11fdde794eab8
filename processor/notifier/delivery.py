"""Delivering alerts to one sink: retries with backoff, and each alert sent once.

notifier: grouping -> sinks -> **delivery**. :func:`deliver` calls a sink until it
takes the alerts, answers for good that it will not (a 4xx), or the notifier stops; a
sink that keeps failing past the policy's budget is reported down and retried every
``cap_s``, never given up. :class:`ReliableSink` adds the memory of delivered alert ids,
the counts and the logs.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Final

import structlog

from processor import metrics
from processor.errors import DeliveryError
from processor.notifier.grouping import Alert, RecentIds
from processor.notifier.sinks import Sink
from processor.retry import RetryPolicy

log = structlog.get_logger(__name__)

RETRY_LOG_ATTEMPTS: Final = 5
"""Retries logged one by one; past them, a sink that is down logs once (alert_sink_down)."""


class SinkDelivery(StrEnum):
    """How a delivery ended (values are metric label values, except ABORTED)."""

    DELIVERED = "delivered"
    FAILED = "failed"
    ABORTED = "aborted"
    """Stopped while waiting to retry: the alerts stay uncommitted and come back."""


async def deliver(
    send: Callable[[], Awaitable[None]],
    policy: RetryPolicy,
    stop: asyncio.Event,
    on_error: Callable[[DeliveryError, int], None],
    rng: random.Random | None = None,
    on_down: Callable[[], None] | None = None,
) -> SinkDelivery:
    """Call ``send`` until it succeeds, fails for good, or ``stop`` is set.

    Each failed attempt is reported to ``on_error`` with its attempt number.
    A retriable failure is never given up: once ``policy.budget_s`` is spent,
    ``on_down`` is called (once) and the sink is retried every ``policy.cap_s``
    until it takes the alerts, so an alert is never dropped while a sink is
    down. Only a non-retriable answer (a 4xx) fails. Returns an :class:`SinkDelivery`.
    """
    rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
    loop = asyncio.get_running_loop()
    started = loop.time()
    attempt = 0
    down = False
    while True:
        attempt += 1
        try:
            await send()
        except DeliveryError as exc:
            on_error(exc, attempt)
            if not exc.retriable:
                return SinkDelivery.FAILED
            delay = policy.delay_s(attempt, rng, exc.retry_after_s)  # the receiver knows best
            if policy.exhausted(attempt, loop.time() + delay - started):
                delay = max(delay, policy.cap_s)
                if not down and on_down is not None:
                    on_down()
                down = True
            if stop.is_set():
                return SinkDelivery.ABORTED
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                continue
            return SinkDelivery.ABORTED
        return SinkDelivery.DELIVERED


class ReliableSink:
    """A sink with retries and a memory of delivered ids: each alert is sent once.

    An alert whose id this sink already took (a Kafka redelivery, a replay)
    is dropped and counted ``result="suppressed"``; the rest are sent with
    :func:`deliver` and counted ``delivered`` or ``failed``. Failed alerts are
    not remembered, so a later redelivery tries them again.
    """

    def __init__(self, sink: Sink, policy: RetryPolicy, recent: RecentIds | None = None) -> None:
        self.sink = sink
        self.name = sink.name
        self.grouped = sink.grouped
        self.policy = policy
        self.recent = recent if recent is not None else RecentIds()
        self.down = False
        metrics.NOTIFIER_SINK_DOWN.labels(self.name).set(0)

    async def deliver(self, alerts: Sequence[Alert], stop: asyncio.Event) -> SinkDelivery:
        """Deliver what this sink has not taken yet; count and log the results."""
        fresh, suppressed = self.recent.fresh(alerts)
        if suppressed:
            metrics.NOTIFIER_DELIVERIES.labels(self.name, "suppressed").inc(suppressed)
        if not fresh:
            return SinkDelivery.DELIVERED
        errors: list[DeliveryError] = []

        def on_error(exc: DeliveryError, attempt: int) -> None:
            errors.append(exc)
            if attempt <= RETRY_LOG_ATTEMPTS or not self.down:
                log.warning("alert_delivery_retry", sink=self.name, attempt=attempt, error=str(exc))

        def on_down() -> None:
            self.down = True
            metrics.NOTIFIER_SINK_DOWN.labels(self.name).set(1)
            log.error(
                "alert_sink_down",
                sink=self.name,
                alerts_waiting=len(fresh),
                failing_for_s=self.policy.budget_s,
                retry_every_s=self.policy.cap_s,
                error=str(errors[-1]) if errors else "",
            )

        outcome = await deliver(
            lambda: self.sink.send(fresh), self.policy, stop, on_error, on_down=on_down
        )
        if outcome is SinkDelivery.DELIVERED:
            if self.down:
                self.down = False
                metrics.NOTIFIER_SINK_DOWN.labels(self.name).set(0)
                log.info("alert_sink_recovered", sink=self.name, attempts=len(errors) + 1)
            self.recent.add_all(alert.alert_id for alert in fresh)
            metrics.NOTIFIER_DELIVERIES.labels(self.name, "delivered").inc(len(fresh))
        elif outcome is SinkDelivery.FAILED:
            metrics.NOTIFIER_DELIVERIES.labels(self.name, "failed").inc(len(fresh))
            log.error(
                "alert_delivery_failed",
                sink=self.name,
                alerts=len(fresh),
                alert_ids=[alert.alert_id for alert in fresh[:10]],
                attempts=len(errors),
                error=str(errors[-1]) if errors else "",
            )
        return outcome
