"""Closing aiokafka clients within a bound, whatever the broker's state.

aiokafka's ``stop()`` waits for undelivered batches (a transactional or
idempotent producer never expires them) and for group requests to be
answered, so with the broker away it can wait until the broker returns.
A process that must stop on SIGTERM, or a worker that must replace a broken
producer, closes through here: after the bound, the client's background tasks
are cancelled and its connections closed; what was not delivered is dropped
(for a transaction that means it never commits).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

CLOSE_TIMEOUT_S: Final = 5.0
"""Default bound on closing a client when the broker may be away."""


async def close_producer(producer: AIOKafkaProducer, timeout_s: float) -> None:
    """Stop a producer, flushing for at most ``timeout_s``, then drop what is left."""
    try:
        async with asyncio.timeout(timeout_s):
            await producer.stop()
        return
    except TimeoutError:
        pass
    # stop() was interrupted after marking the producer closed: finish its job
    # without waiting for delivery (aiokafka has no public "close now").
    sender = producer._sender  # private: the only way to abandon undelivered batches
    with contextlib.suppress(Exception):
        await sender.close()
    with contextlib.suppress(Exception):
        await producer.client.close()


async def close_consumer(consumer: AIOKafkaConsumer, timeout_s: float) -> None:
    """Stop a consumer (leave the group) within ``timeout_s``, then just disconnect."""
    try:
        async with asyncio.timeout(timeout_s):
            await consumer.stop()
        return
    except TimeoutError:
        pass
    coordinator = consumer._coordinator  # private: cancel its heartbeat/commit tasks
    if coordinator is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(coordinator.close(), 1)
    fetcher = consumer._fetcher
    if fetcher is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(fetcher.close(), 1)
    with contextlib.suppress(Exception):
        await consumer._client.close()
