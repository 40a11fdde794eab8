"""Exactly-once through broker outages: the worker keeps running while its broker goes away.

A ``processor worker`` process consumes a stream of webhooks that keeps flowing
while the broker is stopped gracefully, killed with -9, or away for a short
while. After the broker returns and the worker has caught up, read_committed
readers must see every input exactly once among the call events, one alert per
errored input, and each call's latest state equal to a clean replay. The
worker must never have died, its /readyz must have followed the broker, and
SIGTERM must stop it cleanly at the end.

Every scenario has a broker and topics of its own, so the module starts them
all at once (most of a scenario is waiting for an outage to end) and each test
awaits its own scenario's result: the module takes as long as its longest
scenario instead of the sum.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from processor.kafka.admin import create_topics
from processor.kafka.partitioner import JavaCompatiblePartitioner
from processor.settings import Settings
from tests.integration.conftest import unique_topics
from tests.integration.faults.conftest import StartBrokers, StoppableBroker
from tests.integration.worker.checks import (
    assert_exactly_once,
    expected_states,
    latest_by_key,
    traffic,
    worker_env,
)
from tests.integration.worker.conftest import RECEIVED_AT, decode
from tests.support.servers import free_port

pytestmark = pytest.mark.faults


class Stream:
    """Writes bodies in order at a steady pace, pausing while the broker is away.

    A write that fails is retried with a new producer, as the platform retries a
    webhook that got no 2xx; the input topic may then hold a body twice, which
    the worker must treat as a duplicate delivery.
    """

    def __init__(self, settings: Settings, bodies: list[bytes], per_s: int) -> None:
        self.settings = settings
        self.bodies = bodies
        self.per_s = per_s
        self.sent = 0
        self.broker_up = asyncio.Event()
        self.broker_up.set()

    async def _producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=5000,
            partitioner=JavaCompatiblePartitioner(),
        )
        await producer.start()
        return producer

    async def run(self) -> None:
        """Send every body, ``per_s`` a second, in chunks of 50."""
        producer: AIOKafkaProducer | None = None
        chunk = 50
        try:
            while self.sent < len(self.bodies):
                await self.broker_up.wait()
                try:
                    if producer is None:
                        producer = await self._producer()
                    started = time.monotonic()
                    pending = []
                    for body in self.bodies[self.sent : self.sent + chunk]:
                        key = orjson.loads(body)["body"]["data"]["callId"].encode()
                        now_ms = str(time.time_ns() // 1_000_000).encode()
                        pending.append(
                            await producer.send(
                                self.settings.topic_webhooks,
                                body,
                                key=key,
                                headers=[(RECEIVED_AT, now_ms)],
                            )
                        )
                    async with asyncio.timeout(10):
                        await asyncio.gather(*pending)
                except Exception:
                    if producer is not None:
                        with contextlib.suppress(Exception):
                            async with asyncio.timeout(5):
                                await producer.stop()
                    producer = None
                    await asyncio.sleep(0.5)
                    continue
                self.sent = min(self.sent + chunk, len(self.bodies))
                await asyncio.sleep(max(chunk / self.per_s - (time.monotonic() - started), 0))
        finally:
            if producer is not None:
                with contextlib.suppress(Exception):
                    await producer.stop()


async def cancelled(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait until it has finished (its producer closed)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def read_all(bootstrap: str, topic: str, partitions: int) -> list[Any]:
    """Every committed record of a topic, up to its end offsets now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning()
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def wait_for(
    predicate: Callable[[], Any], timeout_s: float, what: str, worker: subprocess.Popen[bytes]
) -> None:
    """Poll an async predicate until true; fail if the worker died or time ran out."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert worker.poll() is None, f"the worker exited with {worker.returncode}"
        if await predicate():
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)


async def ready(client: httpx.AsyncClient, url: str) -> bool | None:
    """The worker's /readyz answer (None if it did not answer)."""
    try:
        response = await client.get(url, timeout=2)
    except httpx.HTTPError:
        return None
    return response.status_code == 200


@contextlib.asynccontextmanager
async def worker_process(settings: Settings, log: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    """``processor worker`` as a child process; SIGTERM at the end must give rc 0 quickly."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "processor", "worker"],
            env=worker_env(settings),
            stdout=out,
            stderr=out,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.to_thread(process.wait, 30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)


async def worker_settings(broker: StoppableBroker, prefix: str, **overrides: Any) -> Settings:
    """A worker's settings on ``broker`` with topics named by ``prefix`` (created here)."""
    settings = Settings(
        kafka_bootstrap_servers=broker.bootstrap,
        topic_partitions=3,
        worker_group_id=f"{prefix}-worker",
        worker_transactional_id_prefix=f"{prefix}-worker",
        worker_batch_max_ms=50,
        worker_metrics_port=free_port(),
        **unique_topics(prefix),
        **overrides,
    )
    await create_topics(settings)
    return settings


SCENARIOS = {
    # name: (how the broker goes away, seconds it stays away)
    # Longer than the worker producer's transaction timeout (60 s, kafka/transactions.py)
    # and aiokafka's request timeout (40 s): the staged batches expire and the broker aborts
    # the open transaction when it returns. 10 s above the larger limit is enough for that.
    "graceful-stop-70s": ("stop", 70.0),
    # Shorter than both: the producer's batches wait out the outage.
    "kill-9-20s": ("kill", 20.0),
    "graceful-stop-30s": ("stop", 30.0),
}
SIGTERM = "sigterm-broker-down"


async def outage_scenario(scenario: str, broker: StoppableBroker, tmp_path: Path) -> str:
    """The outage scenario ``scenario`` on ``broker``; the figures of the run."""
    how, away_s = SCENARIOS[scenario]
    prefix = f"f{scenario.replace('-', '')}"
    settings = await worker_settings(broker, prefix, worker_batch_max_records=200)
    port = settings.worker_metrics_port
    bodies = traffic(prefix, 1500, random.Random(len(scenario)))  # 7,500 events
    stream = Stream(settings, bodies, per_s=250)
    readyz = f"http://127.0.0.1:{port}/readyz"
    log = tmp_path / "worker.log"
    async with httpx.AsyncClient() as client, worker_process(settings, log) as worker:
        feeding = asyncio.create_task(stream.run())
        try:
            await wait_for(lambda: ready(client, readyz), 60, "the worker to be ready", worker)

            async def mid_stream() -> bool:
                """A third sent and the worker committing outputs: transactions in flight
                (a worker still joining its group would meet the outage in another state)."""
                if stream.sent < len(bodies) // 3:
                    return False
                events = await read_all(broker.bootstrap, settings.topic_call_events, 3)
                return len(events) >= len(bodies) // 6

            await wait_for(mid_stream, 90, "mid-stream with outputs committed", worker)
            stream.broker_up.clear()
            await asyncio.sleep(0.3)  # let the last chunk's writes land, or fail
            await asyncio.to_thread(broker.kill if how == "kill" else broker.stop)
            gone_at = time.monotonic()

            async def not_ready() -> bool:
                return (await ready(client, readyz)) is False

            await wait_for(not_ready, 30, "/readyz to go false", worker)
            went_unready_s = time.monotonic() - gone_at
            await asyncio.sleep(max(away_s - (time.monotonic() - gone_at), 0))
            assert worker.poll() is None, "the worker died during the outage"
            await asyncio.to_thread(broker.up)
            stream.broker_up.set()
            await wait_for(lambda: ready(client, readyz), 90, "/readyz to come back", worker)
            await asyncio.wait_for(feeding, 120)
            inputs = await read_all(broker.bootstrap, settings.topic_webhooks, 3)
            assert len(inputs) >= len(bodies)

            async def caught_up() -> bool:
                events = await read_all(broker.bootstrap, settings.topic_call_events, 3)
                return len(events) >= len(inputs)

            await wait_for(caught_up, 180, "the worker to catch up", worker)
            await asyncio.sleep(1)  # a duplicate output would show up by now
        finally:
            await cancelled(feeding)
        # SIGTERM stops it cleanly (no traceback, rc 0) within the drain timeout.
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 0, log.read_text()[-3000:]
    assert went_unready_s < 15
    output = log.read_text()
    assert "Traceback" not in output, output[-3000:]
    assert "was never retrieved" not in output, output[-3000:]

    events = decode(await read_all(broker.bootstrap, settings.topic_call_events, 3))
    assert_exactly_once(inputs, events)
    expected = expected_states(inputs)
    states = latest_by_key(await read_all(broker.bootstrap, settings.topic_call_state, 3))
    assert set(states) == set(expected)
    for call_id, state in expected.items():
        got = states[call_id]
        assert (got["eventsSeen"], got["status"]) == (
            state.events_seen,
            state.status.value if state.status else "NEW",
        ), call_id
    errored = {r.value for r in inputs if b'"errors":[{' in r.value}  # duplicates alert once
    alerts = decode(await read_all(broker.bootstrap, settings.topic_call_alerts, 3))
    errored_alerts = [a for a in alerts if a.get("kind") != "CALL_STALLED"]
    assert len(errored_alerts) == len(errored)
    assert len({a["alertId"] for a in errored_alerts}) == len(errored)
    return (
        f"{scenario}: inputs={len(inputs)} unique_bodies={len({r.value for r in inputs})} "
        f"events={len(events)} errored={len(errored)} alerts={len(errored_alerts)} "
        f"lost=0 duplicated=0 unready_after_s={went_unready_s:.1f}"
    )


async def sigterm_scenario(broker: StoppableBroker, tmp_path: Path) -> str:
    """SIGTERM to a worker whose broker was just killed, on ``broker``; the figures."""
    prefix = "fsigterm"
    settings = await worker_settings(broker, prefix, worker_drain_timeout_s=3.0)
    bodies = traffic(prefix, 300, random.Random(3))
    stream = Stream(settings, bodies, per_s=500)
    log = tmp_path / "worker.log"
    try:
        async with worker_process(settings, log) as worker:
            # Ready first, so the SIGTERM below meets a worker mid-stream (one still
            # starting up has no handler yet and dies of the signal).
            readyz = f"http://127.0.0.1:{settings.worker_metrics_port}/readyz"
            async with httpx.AsyncClient() as client:
                await wait_for(lambda: ready(client, readyz), 60, "the worker to be ready", worker)
            feeding = asyncio.create_task(stream.run())
            try:

                async def some_sent() -> bool:
                    return stream.sent >= len(bodies) // 2

                await wait_for(some_sent, 60, "half of the stream", worker)
                stream.broker_up.clear()
                await asyncio.to_thread(broker.kill)
                await asyncio.sleep(2)  # commits now wait for a broker that is gone
                worker.send_signal(signal.SIGTERM)
                started = time.monotonic()
                code = await asyncio.to_thread(worker.wait, 60)
                took_s = time.monotonic() - started
            finally:
                await cancelled(feeding)
        output = log.read_text()
        assert code == 0, output[-3000:]
        assert took_s < 3.0 + 5.0 + 5.0 + 2.0, f"stopping took {took_s:.1f} s"
        assert "Traceback" not in output, output[-3000:]
        assert "Unclosed" not in output, output[-3000:]
    finally:
        await asyncio.to_thread(broker.up)
    stream.broker_up.set()
    await asyncio.wait_for(stream.run(), 60)
    async with worker_process(settings, tmp_path / "worker2.log") as worker:
        inputs = await read_all(broker.bootstrap, settings.topic_webhooks, 3)

        async def caught_up() -> bool:
            events = await read_all(broker.bootstrap, settings.topic_call_events, 3)
            return len(events) >= len(inputs)

        await wait_for(caught_up, 120, "the new worker to catch up", worker)
    events = decode(await read_all(broker.bootstrap, settings.topic_call_events, 3))
    assert_exactly_once(inputs, events)
    return f"{SIGTERM}: inputs={len(inputs)} events={len(events)} stopped_in_s={took_s:.1f}"


@pytest.fixture(scope="module")
async def scenarios(
    stoppable_brokers: StartBrokers, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, asyncio.Task[str]]]:
    """Every scenario of this module started at once, each on a broker of its own."""
    names = [*SCENARIOS, SIGTERM]
    brokers = await asyncio.to_thread(stoppable_brokers, len(names))
    tasks: dict[str, asyncio.Task[str]] = {}
    for name, broker in zip(names, brokers, strict=True):
        folder = tmp_path_factory.mktemp(name)
        run: Coroutine[Any, Any, str] = (
            sigterm_scenario(broker, folder)
            if name == SIGTERM
            else outage_scenario(name, broker, folder)
        )
        tasks[name] = asyncio.create_task(run, name=name)
    yield tasks
    for task in tasks.values():
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)


@pytest.mark.timeout(480)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_outage_mid_stream_loses_and_duplicates_nothing(
    scenario: str, scenarios: dict[str, asyncio.Task[str]]
) -> None:
    """Webhooks (written as the ingress writes them) stream in while the broker goes
    away mid-stream and comes back: the worker never dies, /readyz goes false during
    the outage and true after, and read_committed outputs hold every input exactly
    once, one alert per errored input and per-call states equal to a clean replay of
    the state machine."""
    print(await scenarios[scenario])  # the figures of the run, shown with `pytest -s`


@pytest.mark.timeout(480)
async def test_sigterm_while_the_broker_is_down_exits_cleanly_and_in_time(
    scenarios: dict[str, asyncio.Task[str]],
) -> None:
    """With the broker killed under a flowing stream, SIGTERM stops the worker within its
    drain timeout plus the clients' close bounds, with rc 0 and no traceback; after the
    broker returns, a new worker finishes the stream exactly once."""
    print(await scenarios[SIGTERM])
