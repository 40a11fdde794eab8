"""Reconnect back-off is per broker address: node ids repeat across clusters (every
single-node cluster has a node 1), so one cluster's outage must not hold back a client of
another one in the same process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from processor import metrics
from processor.errors import KafkaUnavailableError
from processor.kafka import Publisher
from processor.kafka.admin import create_topics
from processor.settings import Settings
from tests.integration.conftest import kafka_sh, unique_topics


def connection_failures() -> float:
    """recho_kafka_connection_failures_total of this process."""
    value = metrics.INGRESS_REGISTRY.get_sample_value("recho_kafka_connection_failures_total")
    return value or 0.0


@pytest.mark.timeout(180)
async def test_an_outage_of_one_cluster_does_not_hold_back_another(
    stoppable_broker: dict[str, str], settings_factory: Callable[..., Settings]
) -> None:
    """A producer whose broker went away backs off its reconnects; meanwhile a client of
    another cluster (also node 1) in the same process works at once."""
    other = Settings(
        kafka_bootstrap_servers=stoppable_broker["bootstrap"], **unique_topics("conn-down")
    )
    await create_topics(other)
    publisher = Publisher(other)
    await publisher.start()
    try:
        await publisher.publish(other.topic_webhooks, b"k", b"{}")
        kafka_sh("down", env=stoppable_broker)
        before = connection_failures()
        for _ in range(3):  # keeps asking for the dead node, as an ingress under load does
            with pytest.raises(KafkaUnavailableError):
                await asyncio.wait_for(
                    publisher.publish(other.topic_webhooks, b"k", b"{}"), timeout=15
                )
        assert connection_failures() > before, "the dead node was never retried"
        healthy = settings_factory()
        # Within the dead node's back-off window: before the fix this raised NodeNotReadyError.
        await asyncio.wait_for(create_topics(healthy), timeout=20)
    finally:
        await publisher.stop()
