"""Exactly-once writes: one transactional producer per input partition.

The transactional id names the input partition it serves
(``<prefix>-<topic>-<partition>``). When the partition moves to another
worker, the new owner's ``init_transactions`` bumps the epoch: the old owner
(a zombie) is fenced and can no longer commit for it, and its open
transaction is aborted. Records are staged into per-partition batches and
sent at commit, together with the input offsets, in one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    IllegalOperation,
    InvalidProducerEpoch,
    ProducerFenced,
    TransactionalIdAuthorizationFailed,
)
from aiokafka.errors import KafkaError as AIOKafkaError

from processor.errors import FencedError, KafkaError, KafkaUnavailableError
from processor.kafka.config import common_options
from processor.kafka.lifecycle import CLOSE_TIMEOUT_S, close_producer
from processor.kafka.partitioner import partition_for
from processor.settings import Settings

_FENCED = (ProducerFenced, InvalidProducerEpoch, TransactionalIdAuthorizationFailed)
_START_TIMEOUT_S = 30.0


async def _all_acknowledged(sent: list[asyncio.Future[Any]]) -> None:
    """Wait for every batch; raise the first failure (all results are retrieved)."""
    if not sent:
        return
    await asyncio.wait(sent)
    if any(f.cancelled() for f in sent):
        raise KafkaError("a batch of the transaction was cancelled")
    failures = [exc for f in sent if (exc := f.exception()) is not None]
    if failures:
        raise failures[0]


_NO_HEADERS: list[tuple[str, bytes]] = []
"""Shared by every record without headers; the batch builder only reads it."""


@dataclass(frozen=True, slots=True)
class Sealed:
    """Records taken for one transaction: (topic, partition, batch) triples."""

    batches: list[tuple[str, int, Any]]


class PartitionTransactor:
    """Stages output records for one input partition and commits them atomically."""

    def __init__(self, settings: Settings, input_topic: str, partition: int) -> None:
        self.partition = partition
        self.transactional_id = (
            f"{settings.worker_transactional_id_prefix}-{input_topic}-{partition}"
        )
        self._settings = settings
        self._input = TopicPartition(input_topic, partition)
        self._producer: AIOKafkaProducer | None = None
        self._batches: dict[tuple[str, int], Any] = {}
        self._full: list[tuple[str, int, Any]] = []
        self._partitions: dict[str, int] = {}
        self.staged = 0

    async def start(self) -> None:
        """Create the producer and fence any previous owner of this partition."""
        producer = AIOKafkaProducer(
            **common_options(self._settings, f"worker-p{self.partition}"),
            transactional_id=self.transactional_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            max_batch_size=512 * 1024,  # below the broker's default message.max.bytes
            max_request_size=8 * 1024 * 1024,
            transaction_timeout_ms=60000,
        )
        try:
            async with asyncio.timeout(_START_TIMEOUT_S):
                await producer.start()  # init_transactions: fences the previous epoch
        except _FENCED as exc:
            await close_producer(producer, CLOSE_TIMEOUT_S)
            raise FencedError(f"{self.transactional_id} fenced at start") from exc
        except (AIOKafkaError, TimeoutError) as exc:
            await close_producer(producer, CLOSE_TIMEOUT_S)
            raise KafkaUnavailableError(f"cannot start transactional producer: {exc!r}") from exc
        except asyncio.CancelledError:  # stopping while the broker is away
            await asyncio.shield(close_producer(producer, CLOSE_TIMEOUT_S))
            raise
        self._producer = producer

    async def stop(self) -> None:
        """Drop staged records and close the producer (an open transaction aborts).

        Bounded: with the broker away a transactional producer never gives up its
        undelivered batches, so after ``CLOSE_TIMEOUT_S`` they are dropped; their
        transaction never commits.
        """
        self._discard()
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await close_producer(producer, CLOSE_TIMEOUT_S)

    def set_partition_counts(self, counts: dict[str, int]) -> None:
        """Partition counts of the output topics (for Java-compatible keyed routing)."""
        self._partitions = dict(counts)

    def stage(
        self,
        topic: str,
        key: bytes,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> None:
        """Add a record to the open batch; ``value=None`` is a tombstone.

        Runs for every output record, so it does the least it can: the batch
        builder stamps the record with the current time itself.
        """
        listed = list(headers) if headers else _NO_HEADERS  # the builder takes lists only
        slot = (topic, partition_for(key, self._partitions[topic]))
        batch = self._batches.get(slot)
        if batch is None:
            batch = self._batches[slot] = self._require().create_batch()
        # The batch's C builder directly (what BatchBuilder.append does, less its
        # wrapper, which costs as much again per record); None: the batch is full.
        if batch._builder.append(batch._relative_offset, None, key, value, listed) is None:
            batch.close()
            self._full.append((topic, slot[1], batch))
            batch = self._batches[slot] = self._require().create_batch()
            if batch._builder.append(0, None, key, value, listed) is None:
                raise KafkaError(f"a record for {topic} is larger than the batch size")
        batch._relative_offset += 1
        self.staged += 1

    def seal(self) -> Sealed:
        """Take the staged records for a transaction; staging goes on into new batches.

        The batches are closed: complete, they need not wait ``linger_ms`` to be sent.
        """
        sealed = Sealed([*self._full, *((t, p, b) for (t, p), b in self._batches.items())])
        for _, _, batch in sealed.batches:
            batch.close()
        self._full = []
        self._batches = {}
        self.staged = 0
        return sealed

    async def commit(self, next_offset: int | None, group_id: str) -> None:
        """Seal the staged records and commit them with the input offset (see commit_sealed)."""
        await self.commit_sealed(self.seal(), next_offset, group_id)

    async def commit_sealed(self, sealed: Sealed, next_offset: int | None, group_id: str) -> None:
        """Send sealed records and the input offset in one transaction and commit.

        One transaction at a time: the caller awaits a commit before starting the next.

        The transaction commits only after the broker acknowledged every record
        staged in it: aiokafka's commit does not check its batches' results, so a
        batch that failed (e.g. OutOfOrderSequenceNumber after a long outage)
        would otherwise leave its inputs committed with no outputs.

        Raises FencedError if another owner took this partition (nothing of
        this transaction becomes visible), KafkaError for anything else: the
        producer is then closed, its open transaction is aborted by the next
        ``init_transactions`` of this id, and the caller restarts the partition
        from its last commit.
        """
        producer = self._require()
        try:
            await producer.begin_transaction()
            sent = [
                await producer.send_batch(batch, topic, partition=partition)
                for topic, partition, batch in sealed.batches
            ]
            await _all_acknowledged(sent)
            if next_offset is not None:
                await producer.send_offsets_to_transaction({self._input: next_offset}, group_id)
            await producer.commit_transaction()
        except _FENCED as exc:
            raise FencedError(f"{self.transactional_id} was fenced by a newer owner") from exc
        except (AIOKafkaError, IllegalOperation, AssertionError) as exc:
            # aiokafka learns of fencing in its sender task and then fails later calls
            # with other errors; the sender's own exception tells fencing apart.
            # Re-initialising a fenced id would fence the new owner back, so stop instead.
            if self._fenced(producer):
                raise FencedError(f"{self.transactional_id} was fenced: {exc}") from exc
            await self.stop()
            raise KafkaError(f"transaction of {self.transactional_id} failed: {exc!r}") from exc

    @staticmethod
    def _fenced(producer: AIOKafkaProducer) -> bool:
        """True when aiokafka's sender task died of fencing."""
        sender = getattr(producer, "_sender", None)
        task = getattr(sender, "sender_task", None)
        if task is None or not task.done() or task.cancelled():
            return False
        return isinstance(task.exception(), _FENCED)

    def _discard(self) -> None:
        self._batches = {}
        self._full = []
        self.staged = 0

    def _require(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise KafkaError(f"{self.transactional_id} is not started")
        return self._producer
