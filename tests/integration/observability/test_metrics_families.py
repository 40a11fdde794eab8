"""``processor ingress --ingress-workers 2`` (multiprocess metrics): only ingress families."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from processor.settings import Settings
from tests.support.servers import free_port


class TestMultiprocessIngressMetrics:
    async def test_two_process_ingress_exports_only_ingress_families(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        """A 2-process ingress's /metrics, merged over its processes, carries recho_ingress_*
        families and no worker or notifier family, not even as zeros."""
        port = free_port()
        env = {
            **os.environ,
            "PROCESSOR_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "PROCESSOR_TOPIC_WEBHOOKS": settings.topic_webhooks,
            "PROCESSOR_INGRESS_PORT": str(port),
            "PROCESSOR_INGRESS_WORKERS": "2",
        }
        with (tmp_path / "ingress.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "processor", "ingress"], env=env, stdout=log, stderr=log
            )
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                text = ""
                for _ in range(300):
                    try:
                        response = await http.get(f"http://127.0.0.1:{port}/metrics")
                        if "recho_ingress_requests_total" in response.text:
                            text = response.text
                            break
                        # /healthz counts a request, so the family has a sample to show
                        await http.get(f"http://127.0.0.1:{port}/healthz")
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
            assert text, (tmp_path / "ingress.log").read_text()[-2000:]
            names = {family.name for family in text_string_to_metric_families(text)}
            assert any(name.startswith("recho_ingress_") for name in names)
            assert {n for n in names if n.startswith(("recho_worker_", "recho_notifier_"))} == set()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
