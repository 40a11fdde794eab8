"""A group consumer that commits its own offsets: the notifier's side of the Kafka boundary.

Unlike :class:`processor.kafka.consumer.InputConsumer`, whose offsets travel
in the worker's transactions, this consumer commits plain group offsets when
its caller says the records up to them are handled (delivered, here). It
reads with ``read_committed``, so records of an aborted worker transaction
are never seen, and starts a new group at the earliest offset, so no record
written before the group first joined is missed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError as AIOKafkaError

from processor.errors import KafkaError, KafkaUnavailableError
from processor.kafka.config import common_options
from processor.kafka.lifecycle import CLOSE_TIMEOUT_S, close_consumer
from processor.kafka.records import Record
from processor.settings import Settings

PartitionsCallback = Callable[[list[int]], Awaitable[None]]


async def _nothing(partitions: list[int]) -> None:
    return None


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: PlainConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._owner.on_revoked(self._owner.own(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._owner.joined = True
        await self._owner.on_assigned(self._owner.own(assigned))


class PlainConsumer:
    """Consumes one topic in a consumer group; the caller commits what it has handled.

    ``on_revoked`` runs before a partition is taken away: the last moment its
    offsets can still be committed by this member.
    """

    def __init__(
        self,
        settings: Settings,
        topic: str,
        group_id: str,
        *,
        role: str,
        on_assigned: PartitionsCallback = _nothing,
        on_revoked: PartitionsCallback = _nothing,
    ) -> None:
        self.topic = topic
        self.group_id = group_id
        self.joined = False
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked
        self._settings = settings
        self._role = role
        self._consumer: AIOKafkaConsumer | None = None

    def own(self, tps: list[TopicPartition]) -> list[int]:
        """The partitions of this consumer's topic among ``tps``, sorted."""
        return sorted(tp.partition for tp in tps if tp.topic == self.topic)

    async def start(self) -> None:
        """Join the group; raise KafkaUnavailableError if Kafka cannot be reached."""
        consumer = AIOKafkaConsumer(
            **common_options(self._settings, self._role),
            group_id=self.group_id,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=15000,
            heartbeat_interval_ms=3000,
            # A delivery may retry for notifier_retry_max_s between two fetches.
            max_poll_interval_ms=int(max(300.0, self._settings.notifier_retry_max_s * 2) * 1000),
        )
        consumer.subscribe([self.topic], listener=_Listener(self))
        try:
            await consumer.start()
        except AIOKafkaError as exc:
            await close_consumer(consumer, CLOSE_TIMEOUT_S)
            raise KafkaUnavailableError(f"cannot start consumer: {exc}") from exc
        self._consumer = consumer

    async def stop(self) -> None:
        """Leave the group (nothing is committed here: commit first)."""
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await close_consumer(consumer, CLOSE_TIMEOUT_S)  # bounded: the broker may be away
        self.joined = False

    @property
    def _c(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise KafkaError("consumer not started")
        return self._consumer

    async def fetch(self, timeout_ms: int, max_records: int) -> list[Record]:
        """The next records of any assigned partition, at most ``max_records``."""
        try:
            batches = await self._c.getmany(timeout_ms=timeout_ms, max_records=max_records)
        except AIOKafkaError as exc:
            raise KafkaError(f"fetch from {self.topic} failed: {exc}") from exc
        return [record for records in batches.values() for record in records]

    def assigned(self) -> list[int]:
        """Partitions currently assigned to this member."""
        return self.own(list(self._c.assignment()))

    async def commit(self, offsets: Mapping[int, int]) -> None:
        """Commit, per partition, the offset of the next record to read.

        Partitions no longer assigned are left out (their new owner reads
        from the last commit). Raises KafkaError if the commit fails, e.g.
        because a rebalance moved the partitions meanwhile.
        """
        consumer = self._c
        assignment = consumer.assignment()
        wanted = {TopicPartition(self.topic, p): offset for p, offset in offsets.items()}
        owned = {tp: offset for tp, offset in wanted.items() if tp in assignment}
        if not owned:
            return
        try:
            await consumer.commit(owned)
        except AIOKafkaError as exc:
            raise KafkaError(f"commit to group {self.group_id} failed: {exc}") from exc
