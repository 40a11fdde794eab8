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
from collections.abc import Awaitable
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
    except asyncio.CancelledError:
        _reraise_if_cancelled()
    # stop() was interrupted after marking the producer closed: finish its job
    # without waiting for delivery (aiokafka has no public "close now").
    await _quietly(producer._sender.close())  # private: abandons undelivered batches
    await _quietly(producer.client.close())


async def close_consumer(consumer: AIOKafkaConsumer, timeout_s: float) -> None:
    """Stop a consumer (leave the group) within ``timeout_s``, then just disconnect."""
    try:
        async with asyncio.timeout(timeout_s):
            await consumer.stop()
        return
    except TimeoutError:
        pass
    except asyncio.CancelledError:
        # aiokafka's fetcher cancels its own fetch task on close and then re-raises
        # that cancellation (seen with the broker gone); only ours must propagate.
        _reraise_if_cancelled()
    coordinator = consumer._coordinator  # private: cancel its heartbeat/commit tasks
    if coordinator is not None:
        await _quietly(coordinator.close())
    fetcher = consumer._fetcher  # private
    if fetcher is not None:
        await _quietly(fetcher.close())
    await _quietly(consumer._client.close())  # private


async def _quietly(closing: Awaitable[object], timeout_s: float = 1.0) -> None:
    """Await a close step within ``timeout_s``, ignoring its failure (we are giving up)."""
    try:
        await asyncio.wait_for(closing, timeout_s)
    except asyncio.CancelledError:
        _reraise_if_cancelled()
    except Exception:  # noqa: S110 - best effort: the client is being abandoned
        pass


def _reraise_if_cancelled() -> None:
    """Re-raise inside an ``except CancelledError`` when this task itself is being cancelled."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
