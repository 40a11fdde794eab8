"""A broker the fault tests may stop, kill and start again (the shared one stays up)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import kafka_sh
from tests.integration.ingress.conftest import free_port

REPO = Path(__file__).resolve().parents[3]


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


@pytest.fixture(scope="module")
def stoppable_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoppableBroker]:
    """A separate local broker for this module's fault scenarios."""
    home = tmp_path_factory.mktemp("kafka-faults")
    port, controller = free_port(), free_port()
    env = {
        "KAFKA_HOME": str(home),
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller),
        "KAFKA_HEAP": "512m",
    }
    lib = REPO / ".kafka" / "lib"
    if lib.exists():
        os.symlink(lib, home / "lib")  # reuse the resolved jars
    broker = StoppableBroker(env, f"127.0.0.1:{port}")
    broker.up()
    try:
        yield broker
    finally:
        kafka_sh("down", env=env)
