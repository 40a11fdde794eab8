"""Follow a topic from its current end, outside any group (for live views)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError as AIOKafkaError

from processor.errors import KafkaError
from processor.kafka.admin import partition_count
from processor.kafka.consumer import new_consumer
from processor.kafka.lifecycle import CLOSE_TIMEOUT_S, close_consumer, start_consumer
from processor.kafka.reader import FETCH_WAIT_MS
from processor.kafka.records import Record
from processor.settings import Settings


async def tail(settings: Settings, topic: str, role: str = "tail") -> AsyncIterator[Record]:
    """Yield records committed to ``topic`` from now on, until cancelled."""
    consumer = new_consumer(settings, role, auto_offset_reset="latest")
    await start_consumer(consumer)
    try:
        count = await partition_count(settings, topic)
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        while True:
            batches = await consumer.getmany(timeout_ms=FETCH_WAIT_MS)
            for records in batches.values():
                for record in records:
                    yield record
    except AIOKafkaError as exc:
        raise KafkaError(f"following {topic} failed: {exc}") from exc
    finally:
        await close_consumer(consumer, CLOSE_TIMEOUT_S)
