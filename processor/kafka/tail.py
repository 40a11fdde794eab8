"""Follow a topic from its current end, outside any group (for live views)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError as AIOKafkaError

from processor.errors import KafkaError
from processor.kafka.admin import partition_count
from processor.kafka.config import common_options
from processor.kafka.lifecycle import CLOSE_TIMEOUT_S, close_consumer
from processor.kafka.records import Record
from processor.settings import Settings


async def tail(settings: Settings, topic: str, role: str = "tail") -> AsyncIterator[Record]:
    """Yield records committed to ``topic`` from now on, until cancelled."""
    consumer = AIOKafkaConsumer(
        **common_options(settings, role),
        group_id=None,
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    try:
        await consumer.start()
        count = await partition_count(settings, topic)
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    yield record
    except AIOKafkaError as exc:
        raise KafkaError(f"following {topic} failed: {exc}") from exc
    finally:
        await close_consumer(consumer, CLOSE_TIMEOUT_S)
