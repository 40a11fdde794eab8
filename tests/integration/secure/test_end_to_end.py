"""Every component against a secured broker: SASL_SSL with SCRAM, and mutual TLS.

Ingress, worker and notifier run as ``processor`` child processes configured only
through ``PROCESSOR_*`` variables, as in production; ``topics``, ``replay`` and the
readiness probe run as commands; the live view's reader (``tail``) runs in-process.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from processor.kafka.tail import tail
from processor.local.processes import settings_env
from processor.settings import Settings
from tests.factories import make_envelope, make_error, to_bytes
from tests.integration.brokers import (
    SecureNode,
    clean_env,
    processes,
    read_committed,
    wait_http_ok,
)
from tests.integration.ingress.conftest import json_headers
from tests.support.servers import RecordingServer, free_port

pytestmark = pytest.mark.secure

OUTBOUND = ["PENDING", "REQUESTED", "CALLING", "CLOSING", "COMPLETED"]
FLAVOURS: dict[str, Callable[[SecureNode], dict[str, Any]]] = {
    "sasl_ssl-scram-sha-512": lambda node: node.scram("SCRAM-SHA-512"),
    "mtls": lambda node: node.mtls(),
}


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """``processor <args>`` with ``settings`` as its only configuration."""
    return subprocess.run(
        [sys.executable, "-m", "processor", *args],
        env=clean_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_probe(settings: Settings) -> subprocess.CompletedProcess[str]:
    """kafka.sh's readiness probe with ``settings`` as its configuration."""
    return subprocess.run(
        [sys.executable, "-m", "processor.kafka.probe"],
        env=clean_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def lifecycle(call_id: str, errored_status: str | None = None) -> list[bytes]:
    """One outbound call's webhooks, an error on ``errored_status`` if given."""
    bodies = []
    for status in OUTBOUND:
        errors = [make_error()] if status == errored_status else []
        payload = make_envelope(
            event_type=f"OUTBOUND_CALL_{status}", call_id=call_id, errors=errors
        )
        bodies.append(to_bytes(payload))
    return bodies


def secret_of(flavour: str, node: SecureNode) -> str:
    """What must never show in a log or a /metrics page for this flavour."""
    if flavour == "mtls":
        return node.client_key.read_text().splitlines()[1]  # a line of the key material
    return node.password


class TestPipeline:
    @pytest.mark.parametrize("flavour", FLAVOURS)
    async def test_webhooks_in_outputs_out_alerts_delivered(
        self,
        flavour: str,
        secure_node: SecureNode,
        secure_settings: Callable[..., Settings],
        tmp_path: Path,
    ) -> None:
        """Over SASL_SSL (SCRAM-SHA-512) and over mutual TLS: topics are created, webhooks
        posted to the ingress come out of the worker as events and states exactly once,
        the errored one reaches the notifier's webhook sink, the live view follows new
        events, replay and the probe connect; no password or key shows in any log or
        /metrics page."""
        sink = RecordingServer()
        await sink.start()
        ingress_port = free_port()
        s = secure_settings(
            FLAVOURS[flavour](secure_node),
            ingress_port=ingress_port,
            worker_metrics_port=free_port(),
            notifier_metrics_port=free_port(),
            notifier_webhook_url=f"{sink.url}/alerts",
            notifier_group_window_s=0,
            worker_batch_max_ms=50,
        )
        created = await asyncio.to_thread(run_cli, s, "topics", "create")
        assert created.returncode == 0, created.stderr
        assert "min.insync.replicas=1" in created.stdout
        url = f"http://127.0.0.1:{ingress_port}"
        try:
            with processes(tmp_path) as procs:
                for name in ("ingress", "worker", "notifier"):
                    procs.start(name, s, name)
                await wait_http_ok(f"{url}/readyz")
                bodies = lifecycle("sec-1") + lifecycle("sec-2", errored_status="CALLING")
                async with httpx.AsyncClient(timeout=30) as http:
                    for body in bodies:
                        response = await http.post(
                            f"{url}{s.ingress_path}", content=body, headers=json_headers()
                        )
                        assert response.status_code == 202, response.text
                    events = await read_committed(s, s.topic_call_events, len(bodies), 60)
                    for name in ("worker", "notifier"):
                        procs.assert_running(name)
                    assert len(events) == len(bodies)
                    sources = {
                        (e.partition, orjson.loads(e.value)["source"]["offset"]) for e in events
                    }
                    assert len(sources) == len(bodies)
                    for _ in range(300):
                        if sink.bodies("/alerts"):
                            break
                        await asyncio.sleep(0.1)
                    assert sink.bodies("/alerts"), procs.log("notifier")[-3000:]
                    assert "sec-2" in orjson.dumps(sink.bodies("/alerts")).decode()

                    followed = await self._live_view_follows(s, http, url)
                    assert followed.key == b"sec-live"

                    pages = [
                        (await http.get(f"{url}/metrics")).text,
                        (await http.get(f"http://127.0.0.1:{s.worker_metrics_port}/metrics")).text,
                        (
                            await http.get(f"http://127.0.0.1:{s.notifier_metrics_port}/metrics")
                        ).text,
                    ]
                replayed = await asyncio.to_thread(run_cli, s, "replay", "--from-dlq", "--dry-run")
                assert replayed.returncode == 0, replayed.stderr
                assert "scanned 0 dead letters" in replayed.stdout
                probe = await asyncio.to_thread(run_probe, s)
                assert probe.returncode == 0, probe.stderr
                logs = [procs.log(name) for name in ("ingress", "worker", "notifier")]
        finally:
            await sink.stop()
        secret = secret_of(flavour, secure_node)
        outputs = [*pages, *logs, created.stdout, created.stderr, replayed.stderr, probe.stderr]
        assert not [text for text in outputs if secret in text]

    @staticmethod
    async def _live_view_follows(settings: Settings, http: httpx.AsyncClient, url: str) -> Any:
        """The first new event the live view's reader sees after it started."""

        async def first() -> Any:
            async for record in tail(settings, settings.topic_call_events, role="test-view"):
                return record
            return None

        task = asyncio.create_task(first())
        body = to_bytes(make_envelope(event_type="OUTBOUND_CALL_PENDING", call_id="sec-live"))
        for _ in range(60):  # until the reader, positioned at the end, sees a new one
            await http.post(f"{url}{settings.ingress_path}", content=body, headers=json_headers())
            done, _ = await asyncio.wait({task}, timeout=1.0)
            if done:
                return task.result()
        task.cancel()
        raise AssertionError("the live view never saw a new event")


class TestMechanisms:
    @pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
    def test_each_sasl_mechanism_creates_topics(
        self,
        mechanism: str,
        secure_node: SecureNode,
        secure_settings: Callable[..., Settings],
    ) -> None:
        """SASL_SSL with PLAIN (Confluent Cloud style), SCRAM-SHA-256 and SCRAM-SHA-512,
        the password given directly: `processor topics create` succeeds and prints every
        topic's effective configuration."""
        security = {
            **secure_node.scram(mechanism),
            "kafka_sasl_password_file": None,
            "kafka_sasl_password": secure_node.password,
        }
        s = secure_settings(security)
        assert "PROCESSOR_KAFKA_SASL_PASSWORD" in settings_env(s)
        result = run_cli(s, "topics", "create")
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("partitions=3  replication=1  min.insync.replicas=1") == 6
