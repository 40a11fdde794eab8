"""Each process's /metrics: its own component's families and the process's, nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from processor import metrics
from processor.http.ops import OpsApp
from processor.ingress.server import create_app
from processor.settings import Settings
from tests.support.asgi import get

COMPONENTS = ("ingress", "worker", "notifier", "explorer")


async def scrape(app: Any) -> set[str]:
    """The family names ``GET /metrics`` of ``app`` answers with."""
    _, body = await get(app, "/metrics")
    return {family.name for family in text_string_to_metric_families(body.decode())}


def app_of(component: str) -> Any:
    """The ASGI app that serves ``component``'s /metrics in its process."""
    if component == "ingress":
        return create_app(Settings())
    if component == "explorer":
        from processor.explorer.api import ExplorerApp
        from processor.explorer.backends import open_store

        return ExplorerApp(Settings(), open_store(Settings()), lambda: True)  # store unopened
    registry = metrics.WORKER_REGISTRY if component == "worker" else metrics.NOTIFIER_REGISTRY
    return OpsApp(lambda: True, registry)


class TestMetricsEndpoint:
    @pytest.mark.parametrize("component", COMPONENTS)
    async def test_exports_only_its_own_families(self, component: str) -> None:
        """An ingress exports no recho_worker_* or recho_notifier_* family (and so on), so a
        dead worker is absent from Prometheus instead of exported as zeros by the ingress."""
        names = await scrape(app_of(component))
        recho = {n for n in names if n.startswith("recho_")}
        assert recho, f"{component} exports none of its own families"
        foreign = {n for n in recho if not n.startswith((f"recho_{component}_", "recho_kafka_"))}
        assert foreign == set()

    @pytest.mark.parametrize("component", COMPONENTS)
    async def test_exports_process_and_runtime_families(self, component: str) -> None:
        """Every process still exports process_* and python_* (CPU, memory, GC)."""
        names = await scrape(app_of(component))
        assert "process_cpu_seconds" in names
        assert "python_info" in names

    async def test_every_declared_metric_belongs_to_one_component(self) -> None:
        """Together, the four endpoints export every family processor/metrics.py declares."""
        exported: set[str] = set()
        for component in COMPONENTS:
            exported |= await scrape(app_of(component))
        declared = {
            family.name
            for collector in vars(metrics).values()
            if isinstance(collector, Counter | Gauge | Histogram)
            for family in collector.describe()
        }
        assert declared <= exported
