"""The worker's gauges: open calls by status, calls held, state size, consumer lag.

Published after every step from the partitions' stores and the consumer's
high-water marks; nothing here changes what the worker does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from processor import metrics
from processor.kafka.consumer import InputConsumer
from processor.worker.partition import PartitionWorker


class Gauges:
    """Publishes the worker's gauges; remembers what the lag bound needs between steps."""

    def __init__(self) -> None:
        self._status_labels: set[str] = set()
        self._caught_up_ms: dict[int, int] = {}

    def publish(
        self, partitions: Mapping[int, PartitionWorker], consumer: InputConsumer, *, swept: bool
    ) -> None:
        """Set every gauge; the state size only after a sweep (it samples the stores: every
        step, that was 1% of the worker's CPU under a backlog)."""
        now_ms = time.time_ns() // 1_000_000
        open_calls: dict[str, int] = {}
        calls = 0
        for partition, worker in partitions.items():
            for status, count in worker.store.open_by_status.items():
                open_calls[status] = open_calls.get(status, 0) + count
            calls += len(worker.store)
            highwater = consumer.highwater(partition)
            if highwater is not None and worker.next_offset is not None:
                lag = max(highwater - worker.next_offset, 0)
                metrics.WORKER_CONSUMER_LAG.labels(str(partition)).set(lag)
                metrics.WORKER_CONSUMER_LAG_SECONDS.labels(str(partition)).set(
                    self.lag_seconds(partition, lag, worker.last_record_ms, now_ms)
                )
        self._status_labels.update(open_calls)
        for status in self._status_labels:
            metrics.WORKER_ACTIVE_CALLS.labels(status).set(open_calls.get(status, 0))
        metrics.WORKER_CALLS_IN_STATE.set(calls)
        if swept and calls:
            state_bytes = sum(w.store.estimated_bytes() for w in partitions.values())
            metrics.WORKER_STATE_BYTES.set(state_bytes)

    def lag_seconds(
        self, partition: int, lag: int, last_record_ms: int | None, now_ms: int
    ) -> float:
        """Age of the oldest unprocessed record, bounded without fetching it.

        That record came after the last processed one and after the last time
        the partition was caught up, so it is at most as old as the later of the two.
        """
        if lag == 0 or last_record_ms is None:
            self._caught_up_ms[partition] = now_ms
            return 0.0
        since = max(last_record_ms, self._caught_up_ms.get(partition, last_record_ms))
        return max(now_ms - since, 0) / 1000
