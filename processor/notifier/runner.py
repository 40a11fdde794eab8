"""The notifier loop: consume alerts, deliver them to every sink, then commit.

recho.call-alerts.v1 -> **notifier** -> Alertmanager / JSON webhook / Slack.

One step: fetch a batch; post it to Alertmanager right away (it groups
alerts itself); put it into the :class:`~processor.notifier.grouping.Grouper`
for the webhook sinks and send the groups whose window has closed; then
commit, per partition, the offset below the oldest alert not yet handled by
every sink. Progress is therefore committed only after delivery
(at-least-once): after a crash or a rebalance the uncommitted alerts come
again, and idempotency absorbs them (Alertmanager by label set, webhooks by
``Idempotency-Key``, and in-process by each sink's memory of sent ids).

Retries and their trade-off: a failing sink is retried with backoff, and
after ``notifier_retry_max_s`` it is reported down (metric
``recho_notifier_sink_down``, one ``alert_sink_down`` log line, the
RechoNotifierSinkDown rule) and retried every back-off cap until it takes the
alerts. Nothing is committed past an undelivered alert, so none is dropped
while a sink is down; the price is that the notifier makes no progress
meanwhile (its lag grows and is visible). Alerts that a 4xx rejects fail at
once (retrying cannot help) and are counted ``result="failed"`` and logged.
On SIGTERM, open groups get one attempt each; what fails, and anything
interrupted while waiting to retry, stays uncommitted for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Final

import httpx
import structlog

from processor import metrics
from processor.errors import ConfigError, KafkaError
from processor.kafka.consumer import SESSION_TIMEOUT_MS, GroupConsumer
from processor.kafka.records import Record
from processor.notifier.delivery import ReliableSink, SinkDelivery
from processor.notifier.grouping import Alert, AlertGroup, Grouper, parse_alert
from processor.notifier.offsets import OffsetTracker
from processor.notifier.sinks import USER_AGENT, build_sinks
from processor.retry import RetryPolicy
from processor.settings import Settings

log = structlog.get_logger(__name__)

FETCH_MAX_RECORDS: Final = 500
"""Most alerts per step (and per Alertmanager request)."""
FETCH_WAIT_MS: Final = 500
"""Longest a fetch waits for records when no group is about to close."""


class Notifier:
    """One notifier process's consumer, sinks, groups and commit loop."""

    def __init__(self, settings: Settings, policy: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.policy = policy or RetryPolicy(budget_s=settings.notifier_retry_max_s)
        self.sinks: list[ReliableSink] = []
        self._client: httpx.AsyncClient | None = None
        self._grouper = Grouper(settings.notifier_group_window_s)
        self._offsets = OffsetTracker()
        self._consumer = GroupConsumer(
            settings,
            settings.topic_call_alerts,
            settings.notifier_group_id,
            role="notifier",
            on_revoked=self._on_revoked,
            # A delivery may retry for notifier_retry_max_s between two fetches.
            max_poll_interval_ms=int(max(300.0, settings.notifier_retry_max_s * 2) * 1000),
            rebalance_timeout_ms=SESSION_TIMEOUT_MS,
        )

    @property
    def joined(self) -> bool:
        """True once the group gave this member its partitions (readiness)."""
        return self._consumer.joined

    # --- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        """Build the sinks (ConfigError if none is configured) and join the group."""
        client = httpx.AsyncClient(
            timeout=self.settings.notifier_timeout_s, headers={"User-Agent": USER_AGENT}
        )
        self.sinks = [ReliableSink(s, self.policy) for s in build_sinks(self.settings, client)]
        if not self.sinks:
            await client.aclose()
            raise ConfigError(
                "the notifier has no sink: set PROCESSOR_NOTIFIER_ALERTMANAGER_URL, "
                "PROCESSOR_NOTIFIER_WEBHOOK_URL or PROCESSOR_NOTIFIER_SLACK_URL"
            )
        self._client = client
        await self._consumer.start()
        log.info("notifier_sinks", sinks=[sink.name for sink in self.sinks])

    async def stop(self) -> None:
        """Leave the group and close the HTTP client."""
        await self._consumer.stop()
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then send open groups once and commit."""
        try:
            await self.start()
            while not stop.is_set():
                try:
                    await self.step(stop)
                except KafkaError as exc:
                    if not exc.retriable:
                        raise
                    log.warning("notifier_kafka_error", error=str(exc))
                    await _sleep_unless(stop, 1.0)
            await self._send_groups(self._grouper.drain(), stop)
            await self._commit()
        finally:
            await self.stop()

    # --- one step ----------------------------------------------------------------
    async def step(self, stop: asyncio.Event) -> None:
        """Fetch, deliver what is due, commit what is handled.

        The commit never passes an alert still in flight (in an open group,
        or interrupted by ``stop`` while waiting to retry), so it is always safe.
        """
        loop = asyncio.get_running_loop()
        batches = await self._consumer.fetch(self._fetch_wait_ms(loop.time()), FETCH_MAX_RECORDS)
        alerts = self._read([record for records in batches.values() for record in records])
        if alerts:
            await self._send_batch(alerts, stop)
        await self._send_groups(self._grouper.due(loop.time()), stop)
        await self._commit()

    def _fetch_wait_ms(self, now_s: float) -> int:
        due = self._grouper.next_due_s()
        if due is None:
            return FETCH_WAIT_MS
        return max(1, min(FETCH_WAIT_MS, int((due - now_s) * 1000)))

    def _read(self, records: Sequence[Record]) -> list[Alert]:
        alerts: list[Alert] = []
        for record in records:
            metrics.NOTIFIER_ALERTS_CONSUMED.inc()
            self._offsets.consumed(record.partition, record.offset)
            try:
                alerts.append(parse_alert(record.value, record.partition, record.offset))
            except ValueError as exc:
                log.warning(
                    "alert_unreadable",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    error=str(exc),
                )
                self._offsets.done(record.partition, record.offset)
        return alerts

    async def _send_batch(self, alerts: list[Alert], stop: asyncio.Event) -> None:
        """Alertmanager-style sinks get the batch now; the rest get it grouped later."""
        immediate = [sink for sink in self.sinks if not sink.grouped]
        outcomes = await asyncio.gather(*(s.deliver(alerts, stop) for s in immediate))
        if SinkDelivery.ABORTED in outcomes:
            return  # stopping: the batch stays in flight, uncommitted
        if any(sink.grouped for sink in self.sinks):
            now = asyncio.get_running_loop().time()
            for alert in alerts:
                self._grouper.add(alert, now)
        else:
            self._done(alerts)

    async def _send_groups(self, groups: list[AlertGroup], stop: asyncio.Event) -> None:
        """Send each closed group to every grouped sink; a group interrupted stays in flight."""
        grouped = [sink for sink in self.sinks if sink.grouped]
        pairs = [(group, sink) for group in groups for sink in grouped]
        outcomes = await asyncio.gather(*(s.deliver(g.alerts, stop) for g, s in pairs))
        aborted = {
            id(g) for (g, _), o in zip(pairs, outcomes, strict=True) if o is SinkDelivery.ABORTED
        }
        for group in groups:
            if id(group) not in aborted:
                self._done(group.alerts)

    def _done(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            self._offsets.done(alert.partition, alert.offset)

    # --- commits -------------------------------------------------------------------
    async def _commit(self, partitions: Iterable[int] | None = None) -> None:
        offsets = self._offsets.committable(partitions)
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:
            # A rebalance took the partitions: their new owner redelivers from the
            # last commit, and idempotency absorbs the repeats.
            log.warning("offsets_commit_failed", error=str(exc))
            return
        self._offsets.committed(offsets)

    async def _on_revoked(self, partitions: list[int]) -> None:
        """Commit what is handled before the partitions move, then forget them."""
        await self._commit(partitions)
        self._offsets.forget(partitions)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
