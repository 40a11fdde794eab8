"""Concurrent writes to one partition, coalesced into one record batch.

The publisher's hot path: instead of one ``AIOKafkaProducer.send`` per record
(a metadata wait, a size estimate, the partitioner, an accumulator coroutine
and two futures each), records written while a partition's previous batch is
still queued are appended to one open :class:`~aiokafka.producer.BatchBuilder`
and handed to ``send_batch`` together. aiokafka still owns the sending:
sequence numbers (idempotence), retries, acks=all, at most one request in
flight per broker.

The partition is Java's choice for the key (``murmur2(key) % partitions``, see
:mod:`processor.kafka.partitioner`). A record's offset is its batch's base
offset plus its place in the batch. A failed batch fails every record in it,
as it does inside aiokafka. These batches do not wait ``producer_linger_ms``:
they fill while the previous request is in flight (see ``_SealedOnSend``).
"""

from __future__ import annotations

import asyncio
import copy
from collections import deque
from functools import partial
from typing import Final

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from processor.kafka.partitioner import partition_for

# Full batches a partition may hold while the broker is slow or away: past it a
# write is refused at once (as aiokafka refuses a write when its buffer is full).
_MAX_QUEUED_BATCHES: Final = 4

_Waiters = list[tuple["asyncio.Future[int]", int]]


class _SealedOnSend(BatchBuilder):  # type: ignore[misc]  # aiokafka is untyped
    """A batch builder that takes no more records once aiokafka picked it for a request.

    aiokafka numbers an idempotent batch's records (its base sequence and count)
    when its sender takes the batch; a record joining after that would break the
    sequence (``OutOfOrderSequenceNumber``). aiokafka's own batches are out of
    reach by then; ours are not, so this closes them at that moment.
    """

    def _set_producer_state(
        self, producer_id: int, producer_epoch: int, base_sequence: int
    ) -> None:
        self.close()
        super()._set_producer_state(producer_id, producer_epoch, base_sequence)

    def closed(self) -> bool:
        """Tell aiokafka's sender not to linger on this batch (its only use of ``closed``).

        Records join a batch while the partition's previous request is in flight,
        which is what lingering would wait for; a linger on top only delays the
        acknowledgement (with the default 2 ms: half the webhooks/s of a closed loop).
        """
        return True


class _OpenBatch:
    """A batch being filled, and who waits for each of its records (future, index).

    It takes records until aiokafka builds it for sending, even once submitted.
    """

    __slots__ = ("builder", "submitted", "waiters")

    def __init__(self, builder: BatchBuilder) -> None:
        self.builder = builder
        self.submitted = False
        self.waiters: _Waiters = []


class PartitionCoalescer:
    """Writes records through one producer, one batch per partition at a time."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        *,
        max_batch_bytes: int,
        max_request_bytes: int,
        compression: str | None,
    ) -> None:
        self._producer = producer
        self._max_batch_bytes = max_batch_bytes
        self._compression = producer._COMPRESSORS[compression][1] if compression else 0
        self._cluster = producer.client.cluster
        self._max_request_bytes = max_request_bytes
        self._queues: dict[tuple[str, int], deque[_OpenBatch]] = {}
        self._drains: dict[tuple[str, int], asyncio.Task[None]] = {}

    def partitions(self, topic: str) -> int | None:
        """How many partitions ``topic`` has, or None before its metadata is known."""
        partitions = self._cluster.partitions_for_topic(topic)
        return len(partitions) if partitions else None

    async def load_metadata(self, topic: str) -> None:
        """Fetch ``topic``'s metadata (needed once, before its first write)."""
        await self._producer.partitions_for(topic)

    def enqueue(
        self,
        topic: str,
        partitions: int,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, bytes]],
    ) -> tuple[int, asyncio.Future[int]]:
        """Add a record to its partition's open batch: (partition, future of its offset).

        Raises ``MessageSizeTooLargeError`` when the record can never be sent and
        ``KafkaTimeoutError`` when the partition's queue is full.
        """
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
        if size > self._max_request_bytes:
            raise MessageSizeTooLargeError(
                f"the record is {size} bytes, over max_request_size={self._max_request_bytes}"
            )
        partition = partition_for(key, partitions)
        where = (topic, partition)
        queue = self._queues.get(where)
        if queue is None:
            queue = self._queues[where] = deque()
        meta = None
        if queue:
            batch = queue[-1]
            meta = batch.builder.append(timestamp=None, key=key, value=value, headers=headers)
        if meta is None:  # no open batch, or it is full
            if len(queue) >= _MAX_QUEUED_BATCHES:
                raise KafkaTimeoutError(f"{_MAX_QUEUED_BATCHES} batches wait for {where}")
            batch = _OpenBatch(_SealedOnSend(self._max_batch_bytes, self._compression))
            queue.append(batch)
            # An empty batch takes any record (its size was checked above).
            meta = batch.builder.append(timestamp=None, key=key, value=value, headers=headers)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        batch.waiters.append((future, meta.offset))
        if where not in self._drains:
            self._drains[where] = asyncio.create_task(self._drain(topic, partition, queue))
        return partition, future

    async def _drain(self, topic: str, partition: int, queue: deque[_OpenBatch]) -> None:
        """Hand the partition's batches to aiokafka in order, until all are submitted.

        ``send_batch`` returns once aiokafka queued the batch, which waits until
        the partition's previous batch went out. A submitted batch stays open
        (records keep joining it) until aiokafka builds it for sending.
        """
        try:
            while queue:
                if queue[0].submitted:
                    if len(queue) == 1:
                        return  # the open batch is aiokafka's now
                    queue.popleft()  # closed (a newer batch exists): only its delivery is left
                    continue
                batch = queue[0]
                batch.submitted = True
                try:
                    delivery = await self._producer.send_batch(
                        batch.builder, topic, partition=partition
                    )
                except Exception as exc:  # every waiter of the batch gets the error
                    batch.builder.close()
                    queue.remove(batch)
                    _fail(batch.waiters, exc)
                    continue
                delivery.add_done_callback(partial(_deliver, batch))
        finally:
            del self._drains[(topic, partition)]


def _deliver(batch: _OpenBatch, delivery: asyncio.Future[object]) -> None:
    """Resolve each record's future with its offset, or the batch's error."""
    batch.builder.close()  # normally built already; after an early failure, no record joins
    waiters = batch.waiters
    if delivery.cancelled():
        _fail(waiters, KafkaTimeoutError("the batch was cancelled"))
        return
    error = delivery.exception()
    if error is not None:
        _fail(waiters, error)
        return
    base: int = delivery.result().offset  # type: ignore[attr-defined]
    for future, index in waiters:
        if not future.done():
            future.set_result(base + index)


def _fail(waiters: _Waiters, error: BaseException) -> None:
    for future, _ in waiters:
        if not future.done():
            # A copy per waiter, so tracebacks do not pile up on one object.
            future.set_exception(copy.copy(error))
