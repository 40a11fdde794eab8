"""Kafka consumers: how every consumer is built, and the group consumer.

Every consumer reads ``read_committed`` (records of an aborted transaction are never
seen) and never auto-commits; :func:`new_consumer` builds them all, with the tuning
constants below. Two kinds:

* :class:`GroupConsumer`, a member of a consumer group: the worker (offsets committed
  inside its transactions) and the notifier (:meth:`GroupConsumer.commit` once the
  alerts are delivered). Assignment and revocation are forwarded to the caller's async
  callbacks, which run before fetching resumes.
* consumers outside any group, which assign partitions themselves:
  :mod:`~processor.kafka.reader` (a partition to its end),
  :mod:`~processor.kafka.tail` (from the end on),
  :mod:`~processor.kafka.assigned` (from offsets the caller stores).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError as AIOKafkaError

from processor.errors import KafkaError, KafkaUnavailableError
from processor.kafka.config import common_options
from processor.kafka.lifecycle import CLOSE_TIMEOUT_S, close_consumer, start_consumer
from processor.kafka.records import Record
from processor.settings import Settings

PARTITION_FETCH_BYTES: Final = 4 * 1024 * 1024
"""Most bytes fetched from one partition per request (``max_partition_fetch_bytes``)."""
FETCH_BYTES: Final = 32 * 1024 * 1024
"""Most bytes fetched per request over all partitions (``fetch_max_bytes``)."""
SESSION_TIMEOUT_MS: Final = 15_000
"""A group member silent this long is taken out of the group."""
HEARTBEAT_INTERVAL_MS: Final = 3_000
MAX_POLL_INTERVAL_MS: Final = 300_000
"""Longest time between two fetches before the member is taken out of the group."""
REBALANCE_TIMEOUT_MS: Final = 120_000
"""How long a rebalance waits for members to rejoin (the worker's revoke commits first)."""
REQUEST_TIMEOUT_S: Final = 10.0
"""Bound on a request to the group coordinator (a committed offset)."""

PartitionsCallback = Callable[[list[int]], Awaitable[None]]


def new_consumer(
    settings: Settings,
    role: str,
    *,
    group_id: str | None = None,
    **tuning: Any,
) -> AIOKafkaConsumer:
    """A read_committed consumer that never auto-commits, starting at the earliest offset.

    ``tuning`` overrides the defaults (fetch sizes, group timeouts) by aiokafka's names.
    """
    options: dict[str, Any] = {
        "auto_offset_reset": "earliest",
        "max_partition_fetch_bytes": PARTITION_FETCH_BYTES,
        "fetch_max_bytes": FETCH_BYTES,
    }
    if group_id is not None:
        options |= {
            "session_timeout_ms": SESSION_TIMEOUT_MS,
            "heartbeat_interval_ms": HEARTBEAT_INTERVAL_MS,
            "max_poll_interval_ms": MAX_POLL_INTERVAL_MS,
            "rebalance_timeout_ms": REBALANCE_TIMEOUT_MS,
        }
    return AIOKafkaConsumer(
        **common_options(settings, role),
        group_id=group_id,
        isolation_level="read_committed",
        enable_auto_commit=False,
        **(options | tuning),
    )


async def _nothing(partitions: list[int]) -> None:
    return None


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: GroupConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._owner.on_revoked(self._owner.own(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._owner.joined = True
        await self._owner.on_assigned(self._owner.own(assigned))


class GroupConsumer:
    """Consumes one topic in a consumer group; the caller commits what it has handled.

    ``on_revoked`` runs before a partition is taken away: the last moment its offsets
    can still be committed by this member. ``tuning`` overrides :func:`new_consumer`'s.
    """

    def __init__(
        self,
        settings: Settings,
        topic: str,
        group_id: str,
        *,
        role: str = "worker",
        on_assigned: PartitionsCallback = _nothing,
        on_revoked: PartitionsCallback = _nothing,
        **tuning: Any,
    ) -> None:
        self.topic = topic
        self.group_id = group_id
        self.joined = False
        """True once the group gave this member its partitions."""
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked
        self._settings = settings
        self._role = role
        self._tuning = tuning
        self._consumer: AIOKafkaConsumer | None = None

    def own(self, tps: list[TopicPartition]) -> list[int]:
        """The partitions of this consumer's topic among ``tps``, sorted."""
        return sorted(tp.partition for tp in tps if tp.topic == self.topic)

    async def start(self) -> None:
        """Join the group (assignment callbacks run during later fetches).

        KafkaUnavailableError if Kafka cannot be reached.
        """
        consumer = new_consumer(self._settings, self._role, group_id=self.group_id, **self._tuning)
        consumer.subscribe([self.topic], listener=_Listener(self))
        self._consumer = consumer  # a callback may run before start returns (and pause)
        try:
            await start_consumer(consumer)
        except BaseException:
            self._consumer = None
            raise

    async def stop(self) -> None:
        """Leave the group (within a bound: with the broker away, just disconnect).

        Nothing is committed here: commit first.
        """
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await close_consumer(consumer, CLOSE_TIMEOUT_S)
        self.joined = False

    @property
    def connected(self) -> bool:
        """True while the group coordinator is known (heartbeats reach it)."""
        consumer = self._consumer
        if consumer is None:
            return False
        coordinator = consumer._coordinator  # private: aiokafka exposes no health check
        return coordinator is not None and coordinator.coordinator_id is not None

    @property
    def _c(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise KafkaError("consumer not started")
        return self._consumer

    def _assigned_tp(self, partition: int) -> TopicPartition | None:
        tp = TopicPartition(self.topic, partition)
        return tp if tp in self._c.assignment() else None

    async def fetch(self, timeout_ms: int, max_records: int) -> dict[int, list[Record]]:
        """Records by partition, at most ``max_records`` in all."""
        try:
            batches = await self._c.getmany(timeout_ms=timeout_ms, max_records=max_records)
        except AIOKafkaError as exc:
            raise KafkaError(f"fetch from {self.topic} failed: {exc}") from exc
        return {tp.partition: records for tp, records in batches.items()}

    def assigned(self) -> list[int]:
        """Partitions currently assigned to this member."""
        return self.own(list(self._c.assignment()))

    def pause(self, partition: int) -> None:
        """Stop fetching a partition until :meth:`resume` (if it is still assigned)."""
        if (tp := self._assigned_tp(partition)) is not None:
            self._c.pause(tp)

    def resume(self, partition: int) -> None:
        """Fetch a paused partition again (if it is still assigned)."""
        if (tp := self._assigned_tp(partition)) is not None:
            self._c.resume(tp)

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
        if (tp := self._assigned_tp(partition)) is not None:
            self._c.seek(tp, offset)

    async def seek_to_committed(self, partition: int) -> None:
        """Rewind a partition to its committed offset (or the beginning)."""
        tp = TopicPartition(self.topic, partition)
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                committed = await self._c.committed(tp)
                if committed is None:
                    await self._c.seek_to_beginning(tp)
                else:
                    self._c.seek(tp, committed)
        except (AIOKafkaError, TimeoutError) as exc:
            raise KafkaUnavailableError(f"cannot read the committed offset: {exc!r}") from exc

    async def commit(self, offsets: Mapping[int, int]) -> None:
        """Commit, per partition, the offset of the next record to read.

        Partitions no longer assigned are left out (their new owner reads from the last
        commit). Raises KafkaError if the commit fails, e.g. because a rebalance moved
        the partitions meanwhile.
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


InputConsumer = GroupConsumer
"""The worker's name for it (processor/worker/runner.py)."""
