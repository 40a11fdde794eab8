"""Read a partition from the beginning to its current end, outside any group.

Used to restore worker state from the changelog and to scan the DLQ for
replay. read_committed: records of aborted transactions are never seen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Final

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError as AIOKafkaError

from processor.errors import KafkaError, KafkaUnavailableError
from processor.kafka.admin import partition_count
from processor.kafka.consumer import new_consumer
from processor.kafka.lifecycle import QUICK_CLOSE_TIMEOUT_S, close_consumer, start_consumer
from processor.kafka.records import Record
from processor.settings import Settings

REQUEST_TIMEOUT_S: Final = 30.0
"""Bound on connecting and on reading the start and end offsets."""
STALL_S: Final = 30.0
"""A read that fetches nothing for this long while records remain has lost its broker."""
PARTITION_FETCH_BYTES: Final = 8 * 1024 * 1024
"""Twice a group consumer's: a restore reads whole partitions as fast as it can."""
FETCH_BYTES: Final = 64 * 1024 * 1024
FETCH_WAIT_MS: Final = 500


async def read_to_end(
    settings: Settings, topic: str, partitions: list[int] | None = None, role: str = "reader"
) -> AsyncIterator[list[Record]]:
    """Yield batches of records of ``partitions`` (all if None) up to their end offsets."""
    # No group, so no committed offsets: every assigned partition starts at its
    # earliest offset. (An explicit seek_to_beginning would wait for the fetch
    # already in flight, up to fetch_max_wait_ms, for each restored partition.)
    consumer = new_consumer(
        settings,
        role,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
        fetch_max_bytes=FETCH_BYTES,
    )
    await start_consumer(consumer, REQUEST_TIMEOUT_S)
    try:
        if partitions is None:
            count = await partition_count(settings, topic)
            if not count:
                raise KafkaError(f"topic {topic} does not exist")
            partitions = list(range(count))
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            ends = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        for tp in list(remaining):
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
        idle_since = time.monotonic()
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=FETCH_WAIT_MS)
            if any(batches.values()):
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > STALL_S:
                raise KafkaUnavailableError(f"reading {topic} made no progress for {STALL_S:g} s")
            for records in batches.values():
                if records:
                    yield records
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    except (AIOKafkaError, TimeoutError) as exc:
        raise KafkaUnavailableError(f"reading {topic} failed: {exc!r}") from exc
    finally:
        await asyncio.shield(close_consumer(consumer, QUICK_CLOSE_TIMEOUT_S))
