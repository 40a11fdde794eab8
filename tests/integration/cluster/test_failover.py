"""The guarantees while brokers of a replicated cluster die: RF 3, min.insync.replicas 2.

Against kafka.sh's three-node KRaft cluster with Kafka's default failure detection
(broker.session.timeout.ms 9 s), under steady RSA-signed webhook traffic:

- ``kill -9`` of the leader of webhook partitions: every body answered 2xx is in Kafka
  exactly as sent and exactly once, every answer is 2xx or 503, and the longest 503
  window is measured;
- ``kill -9`` of the broker coordinating the worker's transactions: read_committed
  outputs show every input exactly once;
- a rolling restart (SIGTERM, start, wait for full ISR; node by node) under ingress and
  worker load: no acknowledged webhook lost, outputs exactly once.

Each test prints its figures (``FAILOVER ...``; run with ``-s`` to see them).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from pathlib import Path

import pytest

from processor.kafka import Publisher
from processor.settings import Settings
from tests.factories import make_envelope, to_bytes
from tests.integration.brokers import Cluster, processes, wait_http_ok
from tests.integration.cluster.conftest import (
    OUTBOUND,
    Answer,
    SignedTraffic,
    Supervisor,
    refusal_windows,
    report,
    statuses,
)
from tests.integration.conftest import read_records
from tests.integration.worker.conftest import decode
from tests.integration.worker.test_exactly_once import assert_exactly_once

pytestmark = pytest.mark.cluster


async def assert_acknowledged_bodies_stored_once(settings: Settings, answers: list[Answer]) -> None:
    """Every body answered 2xx is in the webhooks topic, byte for byte, exactly once."""
    accepted = [a.body for a in answers if 200 <= a.status < 300]
    records = await read_records(
        settings.kafka_bootstrap_servers, settings.topic_webhooks, len(accepted), 60
    )
    stored = Counter(r.value for r in records)
    missing = [body for body in accepted if stored[body] == 0]
    assert not missing, f"{len(missing)} acknowledged webhooks are not in Kafka"
    assert all(stored[body] == 1 for body in accepted), "an acknowledged webhook is stored twice"


async def assert_outputs_exactly_once(settings: Settings) -> tuple[int, float]:
    """Every record of the webhooks topic appears exactly once among the committed
    call events (read_committed); the number of inputs, and the longest pause in the
    worker's output (seconds between consecutive event timestamps)."""
    bootstrap = settings.kafka_bootstrap_servers
    inputs = await read_records(bootstrap, settings.topic_webhooks, 10**9, timeout_s=5)
    records = await read_records(bootstrap, settings.topic_call_events, len(inputs), 120)
    assert_exactly_once(inputs, decode(records))
    stamps = sorted(r.timestamp for r in records)
    pause_ms = max((b - a for a, b in itertools.pairwise(stamps)), default=0)
    return len(inputs), pause_ms / 1000


class TestLeaderLoss:
    async def test_kill_9_of_the_webhook_leader_loses_no_acknowledged_webhook(
        self,
        kafka_cluster: Cluster,
        cluster_settings: Settings,
        traffic: SignedTraffic,
        tmp_path: Path,
    ) -> None:
        """SIGKILL the broker leading webhook partition 0 under signed traffic, restart it
        20 s later: every answer is 202 or 503 (never a 5xx of another kind, never a
        dropped connection), every 202 body is in Kafka exactly once, and the longest
        stretch a partition answered 503 is below 30 s."""
        s = cluster_settings
        with processes(tmp_path) as procs:
            procs.start("ingress", s, "ingress")
            await wait_http_ok(f"http://127.0.0.1:{s.ingress_port}/readyz")
            traffic.start("leader")
            await asyncio.sleep(4)
            victim = await kafka_cluster.leader_of(s.topic_webhooks, 0)
            killed_at = time.monotonic()
            await asyncio.to_thread(kafka_cluster.kill, victim)
            await asyncio.sleep(20)
            await asyncio.to_thread(kafka_cluster.start, victim)
            await asyncio.sleep(3)
            answers = await traffic.stop()
            procs.assert_running("ingress")
        windows = refusal_windows(answers, s.topic_partitions)
        after_kill = [a for a in answers if a.sent_at >= killed_at]
        report("leader kill -9", node=victim, windows=windows, statuses=statuses(answers))
        assert set(statuses(answers)) <= {202, 503}, statuses(answers)
        assert windows.accepted > 200
        assert any(a.status == 202 for a in after_kill[-50:]), "traffic never recovered"
        await assert_acknowledged_bodies_stored_once(s, answers)
        assert windows.longest_s < 30


class TestCoordinatorLoss:
    async def test_kill_9_of_the_transaction_coordinator_keeps_exactly_once(
        self, kafka_cluster: Cluster, cluster_settings: Settings, tmp_path: Path
    ) -> None:
        """SIGKILL the broker coordinating the worker's transactions while it commits a
        steady input stream, restart it: read_committed outputs hold every input exactly
        once (the worker is restarted if it exits, as a supervisor would)."""
        s = cluster_settings
        publisher = Publisher(s)
        await publisher.start()
        fed = 0
        stop_feeding = asyncio.Event()

        async def feed() -> None:
            nonlocal fed
            call = 0
            while not stop_feeding.is_set():
                call_id = f"coord-{call}"
                call += 1
                for status in OUTBOUND:
                    body = to_bytes(
                        make_envelope(event_type=f"OUTBOUND_CALL_{status}", call_id=call_id)
                    )
                    try:
                        await publisher.publish(s.topic_webhooks, call_id.encode(), body)
                        fed += 1
                    except Exception:  # noqa: S112 - an unavailable partition: the next call
                        continue
                await asyncio.sleep(0.02)

        with processes(tmp_path) as procs:
            async with Supervisor(procs, s) as supervisor:
                feeder = asyncio.create_task(feed())
                await asyncio.sleep(6)
                transactional_id = f"{s.worker_transactional_id_prefix}-{s.topic_webhooks}-0"
                victim = await kafka_cluster.transaction_coordinator(transactional_id)
                await asyncio.to_thread(kafka_cluster.kill, victim)
                await asyncio.sleep(15)
                await asyncio.to_thread(kafka_cluster.start, victim)
                await asyncio.sleep(3)
                stop_feeding.set()
                await feeder
                await publisher.stop()
                inputs, pause_s = await assert_outputs_exactly_once(s)
        report(
            "coordinator kill -9",
            node=victim,
            inputs=inputs,
            longest_output_pause=f"{pause_s:.1f}s",
            acknowledged=fed,
            worker_restarts=supervisor.restarts,
        )
        assert inputs >= fed > 300


class TestRollingRestart:
    async def test_rolling_restart_under_load(
        self,
        kafka_cluster: Cluster,
        cluster_settings: Settings,
        traffic: SignedTraffic,
        tmp_path: Path,
    ) -> None:
        """Restart the nodes one by one (SIGTERM, start, wait until every partition is
        fully in sync) under signed traffic through ingress and worker: every answer is
        202 or 503, every 202 body is in Kafka exactly once, and the worker's outputs hold
        every input exactly once."""
        s = cluster_settings
        with processes(tmp_path) as procs:
            async with Supervisor(procs, s) as supervisor:
                procs.start("ingress", s, "ingress")
                await wait_http_ok(f"http://127.0.0.1:{s.ingress_port}/readyz")
                traffic.start("rolling")
                await asyncio.sleep(3)
                for node in (1, 2, 3):
                    await asyncio.to_thread(kafka_cluster.stop, node)
                    await asyncio.to_thread(kafka_cluster.start, node)
                    await kafka_cluster.wait_fully_replicated()
                await asyncio.sleep(2)
                answers = await traffic.stop()
                procs.assert_running("ingress")
                inputs, pause_s = await assert_outputs_exactly_once(s)
        windows = refusal_windows(answers, s.topic_partitions)
        report(
            "rolling restart",
            windows=windows,
            statuses=statuses(answers),
            inputs=inputs,
            longest_output_pause=f"{pause_s:.1f}s",
            worker_restarts=supervisor.restarts,
        )
        assert set(statuses(answers)) <= {202, 503}, statuses(answers)
        await assert_acknowledged_bodies_stored_once(s, answers)
