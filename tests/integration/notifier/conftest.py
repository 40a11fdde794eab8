"""A real Alertmanager, the ingress and worker fixtures, and a notifier running in-process.

Alertmanager is the Debian package's binary (``make tools`` installs it),
started once per session on a free loopback port with the repository's
deploy/alertmanager/alertmanager.yml and clustering disabled. A missing
binary fails the run: the end-to-end check is the point of these tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from processor.kafka import Publisher
from processor.notifier.runner import Notifier
from processor.retry import RetryPolicy
from processor.settings import Settings
from tests.factories import alert_record
from tests.integration.ingress.conftest import http, start_ingress  # noqa: F401
from tests.integration.worker.conftest import worker_settings  # noqa: F401
from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[3]
AM_CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
FAST = RetryPolicy(budget_s=5.0, base_s=0.05, cap_s=0.5)
"""Retries quick enough for tests, with the production algorithm."""


def _alertmanager_binary() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        if found := shutil.which(name):
            return found
    if Path("/usr/bin/prometheus-alertmanager").exists():
        return "/usr/bin/prometheus-alertmanager"
    pytest.fail(
        "Alertmanager is not installed (Debian package prometheus-alertmanager): run `make tools`",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real Alertmanager, ready (``/-/ready``), for the whole session."""
    binary = _alertmanager_binary()
    folder = tmp_path_factory.mktemp("alertmanager")
    port = free_port()
    log_path = folder / "alertmanager.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={AM_CONFIG}",
                f"--storage.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(
                    f"Alertmanager exited ({process.returncode}):\n{log_path.read_text()[-3000:]}",
                    pytrace=False,
                )
            try:
                if client.get(f"{url}/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    pytest.fail(f"Alertmanager not ready in 30 s:\n{log_path.read_text()[-3000:]}", pytrace=False)


async def am_alerts(url: str, **filters: str) -> list[dict[str, Any]]:
    """Alertmanager's alerts (API v2), optionally filtered by label equality."""
    params = httpx.QueryParams([("filter", f'{k}="{v}"') for k, v in filters.items()])
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{url}/api/v2/alerts", params=params)
    response.raise_for_status()
    alerts: list[dict[str, Any]] = response.json()
    return alerts


async def wait_for(check: Any, timeout_s: float = 30.0, interval_s: float = 0.1) -> Any:
    """Await ``check()`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s", pytrace=False)
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def running_notifier(
    settings: Settings, policy: RetryPolicy = FAST
) -> AsyncIterator[Notifier]:
    """A notifier running in this event loop (joined to its group) until the block ends."""
    notifier = Notifier(settings, policy)
    stop = asyncio.Event()
    task = asyncio.create_task(notifier.run(stop))

    async def joined() -> bool:
        if task.done():
            task.result()
        return notifier.joined

    try:
        await wait_for(joined, 30)
        yield notifier
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


async def publish_alerts(settings: Settings, records: list[dict[str, Any]]) -> None:
    """Write alert records to the alerts topic the way the worker does (key = callId)."""
    publisher = Publisher(settings, role="test")
    await publisher.start()
    try:
        for record in records:
            await publisher.publish(
                settings.topic_call_alerts, record["callId"].encode(), orjson.dumps(record)
            )
    finally:
        await publisher.stop()


def fresh_alert(code: str = "NETWORK_ERROR", **kw: Any) -> dict[str, Any]:
    """An alert record with a new alertId and callId, raised now."""
    return alert_record(
        uuid.uuid4().hex,
        f"c-{uuid.uuid4().hex[:8]}",
        (code,),
        at_ms=time.time_ns() // 1_000_000,
        **kw,
    )
