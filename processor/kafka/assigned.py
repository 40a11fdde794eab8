"""A consumer outside any group that starts where its caller says: the explorer's side.

The explorer keeps its consumer offsets in its own query store, in the same
transaction as the rows they produced, so it never commits to Kafka: it
assigns every partition of its topics itself and seeks each to the stored
position (or the beginning). read_committed: records of aborted worker
transactions are never seen.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError as AIOKafkaError

from processor.errors import KafkaError, KafkaUnavailableError
from processor.kafka.admin import partition_count
from processor.kafka.consumer import new_consumer
from processor.kafka.lifecycle import CLOSE_TIMEOUT_S, close_consumer, start_consumer
from processor.kafka.records import Record
from processor.settings import Settings

Position = tuple[str, int]
"""(topic, partition)."""


class AssignedConsumer:
    """Reads every partition of ``topics`` from caller-given offsets; commits nothing."""

    def __init__(self, settings: Settings, topics: list[str], *, role: str) -> None:
        self.topics = topics
        self._settings = settings
        self._role = role
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self, offsets: Mapping[Position, int]) -> list[Position]:
        """Assign all partitions and seek; return them. KafkaError if a topic is missing."""
        partitions: list[TopicPartition] = []
        for topic in self.topics:
            count = await partition_count(self._settings, topic)
            if not count:
                raise KafkaError(f"topic {topic} does not exist")
            partitions += [TopicPartition(topic, p) for p in range(count)]
        consumer = new_consumer(self._settings, self._role)
        await start_consumer(consumer)
        try:
            consumer.assign(partitions)
            fresh = [tp for tp in partitions if (tp.topic, tp.partition) not in offsets]
            if fresh:
                await consumer.seek_to_beginning(*fresh)
            for tp in partitions:
                if (tp.topic, tp.partition) in offsets:
                    consumer.seek(tp, offsets[(tp.topic, tp.partition)])
        except AIOKafkaError as exc:
            await close_consumer(consumer, CLOSE_TIMEOUT_S)
            raise KafkaUnavailableError(f"cannot seek the consumer: {exc}") from exc
        self._consumer = consumer
        return [(tp.topic, tp.partition) for tp in partitions]

    async def stop(self) -> None:
        """Disconnect (within a bound: there is no group to leave)."""
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await close_consumer(consumer, CLOSE_TIMEOUT_S)

    async def fetch(self, timeout_ms: int, max_records: int) -> list[Record]:
        """The next records of any partition, at most ``max_records``, per-partition order."""
        if self._consumer is None:
            raise KafkaError("consumer not started")
        try:
            batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        except AIOKafkaError as exc:
            raise KafkaError(f"fetch from {self.topics} failed: {exc}") from exc
        return [record for records in batches.values() for record in records]
