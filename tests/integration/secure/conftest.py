"""A secured single-node Kafka (SASL_SSL with SCRAM users, mutual TLS) for this folder."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from processor.settings import Settings
from tests.integration.brokers import (
    DASH_CLUSTER_ID,
    SECURE_CONTROLLER_PORT,
    SECURE_MTLS_PORT,
    SECURE_PORT,
    SecureNode,
    start_kafka,
)
from tests.integration.conftest import kafka_sh, unique_topics


@pytest.fixture(scope="package")
def secure_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureNode]:
    """kafka.sh's secured node, started for this package's tests and stopped after them."""
    home = tmp_path_factory.mktemp("kafka-secure")
    env = start_kafka(
        "secure",
        home,
        KAFKA_PORT=str(SECURE_PORT),
        KAFKA_CONTROLLER_PORT=str(SECURE_CONTROLLER_PORT),
        KAFKA_MTLS_PORT=str(SECURE_MTLS_PORT),
        KAFKA_CLUSTER_ID=DASH_CLUSTER_ID,
    )
    try:
        yield SecureNode(home)
    finally:
        kafka_sh("down", env=env)


@pytest.fixture
def secure_settings(secure_node: SecureNode) -> Callable[..., Settings]:
    """Settings for the secured node, with topic names unique to this test."""
    prefix = f"s{uuid.uuid4().hex[:10]}"

    def make(security: dict[str, Any], **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            **security,
            **unique_topics(prefix),
            "topic_partitions": 3,
            "worker_group_id": f"{prefix}-worker",
            "worker_transactional_id_prefix": f"{prefix}-worker",
            "notifier_group_id": f"{prefix}-notifier",
            **overrides,
        }
        return Settings(**values)

    return make
