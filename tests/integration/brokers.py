"""Extra local Kafka for the secured and replicated-cluster tests, and processes on top.

Both come from deploy/kafka/kafka.sh (``KAFKA_MODE=secure`` / ``cluster``) in a
temporary KAFKA_HOME, on the ports the project reserves for them: the secured
node on 29092 (SASL_SSL), 29094 (mutual TLS) and 29093 (controller); the
cluster on 29192-29194 with controllers on 29292-29294. Each JVM gets 384 MiB of
heap. Under ``CI=true`` a broker that cannot start fails the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from processor.kafka.admin import partition_count
from processor.kafka.config import common_options
from processor.local.processes import settings_env
from processor.settings import Settings
from tests.integration.conftest import _no_broker, kafka_sh

HEAP = "384m"
SECURE_PORT, SECURE_CONTROLLER_PORT, SECURE_MTLS_PORT = 29092, 29093, 29094
CLUSTER_PORT, CLUSTER_CONTROLLER_PORT, CLUSTER_NODES = 29192, 29292, 3
DASH_CLUSTER_ID = "-sEcUrEdNoDeTeStId0123"
"""The secured node is formatted with an id that starts with "-" (kafka.sh must cope)."""


def start_kafka(mode: str, home: Path, **extra: str) -> dict[str, str]:
    """``kafka.sh up`` in ``mode`` with its home in ``home``; the environment to reuse."""
    lib = kafka_sh("jars")
    if lib.returncode != 0:
        _no_broker(f"kafka.sh jars failed:\n{lib.stderr[-2000:]}")
    env = {
        "KAFKA_MODE": mode,
        "KAFKA_HOME": str(home),
        "KAFKA_LIB": lib.stdout.strip(),
        "KAFKA_HEAP": HEAP,
        **extra,
    }
    result = kafka_sh("up", env=env)
    if result.returncode != 0:
        kafka_sh("down", env=env)
        _no_broker(f"kafka.sh up ({mode}) failed:\n{result.stderr[-4000:]}")
    return env


@dataclass(frozen=True)
class SecureNode:
    """The secured single node: where it listens and the client material kafka.sh made."""

    home: Path
    sasl_bootstrap: str = f"127.0.0.1:{SECURE_PORT}"
    mtls_bootstrap: str = f"127.0.0.1:{SECURE_MTLS_PORT}"

    @property
    def ca_file(self) -> Path:
        """The local CA that signed the broker and client certificates."""
        return self.home / "tls" / "ca.pem"

    @property
    def client_cert(self) -> Path:
        """Client certificate for the mutual-TLS listener."""
        return self.home / "tls" / "client.pem"

    @property
    def client_key(self) -> Path:
        """Its private key."""
        return self.home / "tls" / "client.key"

    @property
    def password_file(self) -> Path:
        """The SCRAM password of user ``recho``."""
        return self.home / "secrets" / "recho.password"

    @property
    def password(self) -> str:
        """The password itself (tests check that it never shows)."""
        return self.password_file.read_text().strip()

    def scram(self, mechanism: str = "SCRAM-SHA-512") -> dict[str, Any]:
        """Settings for SASL_SSL with ``mechanism`` as user recho (password from the file)."""
        return {
            "kafka_bootstrap_servers": self.sasl_bootstrap,
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": mechanism,
            "kafka_sasl_username": "recho",
            "kafka_sasl_password_file": self.password_file,
            "kafka_ssl_ca_file": self.ca_file,
        }

    def mtls(self) -> dict[str, Any]:
        """Settings for mutual TLS with the client certificate."""
        return {
            "kafka_bootstrap_servers": self.mtls_bootstrap,
            "kafka_security_protocol": "SSL",
            "kafka_ssl_ca_file": self.ca_file,
            "kafka_ssl_cert_file": self.client_cert,
            "kafka_ssl_key_file": self.client_key,
        }


@dataclass
class Cluster:
    """The three-node cluster; nodes are numbered 1-3 like their node.id."""

    env: dict[str, str]
    bootstrap: str = ",".join(f"127.0.0.1:{CLUSTER_PORT + i}" for i in range(CLUSTER_NODES))
    events: list[str] = field(default_factory=list)

    def kill(self, node: int) -> None:
        """SIGKILL one node (no controlled shutdown)."""
        self._run("node-kill", node)

    def stop(self, node: int) -> None:
        """SIGTERM one node and wait for it to exit (controlled shutdown)."""
        self._run("node-stop", node)

    def start(self, node: int) -> None:
        """Start one node again and wait until all three brokers are listed."""
        self._run("node-start", node)

    def _run(self, action: str, node: int) -> None:
        result = kafka_sh(action, str(node), env=self.env)
        assert result.returncode == 0, result.stderr[-3000:]
        self.events.append(f"{time.monotonic():.1f} {action} {node}")

    async def wait_fully_replicated(self, timeout_s: float = 90.0) -> None:
        """Until every partition of every topic (internal ones too) has its full ISR."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                described = await admin.describe_topics()
                lagging = [
                    (t["topic"], p["partition"])
                    for t in described
                    for p in t["partitions"]
                    if len(p["isr"]) < len(p["replicas"]) or p["leader"] < 0
                ]
                if not lagging:
                    return
                assert time.monotonic() < deadline, f"still under-replicated: {lagging[:5]}"
                await asyncio.sleep(0.5)
        finally:
            await admin.close()

    async def leader_of(self, topic: str, partition: int) -> int:
        """The node id leading ``topic``/``partition`` now."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            (described,) = await admin.describe_topics([topic])
            return next(
                int(p["leader"]) for p in described["partitions"] if p["partition"] == partition
            )
        finally:
            await admin.close()

    async def transaction_coordinator(self, transactional_id: str) -> int:
        """The node id coordinating ``transactional_id``'s transactions."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            return int(await admin.find_coordinator(transactional_id, coordinator_type=1))
        finally:
            await admin.close()


async def read_committed(
    settings: Settings, topic: str, count: int, timeout_s: float = 30.0
) -> list[Any]:
    """Read ``topic`` from the beginning with the project's client options (security
    included) and read_committed, until ``count`` records or the timeout."""
    consumer = AIOKafkaConsumer(
        **common_options(settings, "test-reader"),
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = await partition_count(settings, topic)
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while len(records) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def clean_env(settings: Settings) -> dict[str, str]:
    """This environment without any PROCESSOR_* variable, plus ``settings`` as variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCESSOR_")}
    return {**env, **settings_env(settings), "PROCESSOR_LOG_JSON": "true"}


@dataclass
class Processes:
    """``processor`` subcommands running as child processes, each logging to a file."""

    folder: Path
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, settings: Settings, *args: str) -> None:
        """Start ``processor <args>`` with ``settings`` as its environment."""
        log = (self.folder / f"{name}.log").open("wb")
        self.children[name] = subprocess.Popen(
            [sys.executable, "-m", "processor", *args],
            env=clean_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def log(self, name: str) -> str:
        """Everything a child wrote so far."""
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def assert_running(self, name: str) -> None:
        """Fail with the child's log if it exited."""
        code = self.children[name].poll()
        assert code is None, f"{name} exited {code}:\n{self.log(name)[-3000:]}"

    def stop_all(self) -> None:
        """SIGTERM every child, then SIGKILL what is still alive after 30 s."""
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children.values():
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


@contextlib.contextmanager
def processes(folder: Path) -> Iterator[Processes]:
    """Child processes that are stopped when the block ends."""
    running = Processes(folder)
    try:
        yield running
    finally:
        running.stop_all()


async def wait_http_ok(url: str, timeout_s: float = 60.0, **client: Any) -> None:
    """Until GET ``url`` answers 200."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(**client) as http:
        while True:
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{url} never answered 200"
            await asyncio.sleep(0.1)
