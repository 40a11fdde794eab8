"""Client options shared by every aiokafka client the boundary builds."""

from __future__ import annotations

from typing import Any

from processor.kafka.security import security_options
from processor.settings import Settings


def common_options(settings: Settings, role: str) -> dict[str, Any]:
    """bootstrap servers, a client id naming the role (ingress, worker, ...) and
    the security options (TLS context, SASL) of processor/kafka/security.py."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": f"{settings.kafka_client_id}-{role}",
        **security_options(settings),
    }
