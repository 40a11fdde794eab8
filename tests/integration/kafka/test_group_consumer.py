"""The group consumer every group member uses (worker, notifier), on a real broker."""

from __future__ import annotations

import socket
import time

import pytest

from processor.errors import KafkaUnavailableError
from processor.kafka import Publisher
from processor.kafka.consumer import GroupConsumer
from processor.kafka.records import Record
from processor.settings import Settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _fetch_until(consumer: GroupConsumer, count: int, timeout_s: float = 30) -> list[Record]:
    records: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while len(records) < count and time.monotonic() < deadline:
        batches = await consumer.fetch(500, 100)
        records += [record for batch in batches.values() for record in batch]
    return records


async def _publish(settings: Settings, values: list[bytes]) -> None:
    publisher = Publisher(settings)
    await publisher.start()
    try:
        for value in values:
            await publisher.publish(settings.topic_call_alerts, b"call-1", value)
    finally:
        await publisher.stop()


class TestGroupConsumer:
    async def test_unreachable_kafka_is_unavailable_at_start(self, settings: Settings) -> None:
        """Starting against a port nobody listens on fails at once as KafkaUnavailableError
        (the command prints one line), and stopping afterwards is harmless."""
        away = settings.model_copy(
            update={"kafka_bootstrap_servers": f"127.0.0.1:{_closed_port()}"}
        )
        consumer = GroupConsumer(away, away.topic_call_alerts, away.notifier_group_id, role="t")
        started = time.monotonic()
        with pytest.raises(KafkaUnavailableError):
            await consumer.start()
        assert time.monotonic() - started < 30
        assert not consumer.connected
        await consumer.stop()

    async def test_a_new_member_resumes_after_the_commit(self, settings: Settings) -> None:
        """Records committed by one member are not read again by the next one in the
        group; the uncommitted rest is. The assignment callback reports the partitions."""
        await _publish(settings, [b"a", b"b", b"c"])
        assigned: list[list[int]] = []

        async def on_assigned(partitions: list[int]) -> None:
            assigned.append(partitions)

        topic, group = settings.topic_call_alerts, settings.notifier_group_id
        first = GroupConsumer(settings, topic, group, role="t", on_assigned=on_assigned)
        await first.start()
        try:
            records = await _fetch_until(first, 3)
            assert [r.value for r in records] == [b"a", b"b", b"c"]
            assert first.joined
            assert sorted(p for ps in assigned for p in ps) == first.assigned()
            second_record = records[1]
            await first.commit({second_record.partition: second_record.offset})
        finally:
            await first.stop()
        second = GroupConsumer(settings, topic, group, role="t")
        await second.start()
        try:
            again = await _fetch_until(second, 2)
            assert [r.value for r in again] == [b"b", b"c"]
        finally:
            await second.stop()
