"""The 3-node KRaft cluster, signed webhook traffic, and what the answers add up to."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from processor.kafka import partition_for
from processor.kafka.admin import create_topics
from processor.settings import AuthMode, Settings
from processor.simulate.signer import Signer, generate_key_pair
from tests.factories import make_envelope, to_bytes
from tests.integration.brokers import (
    CLUSTER_CONTROLLER_PORT,
    CLUSTER_PORT,
    Cluster,
    Processes,
    start_kafka,
)
from tests.integration.conftest import kafka_sh, unique_topics
from tests.support.servers import free_port

OUTBOUND = ["PENDING", "REQUESTED", "CALLING", "CLOSING", "COMPLETED"]


@pytest.fixture(scope="package")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """kafka.sh's three-node cluster, started for this package's tests and stopped after them
    (three idle JVMs would otherwise take CPU from the rest of the suite)."""
    home = tmp_path_factory.mktemp("kafka-cluster")
    env = start_kafka(
        "cluster",
        home,
        KAFKA_PORT=str(CLUSTER_PORT),
        KAFKA_CONTROLLER_PORT=str(CLUSTER_CONTROLLER_PORT),
    )
    try:
        yield Cluster(env)
    finally:
        kafka_sh("down", env=env)


@pytest.fixture
async def cluster_settings(kafka_cluster: Cluster, tmp_path: Path) -> Settings:
    """Production-like settings on the cluster: RF 3, min.insync.replicas 2 (the
    default for RF 3), RSA-signed webhooks; this test's topics created, and every
    partition of the cluster fully replicated before the test starts."""
    await kafka_cluster.wait_fully_replicated()
    prefix = f"c{uuid.uuid4().hex[:10]}"
    _, public = generate_key_pair(tmp_path / "keys")
    settings = Settings(
        kafka_bootstrap_servers=kafka_cluster.bootstrap,
        topic_replication_factor=3,
        topic_partitions=3,
        worker_group_id=f"{prefix}-worker",
        worker_transactional_id_prefix=f"{prefix}-worker",
        worker_batch_max_ms=50,
        worker_metrics_port=free_port(),
        ingress_port=free_port(),
        auth_mode=AuthMode.SIGNATURE_RSA_SHA256,
        auth_public_keys_dir=public.parent,
        simulate_key_dir=tmp_path / "keys",
        **unique_topics(prefix),
    )
    await create_topics(settings)
    return settings


@dataclass(frozen=True, slots=True)
class Answer:
    """One webhook and what the ingress said."""

    call_id: str
    body: bytes
    sent_at: float
    answered_at: float
    status: int
    """HTTP status, or 0 when the request itself failed."""


@dataclass
class SignedTraffic:
    """Steady RSA-signed webhooks from ``clients`` senders, each walking calls through
    their lifecycle; no retries, so every body is sent exactly once."""

    settings: Settings
    clients: int = 4
    pause_s: float = 0.04
    answers: list[Answer] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self, tag: str) -> None:
        """Begin sending."""
        key_dir = self.settings.simulate_key_dir
        assert key_dir is not None
        signer = Signer.from_pem_file(key_dir / "recho-dev.key")
        self._tasks = [
            asyncio.create_task(self._client(f"{tag}-{n}", signer)) for n in range(self.clients)
        ]

    async def stop(self) -> list[Answer]:
        """Stop sending; every answer so far."""
        self._stop.set()
        await asyncio.gather(*self._tasks)
        return self.answers

    async def _client(self, name: str, signer: Signer) -> None:
        url = f"http://127.0.0.1:{self.settings.ingress_port}{self.settings.ingress_path}"
        call = 0
        async with httpx.AsyncClient(timeout=30) as http:
            while not self._stop.is_set():
                call_id = f"{name}-{call}"
                call += 1
                for status in OUTBOUND:
                    if self._stop.is_set():
                        return
                    payload = make_envelope(event_type=f"OUTBOUND_CALL_{status}", call_id=call_id)
                    body = to_bytes(payload)
                    headers = {
                        "content-type": "application/json",
                        **signer.sign(body, int(time.time())),
                    }
                    sent = time.monotonic()
                    try:
                        answer = (await http.post(url, content=body, headers=headers)).status_code
                    except httpx.TransportError:
                        answer = 0
                    self.answers.append(Answer(call_id, body, sent, time.monotonic(), answer))
                    await asyncio.sleep(self.pause_s)


@dataclass(frozen=True, slots=True)
class Windows:
    """How long webhooks were refused: per partition, the longest run of consecutive
    503s, from the first one's send to the last one's answer."""

    longest_s: float
    refused: int
    accepted: int
    longest_gap_s: float
    """Per partition, the longest time between two consecutive 2xx answers: how long
    the platform saw no webhook of that partition acknowledged."""

    def __str__(self) -> str:
        return (
            f"accepted={self.accepted} refused(503)={self.refused} "
            f"longest_503_window={self.longest_s:.1f}s "
            f"longest_gap_between_2xx={self.longest_gap_s:.1f}s"
        )


def refusal_windows(answers: list[Answer], partitions: int) -> Windows:
    """The longest stretch during which one partition's webhooks were answered 503."""
    by_partition: dict[int, list[Answer]] = defaultdict(list)
    for answer in sorted(answers, key=lambda a: a.sent_at):
        by_partition[partition_for(answer.call_id.encode(), partitions)].append(answer)
    longest = gap = 0.0
    for series in by_partition.values():
        acked = sorted(a.answered_at for a in series if 200 <= a.status < 300)
        gap = max([gap, *(b - a for a, b in itertools.pairwise(acked))])
        run: list[Answer] = []
        for answer in [*series, None]:
            if answer is not None and answer.status == 503:
                run.append(answer)
                continue
            if run:
                longest = max(longest, max(a.answered_at for a in run) - run[0].sent_at)
            run = []
    return Windows(
        longest,
        sum(1 for a in answers if a.status == 503),
        sum(1 for a in answers if 200 <= a.status < 300),
        gap,
    )


@dataclass
class Supervisor:
    """Keeps ``processor worker`` running like a process supervisor would, counting
    restarts (a worker may exit on a fatal Kafka error and be restarted)."""

    processes: Processes
    settings: Settings
    restarts: int = 0
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Supervisor:
        self.processes.start("worker", self.settings, "worker")
        self._task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if self.processes.children["worker"].poll() is not None:
                self.restarts += 1
                self.processes.start(f"worker-{self.restarts}", self.settings, "worker")
                self.processes.children["worker"] = self.processes.children.pop(
                    f"worker-{self.restarts}"
                )


@pytest.fixture
async def traffic(cluster_settings: Settings) -> AsyncIterator[SignedTraffic]:
    """Signed traffic for the test's ingress (stopped at the end if still running)."""
    generator = SignedTraffic(cluster_settings)
    yield generator
    await generator.stop()


def statuses(answers: list[Answer]) -> dict[int, int]:
    """How many answers of each status."""
    counts: dict[int, int] = defaultdict(int)
    for answer in answers:
        counts[answer.status] += 1
    return dict(counts)


def report(name: str, **figures: Any) -> None:
    """Print measured figures (shown with -s or -rA) for the README's failover table."""
    print(f"\nFAILOVER {name}: " + "  ".join(f"{k}={v}" for k, v in figures.items()))
