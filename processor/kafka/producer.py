"""The ingress side of the Kafka boundary: an idempotent, acks=all publisher.

``publish`` returns only once the broker has the record (acks=all), so a
caller may answer 2xx after it. Failures are translated at this boundary:

* a record larger than the topic accepts (``max.message.bytes``) can never be
  written: :class:`RecordTooLargeError` (the ingress answers 413);
* everything else (broker down or slow, timeouts, full buffer) is
  :class:`KafkaUnavailableError` (503, the platform retries). A record whose
  wait timed out may still be written later; the retry then duplicates it,
  which the worker recognises (same body).

A non-retriable error the broker returns for one batch leaves the idempotent
producer's sequence numbers for that partition broken: every later write to
it would fail with ``OutOfOrderSequenceNumber``. The publisher therefore
replaces its producer (a new producer id and epoch) in the background; only
the request that hit the error, and writes already queued on the old
producer, see a failure.

Every write is bounded by the request timeout. One sweep per publisher checks
the writes in flight a few times a second and cancels the ones past their
deadline (as ``asyncio.timeout`` would, but without a timer per write).

``healthy`` turns false on the first failed write and true again on the next
success or, when no traffic comes, once a metadata request (probed every
``_PROBE_INTERVAL_S``) reaches the cluster again.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Final

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError as AIOKafkaError
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from processor.errors import KafkaUnavailableError, RecordTooLargeError
from processor.kafka.admin import max_message_bytes
from processor.kafka.coalescer import PartitionCoalescer
from processor.kafka.config import common_options
from processor.kafka.partitioner import JavaCompatiblePartitioner
from processor.logs import get_logger
from processor.settings import Settings

log = get_logger(__name__)

_PROBE_INTERVAL_S: Final = 1.0
_RESTART_DELAY_S: Final = 0.5
_SWEEPS_PER_TIMEOUT: Final = 20
_MAX_SWEEP_INTERVAL_S: Final = 0.1


class _Deadline:
    """One write's deadline; ``task`` is None once the write is over."""

    __slots__ = ("at", "expired", "task")

    def __init__(self, at: float, task: asyncio.Task[Any]) -> None:
        self.at = at
        self.task: asyncio.Task[Any] | None = task
        self.expired = False


class _DeadlineSweep:
    """Cancels writes still in flight past their deadline, checked every ``interval_s``.

    The timeout is the same for every write, so deadlines come in order and the
    sweep only looks at the oldest ones. Costs a deque append per write instead
    of a timer handle (``asyncio.timeout``); a write may run up to one interval
    past its deadline.
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.interval_s = min(timeout_s / _SWEEPS_PER_TIMEOUT, _MAX_SWEEP_INTERVAL_S)
        self._pending: deque[_Deadline] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, task: asyncio.Task[Any]) -> _Deadline:
        """Start bounding ``task``'s write; set the result's ``task`` to None when it ends."""
        loop = task.get_loop()
        deadline = _Deadline(loop.time() + self.timeout_s, task)
        self._pending.append(deadline)
        if self._timer is None:
            self._timer = loop.call_later(self.interval_s, self._sweep, loop)
        return deadline

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        pending = self._pending
        now = loop.time()
        while pending and (pending[0].task is None or pending[0].at <= now):
            deadline = pending.popleft()
            if deadline.task is not None:
                deadline.expired = True
                deadline.task.cancel()
        if pending:
            self._timer = loop.call_later(self.interval_s, self._sweep, loop)

    def stop(self) -> None:
        """Forget the timer (the loop may be closing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


@dataclass(frozen=True, slots=True)
class Delivered:
    """Where the broker stored a record."""

    topic: str
    partition: int
    offset: int


class Publisher:
    """Writes records keyed by callId and waits for the broker's acknowledgement.

    With ``size_topic`` set, the topic's effective ``max.message.bytes`` is read
    when starting and bounds both the producer's batches and its largest
    record, so an oversized record is refused here instead of by the broker.
    """

    def __init__(
        self, settings: Settings, role: str = "ingress", *, size_topic: str | None = None
    ) -> None:
        self._settings = settings
        self._role = role
        self._size_topic = size_topic
        self._timeout_s = settings.producer_request_timeout_ms / 1000
        self._deadlines = _DeadlineSweep(self._timeout_s)
        self._producer: AIOKafkaProducer | None = None
        self._writer: PartitionCoalescer | None = None
        self._started = False
        self._failing = False
        self._background: set[asyncio.Task[None]] = set()
        self._replacing = False
        self.max_message_bytes: int | None = None
        """The size topic's ``max.message.bytes`` as read at the last (re)start."""
        self.replacements = 0
        """How often a broken producer was replaced (for tests and logs)."""

    def _max_sizes(self, limit: int | None) -> tuple[int, int]:
        """The largest batch and the largest record (request) the producer may send."""
        settings = self._settings
        max_batch = settings.producer_max_batch_bytes
        max_request = max(settings.ingress_max_body_bytes * 2, 1048576)
        if limit is not None:
            # The broker checks whole batches against max.message.bytes.
            max_batch = min(max_batch, limit)
            max_request = limit
        return max_batch, max_request

    def _build(self, limit: int | None) -> AIOKafkaProducer:
        # aiokafka binds a client to the running loop, so it is built in start().
        settings = self._settings
        max_batch, max_request = self._max_sizes(limit)
        return AIOKafkaProducer(
            **common_options(settings, self._role),
            acks="all",
            enable_idempotence=True,
            linger_ms=settings.producer_linger_ms,
            max_batch_size=max_batch,
            max_request_size=max_request,
            request_timeout_ms=settings.producer_request_timeout_ms,
            compression_type=settings.producer_compression,
            partitioner=JavaCompatiblePartitioner(),
        )

    @property
    def connected(self) -> bool:
        """True once started and until stopped."""
        return self._started

    @property
    def healthy(self) -> bool:
        """Connected, and the last write (or the last probe after a failure) succeeded."""
        return self._started and not self._failing

    async def _start_producer(self) -> AIOKafkaProducer:
        limit = None
        if self._size_topic is not None:
            limit = await max_message_bytes(self._settings, self._size_topic)
        producer = self._build(limit)
        try:
            await producer.start()
        except AIOKafkaError as exc:
            await producer.stop()
            raise KafkaUnavailableError(f"cannot start producer: {exc}") from exc
        self.max_message_bytes = limit
        return producer

    def _use(self, producer: AIOKafkaProducer | None) -> None:
        """Write through ``producer`` from now on (None: not connected)."""
        self._producer = producer
        self._writer = None
        if producer is not None:
            max_batch, max_request = self._max_sizes(self.max_message_bytes)
            self._writer = PartitionCoalescer(
                producer,
                max_batch_bytes=max_batch,
                max_request_bytes=max_request,
                compression=self._settings.producer_compression,
            )

    async def start(self) -> None:
        """Connect to the cluster; raise KafkaUnavailableError if it cannot."""
        self._use(await self._start_producer())
        self._started = True
        self._failing = False

    async def stop(self) -> None:
        """Flush what is buffered and disconnect."""
        self._started = False
        self._deadlines.stop()
        for task in list(self._background):
            task.cancel()
        producer = self._producer
        self._use(None)
        if producer is not None:
            await self._stop_bounded(producer)

    async def _stop_bounded(self, producer: AIOKafkaProducer) -> None:
        try:
            # Bounded: with the broker gone, a flush never ends. Records still
            # buffered then were never acknowledged, so their senders got a 503.
            async with asyncio.timeout(self._timeout_s * 2):
                await producer.stop()
        except (TimeoutError, AIOKafkaError):
            pass

    async def publish(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> Delivered:
        """Write one record and wait until the broker acknowledged it."""
        producer, writer = self._producer, self._writer
        if producer is None or writer is None:
            raise KafkaUnavailableError("the producer is not connected")
        # The explicit bound matters: with the broker gone, aiokafka's own waits
        # (metadata, buffer, batch expiry) can add up to far more than the timeout.
        task = asyncio.current_task()
        assert task is not None  # publish is always awaited inside a task
        cancelling = task.cancelling()
        deadline = self._deadlines.watch(task)
        try:
            partitions = writer.partitions(topic)
            while partitions is None:  # the topic's first write
                await writer.load_metadata(topic)
                partitions = writer.partitions(topic)
            try:
                partition, future = writer.enqueue(topic, partitions, key, value, list(headers))
            except MessageSizeTooLargeError as exc:
                # Refused before it was queued: the producer is unharmed.
                raise RecordTooLargeError(self._too_large_message(len(value))) from exc
            offset = await future
        except asyncio.CancelledError:
            # The sweep's cancellation becomes a timeout; any other is passed on.
            if not deadline.expired or task.uncancel() > cancelling:
                raise
            self._mark_failing(producer)
            raise KafkaUnavailableError(
                f"Kafka did not acknowledge within {self._timeout_s:g} s"
            ) from None
        except KafkaTimeoutError as exc:
            self._mark_failing(producer)
            raise KafkaUnavailableError(
                f"Kafka did not acknowledge within {self._timeout_s:g} s"
            ) from exc
        except MessageSizeTooLargeError as exc:
            # The broker refused it (the topic's limit shrank since start).
            self._replace(producer)
            raise RecordTooLargeError(self._too_large_message(len(value))) from exc
        except AIOKafkaError as exc:
            if not exc.retriable:
                self._replace(producer)
            self._mark_failing(producer)
            raise KafkaUnavailableError(f"Kafka rejected the write: {exc}") from exc
        finally:
            deadline.task = None
        self._failing = False
        return Delivered(topic, partition, offset)

    def _too_large_message(self, size: int) -> str:
        limit = self.max_message_bytes
        bound = f"max.message.bytes={limit}" if limit is not None else "max.message.bytes"
        return (
            f"the {size} byte body, with its key and headers, exceeds what the topic "
            f"accepts ({bound})"
        )

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _mark_failing(self, producer: AIOKafkaProducer) -> None:
        if not self._failing:
            self._failing = True
            self._spawn(self._probe(producer))

    async def _probe(self, producer: AIOKafkaProducer) -> None:
        """While failing and idle, find out whether the cluster answers again."""
        while self._failing and self._started:
            await asyncio.sleep(_PROBE_INTERVAL_S)
            current = self._producer
            if current is None or not self._failing:
                return
            try:
                async with asyncio.timeout(self._timeout_s):
                    reached = await current.client.force_metadata_update()
            except (TimeoutError, AIOKafkaError):
                reached = False
            if reached:
                self._failing = False

    def _replace(self, broken: AIOKafkaProducer) -> None:
        if not self._replacing and self._producer is broken:
            self._replacing = True
            self._spawn(self._replace_producer(broken))

    async def _replace_producer(self, broken: AIOKafkaProducer) -> None:
        """Swap in a fresh producer (new id and epoch), then retire the broken one."""
        try:
            while self._started:
                try:
                    fresh = await self._start_producer()
                except KafkaUnavailableError as exc:
                    log.warning("producer_restart_failed", error=str(exc))
                    await asyncio.sleep(_RESTART_DELAY_S)
                    continue
                if not self._started:
                    await self._stop_bounded(fresh)
                    return
                self._use(fresh)
                self.replacements += 1
                log.warning(
                    "producer_replaced",
                    reason="non-retriable produce error",
                    max_message_bytes=self.max_message_bytes,
                )
                break
        finally:
            self._replacing = False
        await self._stop_bounded(broken)
