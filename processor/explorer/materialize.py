"""Kafka → query store: the explorer's consumer loop.

Reads recho.call-state.v1, recho.call-events.v1 and recho.call-alerts.v1
(read_committed) from the offsets stored in the query store, decodes each
fetch into a :class:`~processor.explorer.rows.Batch` and applies it, offsets
included, in one store transaction. A crash at any point therefore resumes
exactly after the last applied batch: nothing is missed or stored twice.
Kafka or store failures are retried with a capped back-off; the loop stops
only when asked to.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from processor import metrics
from processor.errors import KafkaError
from processor.explorer.exceptions import StoreError
from processor.explorer.rows import Batch, Decoder
from processor.explorer.store import Store
from processor.kafka.assigned import AssignedConsumer
from processor.logs import get_logger
from processor.settings import Settings

log = get_logger(__name__)

FETCH_TIMEOUT_MS = 200
EXPIRE_INTERVAL_S = 60.0
MAX_BACKOFF_S = 5.0


class Materializer:
    """Keeps the query store equal to what the output topics say."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self._settings = settings
        self._store = store
        self._topics = [
            settings.topic_call_state,
            settings.topic_call_events,
            settings.topic_call_alerts,
        ]
        self._decoder = Decoder(
            settings.topic_call_events, settings.topic_call_state, settings.topic_call_alerts
        )
        self.consuming = False
        self.applied_batches = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Consume and apply until ``stop`` is set."""
        backoff_s = 0.1
        next_expiry = 0.0
        while not stop.is_set():
            consumer = AssignedConsumer(self._settings, self._topics, role="explorer")
            try:
                offsets = await self._store.offsets()
                partitions = await consumer.start(offsets)
                self.consuming = True
                log.info("explorer_consuming", partitions=len(partitions), resumed=len(offsets))
                backoff_s = 0.1
                while not stop.is_set():
                    if time.monotonic() >= next_expiry:
                        await self._expire()
                        next_expiry = time.monotonic() + EXPIRE_INTERVAL_S
                    await self._step(consumer)
            except (KafkaError, StoreError) as exc:
                log.warning("explorer_retrying", error=str(exc), backoff_s=backoff_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff_s)
                backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)
            finally:
                self.consuming = False
                await consumer.stop()

    async def _step(self, consumer: AssignedConsumer) -> None:
        records = await consumer.fetch(FETCH_TIMEOUT_MS, self._settings.explorer_batch_max_records)
        if not records:
            for topic in self._topics:
                metrics.EXPLORER_APPLY_LAG_SECONDS.labels(topic).set(0)
            return
        batch = self._decoder.decode(records)
        # A failed apply raises StoreError: the consumer restarts from the stored offsets.
        await self._store.apply(batch)
        self.applied_batches += 1
        self._count(batch)

    def _count(self, batch: Batch) -> None:
        tombstones = sum(1 for state in batch.states.values() if state is None)
        for kind, count in (
            ("event", len(batch.events)),
            ("alert", len(batch.alerts)),
            ("state", len(batch.states) - tombstones),
            ("tombstone", tombstones),
        ):
            if count:
                metrics.EXPLORER_ROWS_APPLIED.labels(kind).inc(count)
        now_ms = time.time() * 1000
        for topic, newest_ms in batch.newest_ms.items():
            lag_s = max(0.0, (now_ms - newest_ms) / 1000)
            metrics.EXPLORER_APPLY_LAG_SECONDS.labels(topic).set(lag_s)
        if batch.skipped:
            log.warning("explorer_records_skipped", count=batch.skipped)
        if tombstones:
            metrics.EXPLORER_CALLS_DELETED.labels("tombstone").inc(tombstones)

    async def _expire(self) -> None:
        cutoff_ms = int((time.time() - self._settings.explorer_retention_s) * 1000)
        deleted = await self._store.expire(cutoff_ms)
        if deleted:
            metrics.EXPLORER_CALLS_DELETED.labels("retention").inc(deleted)
            log.info("explorer_calls_expired", count=deleted)
