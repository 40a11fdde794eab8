"""Exactly-once under failure: kill -9 mid-transaction, rebalances, a fenced zombie."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from processor.errors import FencedError
from processor.kafka import partition_for
from processor.kafka.transactions import PartitionTransactor
from processor.settings import Settings
from tests.factories import make_envelope, to_bytes
from tests.integration.conftest import ReadTopic
from tests.integration.worker.checks import (
    OUTBOUND,
    assert_exactly_once,
    committed,
    expected_states,
    latest_by_key,
    traffic,
    worker_env,
)
from tests.integration.worker.conftest import decode, produce, running_worker


class TestCrash:
    async def test_kill_9_mid_transaction_then_restart_is_exactly_once(
        self, worker_settings: Settings, read_topic: ReadTopic, tmp_path: Path
    ) -> None:
        """SIGKILL the worker process while it commits transactions, start it again:
        read_committed readers see every input exactly once in the events, one alert per
        errored event, and each call's latest state equals a clean replay."""
        s = worker_settings.model_copy(update={"worker_batch_max_records": 500})
        bodies = traffic("crash", 4000, random.Random(7))
        await produce(s, bodies)
        inputs = await read_topic(s.topic_webhooks, len(bodies))
        log = (tmp_path / "worker.log").open("wb")
        command = [sys.executable, "-m", "processor", "worker"]
        admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap_servers)
        await admin.start()
        try:
            first = subprocess.Popen(command, env=worker_env(s), stdout=log, stderr=log)
            try:
                # Kill as soon as the first transactions committed: many more are open.
                while await committed(admin, s) == 0:
                    assert first.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
                    await asyncio.sleep(0.02)
                first.send_signal(signal.SIGKILL)
                first.wait(10)
            finally:
                if first.poll() is None:
                    first.kill()
            done = await committed(admin, s)
            assert 0 < done < len(bodies), "the kill must land mid-run"
            second = subprocess.Popen(command, env=worker_env(s), stdout=log, stderr=log)
            try:
                events = decode(await read_topic(s.topic_call_events, len(bodies), timeout_s=120))
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(30)
        finally:
            log.close()
            await admin.close()
        assert_exactly_once(inputs, events)
        # Each transaction's outputs are acknowledged before its offsets and commit are
        # sent: no produce races the commit, so the broker's transaction verification
        # never answers NOT_ENOUGH_REPLICAS (which operators read as a replication fault).
        assert "NotEnoughReplicas" not in (tmp_path / "worker.log").read_text()
        expected = expected_states(inputs)
        states = latest_by_key(await read_topic(s.topic_call_state, len(bodies), timeout_s=5))
        assert set(states) == set(expected)
        for call_id, state in expected.items():
            got = states[call_id]
            assert (got["eventsSeen"], got["status"], got["outcome"]) == (
                state.events_seen,
                state.status.value if state.status else "NEW",
                state.outcome.value if state.outcome else None,
            ), call_id
        errored = sum(1 for r in inputs if b'"errors":[{' in r.value)
        alerts = decode(await read_topic(s.topic_call_alerts, errored + 1, timeout_s=5))
        assert len(alerts) == errored
        assert len({a["alertId"] for a in alerts}) == errored


class TestRebalance:
    async def test_join_and_leave_keep_order_and_lose_nothing(
        self, worker_settings: Settings, read_topic: ReadTopic
    ) -> None:
        """Worker A runs, B joins, A leaves, while traffic flows: every input is
        processed exactly once, each call's events come out in its order, and the
        state handed over through the changelog stays complete."""
        s = worker_settings.model_copy(update={"worker_batch_max_records": 200})
        rng = random.Random(11)
        waves = [traffic(f"wave{n}", 150, rng) for n in range(3)]
        async with running_worker(s):
            await produce(s, waves[0])
            await read_topic(s.topic_call_events, len(waves[0]) // 2, timeout_s=30)
            async with running_worker(s):
                await produce(s, waves[1])
                await asyncio.sleep(2)
            await produce(s, waves[2])  # A left; B carries on
            total = sum(len(w) for w in waves)
            events = decode(await read_topic(s.topic_call_events, total, timeout_s=90))
        inputs = await read_topic(s.topic_webhooks, total)
        assert_exactly_once(inputs, events)
        offsets: dict[str, list[int]] = defaultdict(list)
        for event in events:
            offsets[event["callId"]].append(event["source"]["offset"])
        assert all(o == sorted(o) for o in offsets.values()), "a call's events reordered"
        assert all(len(o) == len(OUTBOUND) for o in offsets.values())
        states = latest_by_key(await read_topic(s.topic_call_state, total, timeout_s=5))
        assert {st["eventsSeen"] for st in states.values()} == {len(OUTBOUND)}
        assert {st["outcome"] for st in states.values()} == {"COMPLETED"}


class TestFencing:
    async def test_a_fenced_zombie_cannot_commit(
        self, worker_settings: Settings, read_topic: ReadTopic
    ) -> None:
        """When a new owner takes a partition's transactional id, the old worker's next
        transaction fails as fenced, it stops, and nothing it processed after the
        takeover becomes visible to read_committed readers."""
        s = worker_settings
        target = partition_for(b"z-2", s.topic_partitions)
        await produce(s, [to_bytes(make_envelope(call_id="z-1"))])
        worker_task: asyncio.Task[None] | None = None
        from processor.worker.runner import Worker

        worker = Worker(s)
        stop = asyncio.Event()
        worker_task = asyncio.create_task(worker.run(stop))
        assert len(await read_topic(s.topic_call_events, 1)) == 1
        usurper = PartitionTransactor(s, s.topic_webhooks, target)
        await usurper.start()  # the "new owner": bumps the epoch, fencing the worker
        try:
            await produce(s, [to_bytes(make_envelope(call_id="z-2"))])
            with pytest.raises(FencedError):
                await asyncio.wait_for(worker_task, 30)
        finally:
            stop.set()
            await usurper.stop()
        events = decode(await read_topic(s.topic_call_events, 2, timeout_s=3))
        assert [e["callId"] for e in events] == ["z-1"]
