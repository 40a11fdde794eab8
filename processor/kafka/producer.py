"""The ingress side of the Kafka boundary: an idempotent, acks=all publisher.

``publish`` returns only once the broker has the record (acks=all), so a
caller may answer 2xx after it. Every aiokafka failure and every timeout is
translated into :class:`KafkaUnavailableError`: the caller answers 503 and
the platform retries. A record whose wait timed out may still be written
later; the retry then duplicates it, which the worker recognises (same body).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError as AIOKafkaError
from aiokafka.errors import KafkaTimeoutError

from processor.errors import KafkaUnavailableError
from processor.kafka.config import common_options
from processor.kafka.partitioner import JavaCompatiblePartitioner
from processor.settings import Settings


@dataclass(frozen=True, slots=True)
class Delivered:
    """Where the broker stored a record."""

    topic: str
    partition: int
    offset: int


class Publisher:
    """Writes records keyed by callId and waits for the broker's acknowledgement."""

    def __init__(self, settings: Settings, role: str = "ingress") -> None:
        self._settings = settings
        self._role = role
        self._timeout_s = settings.producer_request_timeout_ms / 1000
        self._producer: AIOKafkaProducer | None = None
        self._started = False

    def _build(self) -> AIOKafkaProducer:
        # aiokafka binds a client to the running loop, so it is built in start().
        settings = self._settings
        return AIOKafkaProducer(
            **common_options(settings, self._role),
            acks="all",
            enable_idempotence=True,
            linger_ms=settings.producer_linger_ms,
            max_batch_size=settings.producer_max_batch_bytes,
            max_request_size=max(settings.ingress_max_body_bytes * 2, 1048576),
            request_timeout_ms=settings.producer_request_timeout_ms,
            compression_type=settings.producer_compression,
            partitioner=JavaCompatiblePartitioner(),
        )

    @property
    def connected(self) -> bool:
        """True once started and until stopped."""
        return self._started

    async def start(self) -> None:
        """Connect to the cluster; raise KafkaUnavailableError if it cannot."""
        producer = self._build()
        try:
            await producer.start()
        except AIOKafkaError as exc:
            await producer.stop()
            raise KafkaUnavailableError(f"cannot start producer: {exc}") from exc
        self._producer = producer
        self._started = True

    async def stop(self) -> None:
        """Flush what is buffered and disconnect."""
        self._started = False
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            # Bounded: with the broker gone, a flush never ends. Records still
            # buffered then were never acknowledged, so their senders got a 503.
            async with asyncio.timeout(self._timeout_s * 2):
                await producer.stop()
        except TimeoutError:
            pass

    async def publish(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> Delivered:
        """Write one record and wait until the broker acknowledged it."""
        producer = self._producer
        if producer is None:
            raise KafkaUnavailableError("the producer is not connected")
        # The explicit bound matters: with the broker gone, aiokafka's own waits
        # (metadata, buffer, batch expiry) can add up to far more than the timeout.
        try:
            async with asyncio.timeout(self._timeout_s):
                future = await producer.send(topic, value=value, key=key, headers=list(headers))
                meta = await future
        except (TimeoutError, KafkaTimeoutError) as exc:
            raise KafkaUnavailableError(
                f"Kafka did not acknowledge within {self._timeout_s:g} s"
            ) from exc
        except AIOKafkaError as exc:
            raise KafkaUnavailableError(f"Kafka rejected the write: {exc}") from exc
        return Delivered(meta.topic, meta.partition, meta.offset)
