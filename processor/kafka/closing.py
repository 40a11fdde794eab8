"""Closing aiokafka admin clients without waiting on the TLS goodbye.

An aiokafka client's ``stop()``/``close()`` ends by awaiting every connection's
``connection_lost``. Over TLS the transport first sends close_notify and waits
for the broker's; a Kafka broker busy with that channel (a fetch in flight)
often never answers, and asyncio/uvloop give up only after their 30 s SSL
shutdown timeout. Measured here: a worker restoring three empty changelog
partitions over SASL_SSL took 31 s instead of 1 s. :func:`close_within` lets
the caller move on after a short bound while the close finishes (or times out)
in the background; the client is unusable either way. Consumers are closed by
:func:`processor.kafka.lifecycle.close_consumer`, which bounds the same wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

CLOSE_TIMEOUT_S = 2.0

_closing: set[asyncio.Future[None]] = set()
"""Closes still running in the background (held so they are not garbage-collected)."""


async def close_within(close: Awaitable[None], timeout_s: float = CLOSE_TIMEOUT_S) -> None:
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
