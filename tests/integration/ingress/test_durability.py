"""A 2xx means durably in Kafka: order under concurrency, broker loss, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from processor.kafka import partition_for
from processor.kafka.admin import create_topics
from processor.settings import Settings
from tests.factories import make_envelope, to_bytes
from tests.integration.brokers import wait_http_ok
from tests.integration.conftest import ReadTopic, kafka_sh, read_records
from tests.integration.ingress.conftest import StartIngress, json_headers
from tests.support.servers import free_port

PATH = "/webhooks/recho"
LIFECYCLE = [
    "OUTBOUND_CALL_PENDING",
    "OUTBOUND_CALL_REQUESTED",
    "OUTBOUND_CALL_CALLING",
    "OUTBOUND_CALL_CLOSING",
    "OUTBOUND_CALL_COMPLETED",
]


def _event(call_id: str, seq: int) -> bytes:
    payload = make_envelope(event_type=LIFECYCLE[seq % len(LIFECYCLE)], call_id=call_id)
    payload["seq"] = seq
    return to_bytes(payload)


class TestOrder:
    async def test_concurrent_calls_keep_each_calls_order(
        self,
        settings: Settings,
        start_ingress: StartIngress,
        http: httpx.AsyncClient,
        read_topic: ReadTopic,
    ) -> None:
        """1,000 events across 100 callIds, posted concurrently (each call in order),
        arrive in each call's order on the partition its callId maps to."""
        url = await start_ingress(settings)

        async def post_call(call_id: str) -> None:
            for seq in range(10):
                response = await http.post(
                    url + PATH, content=_event(call_id, seq), headers=json_headers()
                )
                assert response.status_code == 202, response.text

        await asyncio.gather(*(post_call(f"ord-{i}") for i in range(100)))
        records = await read_topic(settings.topic_webhooks, 1000)
        assert len(records) == 1000
        seqs: dict[str, list[int]] = defaultdict(list)
        for record in records:
            assert record.partition == partition_for(record.key, settings.topic_partitions)
            seqs[record.key.decode()].append(orjson.loads(record.value)["seq"])
        assert all(s == list(range(10)) for s in seqs.values())
        assert len(seqs) == 100

    async def test_each_answer_says_where_its_body_is(
        self,
        settings: Settings,
        start_ingress: StartIngress,
        http: httpx.AsyncClient,
        read_topic: ReadTopic,
    ) -> None:
        """600 webhooks posted 200 at a time (concurrent writes share record batches):
        the partition and offset in each 202 hold exactly that webhook's body."""
        url = await start_ingress(settings)
        answers: dict[tuple[int, int], bytes] = {}

        async def post(i: int) -> None:
            body = _event(f"where-{i % 37}", i)
            response = await http.post(url + PATH, content=body, headers=json_headers())
            assert response.status_code == 202, response.text
            where = response.json()
            answers[(where["partition"], where["offset"])] = body

        for start in range(0, 600, 200):
            await asyncio.gather(*(post(i) for i in range(start, start + 200)))
        records = await read_topic(settings.topic_webhooks, 600)
        assert len(answers) == 600
        assert {(r.partition, r.offset): r.value for r in records} == answers


@pytest.fixture
def second_broker(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A separate local broker this test may stop (the shared one stays up)."""
    port, controller = free_port(), free_port()
    env = {
        "KAFKA_HOME": str(tmp_path / "kafka"),
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller),
        "KAFKA_HEAP": "512m",
    }
    lib = Path(__file__).resolve().parents[3] / ".kafka" / "lib"
    (tmp_path / "kafka").mkdir()
    if lib.exists():
        os.symlink(lib, tmp_path / "kafka" / "lib")  # reuse the resolved jars
    result = kafka_sh("up", env=env)
    assert result.returncode == 0, result.stderr
    yield {**env, "bootstrap": f"127.0.0.1:{port}"}
    kafka_sh("down", env=env)


class TestBrokerLoss:
    async def test_broker_down_gives_503_and_no_2xx_is_lost(
        self,
        settings_factory: object,
        second_broker: dict[str, str],
        start_ingress: StartIngress,
        http: httpx.AsyncClient,
    ) -> None:
        """With the broker stopped, webhooks get 503 with Retry-After, never 2xx; after
        it returns, every webhook that got a 2xx is in the topic."""
        settings: Settings = settings_factory(  # type: ignore[operator]
            kafka_bootstrap_servers=second_broker["bootstrap"],
            producer_request_timeout_ms=2000,
        )
        await create_topics(settings)
        url = await start_ingress(settings)
        accepted: list[bytes] = []
        for i in range(20):
            body = _event(f"loss-{i}", 0)
            response = await http.post(url + PATH, content=body, headers=json_headers())
            assert response.status_code == 202
            accepted.append(body)
        assert kafka_sh("down", env=second_broker).returncode == 0
        refused = 0
        for i in range(10):
            body = _event(f"loss-down-{i}", 0)
            response = await http.post(url + PATH, content=body, headers=json_headers())
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"]
            assert response.json()["error"] in {"kafka_unavailable", "overloaded"}
            refused += 1
        assert refused == 10
        assert kafka_sh("up", env=second_broker).returncode == 0
        records = await read_records(
            second_broker["bootstrap"], settings.topic_webhooks, len(accepted)
        )
        stored = {r.value for r in records}
        assert set(accepted) <= stored


class TestGracefulShutdown:
    async def test_sigterm_under_load_loses_no_acknowledged_webhook(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        read_topic: ReadTopic,
        tmp_path: Path,
    ) -> None:
        """SIGTERM to a loaded ingress process: every webhook answered 2xx is in Kafka,
        and the process exits cleanly."""
        port = free_port()
        log_file = (tmp_path / "ingress.log").open("wb")
        env = {
            **os.environ,
            "PROCESSOR_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "PROCESSOR_TOPIC_WEBHOOKS": settings.topic_webhooks,
            "PROCESSOR_INGRESS_PORT": str(port),
            "PROCESSOR_LOG_JSON": "true",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "processor", "ingress"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            # Until ready, however slow the start: SIGTERM before the handler is installed
            # would kill the process (rc -15) instead of testing its drain.
            await wait_http_ok(url + "/readyz")
            acked: list[bytes] = []
            stop = asyncio.Event()

            async def client(n: int) -> None:
                seq = 0
                while not stop.is_set():
                    body = _event(f"term-{n}", seq)
                    seq += 1
                    try:
                        response = await http.post(url + PATH, content=body, headers=json_headers())
                    except httpx.TransportError:
                        return
                    if response.status_code == 202:
                        acked.append(body)
                    elif response.status_code == 503:
                        return

            tasks = [asyncio.create_task(client(n)) for n in range(20)]
            await asyncio.sleep(1.5)
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 30)
            stop.set()
            await asyncio.gather(*tasks)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        log_file.close()
        assert code == 0, (tmp_path / "ingress.log").read_text()[-2000:]
        assert len(acked) > 50
        records = await read_topic(settings.topic_webhooks, len(acked), timeout_s=30)
        stored = {r.value for r in records}
        assert set(acked) <= stored
