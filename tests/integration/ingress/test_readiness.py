"""/readyz follows whether writes to Kafka succeed, on a broker this test stops."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from processor.kafka.admin import create_topics
from processor.settings import Settings
from tests.factories import make_envelope_bytes
from tests.integration.conftest import kafka_sh
from tests.integration.ingress.conftest import StartIngress, json_headers

PATH = "/webhooks/recho"


async def _ready_within(client: httpx.AsyncClient, url: str, want: bool, limit_s: float) -> float:
    """Seconds until /readyz answers ``want``; fails the test after ``limit_s``."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if ((await client.get(url + "/readyz")).status_code == 200) is want:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise AssertionError(f"/readyz did not become {'ready' if want else 'unready'}")


class TestReadiness:
    async def test_readyz_follows_kafka_writes(
        self,
        settings_factory: Callable[..., Settings],
        stoppable_broker: dict[str, str],
        start_ingress: StartIngress,
    ) -> None:
        """Broker stopped under traffic: /readyz turns 503 within a few seconds of the
        writes failing; broker back and no traffic: /readyz turns 200 again, and
        webhooks are stored."""
        settings = settings_factory(
            kafka_bootstrap_servers=stoppable_broker["bootstrap"],
            producer_request_timeout_ms=1500,
        )
        await create_topics(settings)
        url = await start_ingress(settings)
        async with httpx.AsyncClient(timeout=30) as client:
            ok = await client.post(
                url + PATH, content=make_envelope_bytes(), headers=json_headers()
            )
            assert ok.status_code == 202
            assert kafka_sh("down", env=stoppable_broker).returncode == 0
            failing = [
                client.post(url + PATH, content=make_envelope_bytes(), headers=json_headers())
                for _ in range(5)
            ]
            waited = await asyncio.gather(
                _ready_within(client, url, want=False, limit_s=8), *failing
            )
            assert waited[0] < 8
            assert {r.status_code for r in waited[1:]} == {503}
            assert kafka_sh("up", env=stoppable_broker).returncode == 0
            await _ready_within(client, url, want=True, limit_s=30)
            for _ in range(20):
                response = await client.post(
                    url + PATH, content=make_envelope_bytes(), headers=json_headers()
                )
                if response.status_code == 202:
                    break
                await asyncio.sleep(0.5)
            assert response.status_code == 202, response.text
