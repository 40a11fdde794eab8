"""A body the topic can never hold gets 413, and never breaks the producer for other calls.

The webhooks topic is created with a small ``max.message.bytes`` so that
"near the limit" is cheap; the broker is the shared one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from processor.kafka import partition_for
from processor.kafka.admin import create_topics
from processor.settings import Settings
from tests.factories import make_envelope, to_bytes
from tests.integration.ingress.conftest import StartIngress, json_headers

PATH = "/webhooks/recho"
SMALL_TOPIC_BYTES = 16384


def _body(call_id: str, size: int = 0) -> bytes:
    payload = make_envelope(call_id=call_id)
    if size:
        payload["padding"] = ""
        payload["padding"] = "x" * (size - len(to_bytes(payload)))
    return to_bytes(payload)


def _same_partition_calls(prefix: str, partition: int, partitions: int, count: int) -> list[str]:
    calls: list[str] = []
    i = 0
    while len(calls) < count:
        call_id = f"{prefix}-{i}"
        if partition_for(call_id.encode(), partitions) == partition:
            calls.append(call_id)
        i += 1
    return calls


async def _create_webhooks_topic(settings: Settings, max_message_bytes: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    settings.topic_webhooks,
                    settings.topic_partitions,
                    1,
                    topic_configs={"max.message.bytes": str(max_message_bytes)},
                )
            ]
        )
    finally:
        await admin.close()
    await create_topics(settings)  # the others, and wait for leaders


async def _shrink_topic(settings: Settings, max_message_bytes: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        resource = ConfigResource(
            ConfigResourceType.TOPIC,
            settings.topic_webhooks,
            {"max.message.bytes": str(max_message_bytes)},
        )
        await admin.alter_configs([resource])
    finally:
        await admin.close()


class TestNearLimitBody:
    async def test_body_the_topic_cannot_hold_gets_413_and_its_partition_keeps_working(
        self,
        settings_factory: Callable[..., Settings],
        start_ingress: StartIngress,
        http: httpx.AsyncClient,
    ) -> None:
        """With a 16 KiB topic and a 1 MiB configured limit, the ingress lowers its body
        limit at start: a body just under the topic's size gets 413 (not a retryable 503),
        bodies just under the lowered limit are stored, and webhooks keyed to the same
        partition keep getting 202 afterwards; /readyz stays ready."""
        settings = settings_factory(ingress_max_body_bytes=1048576)
        await _create_webhooks_topic(settings, SMALL_TOPIC_BYTES)
        url = await start_ingress(settings)
        near = _body("near-limit", SMALL_TOPIC_BYTES - 200)
        rejected = await http.post(url + PATH, content=near, headers=json_headers())
        assert rejected.status_code == 413, rejected.text
        assert rejected.json()["error"] == "body_too_large"
        assert str(SMALL_TOPIC_BYTES - 1024) in rejected.json()["message"]
        partition = partition_for(b"near-limit", settings.topic_partitions)
        neighbours = _same_partition_calls("neighbour", partition, settings.topic_partitions, 10)
        for call_id in neighbours:
            response = await http.post(url + PATH, content=_body(call_id), headers=json_headers())
            assert response.status_code == 202, response.text
        fits = _body("fits", SMALL_TOPIC_BYTES - 1024)
        stored = await http.post(url + PATH, content=fits, headers=json_headers())
        assert stored.status_code == 202, stored.text
        assert (await http.get(url + "/readyz")).status_code == 200

    async def test_broker_refusal_answers_413_and_recovers_the_producer(
        self,
        settings_factory: Callable[..., Settings],
        start_ingress: StartIngress,
        http: httpx.AsyncClient,
    ) -> None:
        """When the topic's max.message.bytes shrinks while the ingress runs, the broker
        refuses a record the ingress thought would fit: that request gets 413, and the
        other webhooks of the same partition are stored (202) right after it, not 503
        until a restart."""
        settings = settings_factory()
        await _create_webhooks_topic(settings, 65536)
        url = await start_ingress(settings)
        await _shrink_topic(settings, 8192)
        big = _body("shrunk", 20000)
        partition = partition_for(b"shrunk", settings.topic_partitions)
        neighbours = _same_partition_calls("after", partition, settings.topic_partitions, 30)
        status = 0
        for _ in range(50):  # the config change reaches the partition leader quickly
            response = await http.post(url + PATH, content=big, headers=json_headers())
            status = response.status_code
            if status == 413:
                break
            assert status == 202, response.text
            await asyncio.sleep(0.1)
        assert status == 413
        statuses = []
        for call_id in neighbours:
            response = await http.post(url + PATH, content=_body(call_id), headers=json_headers())
            statuses.append(response.status_code)
        # The request already queued behind the refused one may fail (503, retried by
        # the platform); nothing after the producer was replaced does.
        assert statuses[-20:] == [202] * 20, statuses
        assert (await http.get(url + "/readyz")).status_code == 200
        again = await http.post(url + PATH, content=big, headers=json_headers())
        assert again.status_code == 413
