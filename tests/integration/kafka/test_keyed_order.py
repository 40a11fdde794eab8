"""Records keyed by callId through the project's publisher keep per-call order."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from processor.kafka import Publisher, partition_for
from processor.settings import Settings
from tests.integration.conftest import ReadTopic


class TestKeyedOrder:
    async def test_per_call_order_and_java_partition(
        self, settings: Settings, read_topic: ReadTopic
    ) -> None:
        """1,000 events of 100 calls, sent concurrently per call, are read back in each
        call's order, all on the partition Java's default partitioner picks."""
        publisher = Publisher(settings)
        await publisher.start()
        calls = [f"call-{i:03d}" for i in range(100)]
        acked: dict[str, list[tuple[int, int]]] = defaultdict(list)

        async def send_call(call_id: str) -> None:
            for seq in range(10):
                delivered = await publisher.publish(
                    settings.topic_webhooks,
                    call_id.encode(),
                    f"{call_id}:{seq}".encode(),
                    headers=[("seq", str(seq).encode())],
                )
                acked[call_id].append((delivered.partition, delivered.offset))

        try:
            await asyncio.gather(*(send_call(c) for c in calls))
        finally:
            await publisher.stop()

        records = await read_topic(settings.topic_webhooks, 1000)
        assert len(records) == 1000
        seen: dict[str, list[int]] = defaultdict(list)
        for record in records:
            call_id = record.key.decode()
            assert record.partition == partition_for(record.key, settings.topic_partitions)
            seen[call_id].append(int(record.value.decode().split(":")[1]))
        assert all(seen[c] == list(range(10)) for c in calls)
        for call_id, positions in acked.items():
            assert len({p for p, _ in positions}) == 1, call_id
            offsets = [o for _, o in positions]
            assert offsets == sorted(offsets)
