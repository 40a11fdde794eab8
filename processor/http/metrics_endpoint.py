"""``GET /metrics``: one component's metrics, merged over its processes in multiprocess mode."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client itself


class _OnlyFamilies(Collector):
    """The multiprocess families that ``registry`` declares, and no other.

    Every process imports all of processor/metrics.py, so the shared files also
    hold the other components' unlabelled metrics; they are not this one's.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._names = _family_names(registry)

    def collect(self) -> Iterable[Metric]:
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return [family for family in merged.collect() if family.name in self._names]


@functools.cache
def _family_names(registry: CollectorRegistry) -> frozenset[str]:
    return frozenset(family.name for family in registry.collect())


def render_metrics(registry: CollectorRegistry) -> tuple[bytes, bytes]:
    """The exposition of ``registry`` (a component's, from processor.metrics) and its type."""
    if os.environ.get(MULTIPROC_ENV):
        merged = CollectorRegistry(auto_describe=False)
        merged.register(_OnlyFamilies(registry))
        return generate_latest(merged), CONTENT_TYPE_LATEST.encode()
    return generate_latest(registry), CONTENT_TYPE_LATEST.encode()
