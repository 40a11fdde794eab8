"""Client options shared by every aiokafka client the boundary builds."""

from __future__ import annotations

from typing import Any

from processor.settings import Settings


def common_options(settings: Settings, role: str) -> dict[str, Any]:
    """bootstrap servers and a client id naming the role (ingress, worker, ...)."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": f"{settings.kafka_client_id}-{role}",
    }
