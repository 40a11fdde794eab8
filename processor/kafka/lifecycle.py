"""Starting and closing aiokafka clients within a bound, whatever the broker's state.

A client that fails to start is closed again and the failure is a
:class:`~processor.errors.KafkaUnavailableError` (:func:`start_client`).

aiokafka's ``stop()`` waits for undelivered batches (a transactional or
idempotent producer never expires them) and for group requests to be
answered, so with the broker away it can wait until the broker returns.
A process that must stop on SIGTERM, or a worker that must replace a broken
producer, closes through here: after the bound, the client's background tasks
are cancelled and its connections closed; what was not delivered is dropped
(for a transaction that means it never commits).

Over TLS a close also ends by awaiting every connection's ``connection_lost``:
the transport sends close_notify and waits for the broker's, which a broker
busy with that channel often never sends, so asyncio/uvloop give up only after
their 30 s SSL shutdown timeout (a worker restoring three empty changelog
partitions over SASL_SSL took 31 s instead of 1 s). :func:`close_within` lets
the caller move on after a short bound while such a close finishes in the
background; readers outside a group use the same short bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError as AIOKafkaError

from processor.errors import KafkaUnavailableError

CLOSE_TIMEOUT_S: Final = 5.0
"""Default bound on closing a client when the broker may be away."""
QUICK_CLOSE_TIMEOUT_S: Final = 2.0
"""Bound for clients with nothing to hand over on close (admin clients, group-less readers)."""

_closing: set[asyncio.Future[None]] = set()
"""Closes still running in the background (held so they are not garbage-collected)."""


async def start_client(
    start: Awaitable[None],
    close: Callable[[], Awaitable[None]],
    what: str,
    timeout_s: float | None = None,
) -> None:
    """Await ``start`` (within ``timeout_s``, if given); on failure ``close`` and raise.

    The failure is a KafkaUnavailableError naming ``what`` ("consumer", "admin client").
    """
    try:
        async with asyncio.timeout(timeout_s):
            await start
    except (AIOKafkaError, TimeoutError) as exc:
        await close()
        raise KafkaUnavailableError(f"cannot start the {what}: {exc!r}") from exc


async def start_consumer(consumer: AIOKafkaConsumer, timeout_s: float | None = None) -> None:
    """Start a consumer; if it fails, close it (quickly: it has joined nothing) and raise."""
    await start_client(
        consumer.start(),
        lambda: close_consumer(consumer, QUICK_CLOSE_TIMEOUT_S),
        "consumer",
        timeout_s,
    )


async def close_within(close: Awaitable[None], timeout_s: float = QUICK_CLOSE_TIMEOUT_S) -> None:
    """Await ``close`` for at most ``timeout_s``; the rest runs in the background."""
    future = asyncio.ensure_future(close)
    done, _ = await asyncio.wait({future}, timeout=timeout_s)
    if done:
        future.result()
        return
    _closing.add(future)
    future.add_done_callback(_forget)


def _forget(future: asyncio.Future[None]) -> None:
    _closing.discard(future)
    if not future.cancelled():
        future.exception()  # retrieved: a failed background close is not worth a warning


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
