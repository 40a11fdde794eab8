"""The worker's side of the Kafka boundary: a group consumer of the input topic.

read_committed, no auto-commit: offsets are committed inside the worker's
transactions. Partition assignment and revocation are forwarded to the
caller's async callbacks, which run before fetching resumes (restore state
there; finish or drop in-flight work on revoke).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError as AIOKafkaError

from processor.errors import KafkaError, KafkaUnavailableError
from processor.kafka.config import common_options
from processor.kafka.lifecycle import CLOSE_TIMEOUT_S, close_consumer
from processor.kafka.records import Record
from processor.settings import Settings

PartitionsCallback = Callable[[list[int]], Awaitable[None]]
_REQUEST_TIMEOUT_S = 10.0


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, topic: str, assigned: PartitionsCallback, revoked: PartitionsCallback):
        self._topic = topic
        self._assigned = assigned
        self._revoked = revoked

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._revoked(sorted(tp.partition for tp in revoked if tp.topic == self._topic))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._assigned(sorted(tp.partition for tp in assigned if tp.topic == self._topic))


class InputConsumer:
    """Consumes one topic in a consumer group; the caller commits offsets in transactions."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        group_id: str,
        *,
        on_assigned: PartitionsCallback,
        on_revoked: PartitionsCallback,
        role: str = "worker",
    ) -> None:
        self.topic = topic
        self.group_id = group_id
        self._settings = settings
        self._role = role
        self._listener = _Listener(topic, on_assigned, on_revoked)
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        """Join the group (assignment callbacks run during later fetches)."""
        self._consumer = AIOKafkaConsumer(
            **common_options(self._settings, self._role),
            group_id=self.group_id,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
            session_timeout_ms=15000,
            heartbeat_interval_ms=3000,
            max_poll_interval_ms=300000,
            rebalance_timeout_ms=120000,
        )
        self._consumer.subscribe([self.topic], listener=self._listener)
        try:
            await self._consumer.start()
        except AIOKafkaError as exc:
            await close_consumer(self._consumer, CLOSE_TIMEOUT_S)
            raise KafkaUnavailableError(f"cannot start consumer: {exc}") from exc

    async def stop(self) -> None:
        """Leave the group (within a bound: with the broker away, just disconnect)."""
        if self._consumer is not None:
            await close_consumer(self._consumer, CLOSE_TIMEOUT_S)

    @property
    def connected(self) -> bool:
        """True while the group coordinator is known (heartbeats reach it)."""
        consumer = self._consumer
        if consumer is None:
            return False
        coordinator = consumer._coordinator  # private: aiokafka exposes no health check
        return coordinator is not None and coordinator.coordinator_id is not None

    def pause(self, partition: int) -> None:
        """Stop fetching a partition until :meth:`resume`."""
        tp = TopicPartition(self.topic, partition)
        if tp in self._c.assignment():
            self._c.pause(tp)

    def resume(self, partition: int) -> None:
        """Fetch a paused partition again."""
        tp = TopicPartition(self.topic, partition)
        if tp in self._c.assignment():
            self._c.resume(tp)

    @property
    def _c(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise KafkaError("consumer not started")
        return self._consumer

    async def fetch(self, timeout_ms: int, max_records: int) -> dict[int, list[Record]]:
        """Records by partition, at most ``max_records`` in all."""
        try:
            batches = await self._c.getmany(timeout_ms=timeout_ms, max_records=max_records)
        except AIOKafkaError as exc:
            raise KafkaError(f"fetch failed: {exc}") from exc
        return {tp.partition: records for tp, records in batches.items()}

    def highwater(self, partition: int) -> int | None:
        """The partition's end offset as of the last fetch."""
        value: int | None = self._c.highwater(TopicPartition(self.topic, partition))
        return value

    async def committed(self, partition: int) -> int | None:
        """The group's committed offset for a partition."""
        value: int | None = await self._c.committed(TopicPartition(self.topic, partition))
        return value

    def seek(self, partition: int, offset: int) -> None:
        """Fetch the partition from ``offset`` next."""
        self._c.seek(TopicPartition(self.topic, partition), offset)

    def rewind(self, partition: int, offset: int) -> None:
        """Fetch a partition from ``offset`` again, if it is still assigned."""
        tp = TopicPartition(self.topic, partition)
        if tp in self._c.assignment():
            self._c.seek(tp, offset)

    async def seek_to_committed(self, partition: int) -> None:
        """Rewind a partition to its committed offset (or the beginning)."""
        tp = TopicPartition(self.topic, partition)
        try:
            async with asyncio.timeout(_REQUEST_TIMEOUT_S):
                committed = await self._c.committed(tp)
                if committed is None:
                    await self._c.seek_to_beginning(tp)
                else:
                    self._c.seek(tp, committed)
        except (AIOKafkaError, TimeoutError) as exc:
            raise KafkaUnavailableError(f"cannot read the committed offset: {exc!r}") from exc

    def assigned(self) -> list[int]:
        """Partitions currently assigned to this member."""
        return sorted(tp.partition for tp in self._c.assignment() if tp.topic == self.topic)
