"""``GET /metrics``: this process's metrics, or all worker processes' in multiprocess mode."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client itself


def render_metrics() -> tuple[bytes, bytes]:
    """The exposition body and its content type."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST.encode()
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST.encode()
