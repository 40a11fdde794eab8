"""A real Kafka broker for the integration tests, and factories on top of it.

The broker comes from, in this order: ``KAFKA_BOOTSTRAP_SERVERS`` if set; an
``apache/kafka`` container when a Docker engine answers; the local broker of
deploy/kafka (started here and stopped at the end if this session started it).
Under ``CI=true`` a broker that cannot start fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from processor.kafka.admin import create_topics, partition_count, probe
from processor.settings import Settings

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
KAFKA_IMAGE = "apache/kafka:4.1.1"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _no_broker(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"Kafka broker unavailable under CI: {reason}", pytrace=False)
    pytest.skip(f"Kafka broker unavailable: {reason}")


def _docker_answers() -> bool:
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _broker_ready(bootstrap: str) -> bool:
    try:
        asyncio.run(probe(bootstrap, 5))
    except Exception:
        return False
    return True


def kafka_sh(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run deploy/kafka/kafka.sh with this interpreter as the probe's Python."""
    full_env = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    return subprocess.run(
        ["bash", str(KAFKA_SH), *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a running, ready Kafka broker."""
    if env := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        if not _broker_ready(env):
            _no_broker(f"KAFKA_BOOTSTRAP_SERVERS={env} does not answer")
        yield env
        return
    if _docker_answers():
        from testcontainers.core.container import DockerContainer

        container = DockerContainer(KAFKA_IMAGE).with_bind_ports(9092, 9092)
        with container:
            bootstrap = "localhost:9092"
            for _ in range(120):
                if _broker_ready(bootstrap):
                    break
            else:
                _no_broker("the apache/kafka container never became ready")
            yield bootstrap
        return
    bootstrap = f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"  # kafka.sh reads it too
    started_here = not _broker_ready(bootstrap)
    if started_here:
        result = kafka_sh("up")
        if result.returncode != 0:
            _no_broker(f"deploy/kafka/kafka.sh up failed:\n{result.stderr[-4000:]}")
    try:
        yield bootstrap
    finally:
        if started_here:
            kafka_sh("down")


def unique_topics(prefix: str) -> dict[str, str]:
    """Every topic setting, named with ``prefix`` so tests never share a topic."""
    return {
        name: f"{prefix}.{field.default}"
        for name, field in Settings.model_fields.items()
        if name.startswith("topic_") and isinstance(field.default, str)
    }


@pytest.fixture
def settings_factory(kafka_bootstrap: str) -> Callable[..., Settings]:
    """Settings on the test broker with topic names unique to this test."""
    prefix = f"t{uuid.uuid4().hex[:10]}"

    def make(**overrides: Any) -> Settings:
        topics = unique_topics(prefix)
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": kafka_bootstrap,
            "topic_partitions": 3,
            "worker_group_id": f"{prefix}-worker",
            "worker_transactional_id_prefix": f"{prefix}-worker",
            "notifier_group_id": f"{prefix}-notifier",
            **topics,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
async def settings(settings_factory: Callable[..., Settings]) -> Settings:
    """Settings with this test's topics created on the broker."""
    made = settings_factory()
    await create_topics(made)
    return made


ReadTopic = Callable[..., Awaitable[list[Any]]]


async def read_records(
    bootstrap: str, topic: str, count: int, timeout_s: float = 30.0
) -> list[Any]:
    """Read a topic from the beginning (read_committed) until ``count`` records or timeout."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = await partition_count(Settings(kafka_bootstrap_servers=bootstrap), topic)
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        records: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(records) < count and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


@pytest.fixture
def read_topic(kafka_bootstrap: str) -> ReadTopic:
    """Read a topic of the test broker: ``await read_topic(topic, count, timeout_s)``."""

    async def read(topic: str, count: int, timeout_s: float = 30.0) -> list[Any]:
        return await read_records(kafka_bootstrap, topic, count, timeout_s)

    return read


def _free_port_in_range(low: int = 59000, high: int = 59999) -> int:
    """A free TCP port in this suite's range for stoppable brokers."""
    for _ in range(200):
        port = random.randint(low, high)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in range")


@pytest.fixture
def stoppable_broker(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A broker of its own (KAFKA_HOME under /tmp, ports 59000-59999) the test may stop."""
    home = tmp_path / "kafka"
    home.mkdir()
    lib = Path(__file__).resolve().parents[3] / ".kafka" / "lib"
    if lib.exists():
        os.symlink(lib, home / "lib")  # reuse the resolved jars
    env = {
        "KAFKA_HOME": str(home),
        "KAFKA_PORT": str(_free_port_in_range()),
        "KAFKA_CONTROLLER_PORT": str(_free_port_in_range()),
        "KAFKA_HEAP": "512m",
    }
    result = kafka_sh("up", env=env)
    assert result.returncode == 0, result.stderr
    yield {**env, "bootstrap": f"127.0.0.1:{env['KAFKA_PORT']}"}
    kafka_sh("down", env=env)
