"""Feeding the webhooks topic and running workers against the real broker."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from processor.kafka.partitioner import JavaCompatiblePartitioner
from processor.settings import Settings
from processor.worker.runner import Worker

RECEIVED_AT = "recho-received-at-ms"


async def produce(
    settings: Settings,
    bodies: Sequence[bytes],
    *,
    key_of: Callable[[bytes], bytes] | None = None,
) -> None:
    """Write raw webhook bodies the way the ingress does (key = callId, receive time header).

    Records are enqueued in order and acknowledged together, so per-key order holds
    and large test inputs load quickly.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        partitioner=JavaCompatiblePartitioner(),
    )
    await producer.start()
    try:
        pending = []
        for body in bodies:
            key = key_of(body) if key_of else orjson.loads(body)["body"]["data"]["callId"].encode()
            now_ms = str(time.time_ns() // 1_000_000).encode()
            pending.append(
                await producer.send(
                    settings.topic_webhooks, body, key=key, headers=[(RECEIVED_AT, now_ms)]
                )
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[Worker]:
    """A worker running in this event loop until the block ends."""
    worker = Worker(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


def decode(records: list[Any]) -> list[dict[str, Any]]:
    """Record values as JSON objects (tombstones skipped)."""
    return [orjson.loads(r.value) for r in records if r.value is not None]


@pytest.fixture
def worker_settings(settings: Settings) -> Settings:
    """Test settings with short batches and sweeps."""
    return settings.model_copy(
        update={"worker_batch_max_ms": 50, "worker_sweep_interval_s": 0.2, "worker_metrics_port": 0}
    )
