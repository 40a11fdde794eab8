"""Brokers the fault tests may stop, kill and start again (the shared one stays up).

Each scenario gets a broker of its own, so scenarios can run at the same time:
one broker's outage is then invisible to the others.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import kafka_sh
from tests.support.servers import free_port


@dataclass
class StoppableBroker:
    """A local single-node broker driven through deploy/kafka/kafka.sh."""

    env: dict[str, str]
    bootstrap: str

    def up(self) -> None:
        """Start the broker and wait until it answers metadata requests."""
        result = kafka_sh("up", env=self.env)
        assert result.returncode == 0, result.stderr[-4000:]

    def stop(self) -> None:
        """Graceful stop: SIGTERM (controlled shutdown), wait for the process to exit."""
        result = kafka_sh("down", env=self.env)
        assert result.returncode == 0, result.stderr[-4000:]

    def kill(self) -> None:
        """kill -9 the broker process."""
        pidfile = Path(self.env["KAFKA_HOME"]) / "kafka.pid"
        pid = int(pidfile.read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        pidfile.unlink(missing_ok=True)


StartBrokers = Callable[[int], list[StoppableBroker]]


def _new_broker(home: Path, lib: str) -> StoppableBroker:
    port, controller = free_port(), free_port()
    env = {
        "KAFKA_HOME": str(home),
        "KAFKA_LIB": lib,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller),
        "KAFKA_HEAP": "512m",
    }
    return StoppableBroker(env, f"127.0.0.1:{port}")


@pytest.fixture(scope="module")
def stoppable_brokers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartBrokers]:
    """Start ``n`` separate local brokers at once (JVM start-ups overlap); all are stopped
    at the end of the module."""
    started: list[StoppableBroker] = []

    def start(n: int) -> list[StoppableBroker]:
        jars = kafka_sh("jars")  # resolved once, shared by every broker
        assert jars.returncode == 0, jars.stderr[-2000:]
        lib = jars.stdout.strip()
        brokers = [_new_broker(tmp_path_factory.mktemp("kafka-faults"), lib) for _ in range(n)]
        started.extend(brokers)
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(StoppableBroker.up, brokers))
        return brokers

    yield start
    with ThreadPoolExecutor(max(len(started), 1)) as pool:
        list(pool.map(lambda b: kafka_sh("down", env=b.env), started))
