"""A real Prometheus scraping the whole pipeline while the simulator feeds it.

One run per module (:func:`observed`): simulator -> ingress (BEARER) -> Kafka -> worker
-> alerts topic -> notifier -> a recording webhook, and the explorer over the outputs (with
an operator's few queries), all in this event loop. As in production, each component
serves its own registry: the ingress and the explorer on their ports, the worker and the
notifier on ops endpoints of their own; Prometheus scrapes them under the job names of
deploy/prometheus/prometheus.yml (``recho-ingress``, ``recho-worker``, ``recho-notifier``,
``recho-explorer``), which the rules ask ``up`` about.

Beside the simulated calls, a noise task sends what healthy traffic never does, so
that the error panels have data too: a wrong bearer token (401), an oversized body
(413), and a non-JSON record written straight to the webhooks topic (a dead letter).

The rules are deploy/prometheus/rules/recho.rules.yml with one change: every ``for:``
is 0s, so an alert fires on the first evaluation where its expression holds rather
than after 5-10 minutes. Expressions, labels and annotations are the project's own.

The run settles once the worker has committed every input record, the notifier has
delivered every alert, and Prometheus has scraped after that. ``observed.at`` is that
moment; the tests evaluate every query at it, so the [1m] windows of the dashboard
stay on the traffic however long the tests take.

Prometheus is the Debian package's binary (``make tools`` installs it); a missing
binary fails the run, since the real server is the point of these tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
import uvicorn
import yaml
from prometheus_client import CollectorRegistry

from processor import metrics
from processor.http.ops import EmbeddedServer, OpsServer
from processor.ingress.server import create_app
from processor.kafka import Publisher
from processor.kafka.admin import create_topics
from processor.settings import AuthMode, Settings
from processor.simulate import SimulationReport, simulate
from tests.factories import make_envelope_bytes
from tests.integration.conftest import unique_topics
from tests.integration.explorer.conftest import running_explorer
from tests.integration.notifier.conftest import running_notifier
from tests.integration.worker.conftest import RECEIVED_AT, running_worker
from tests.support.servers import RecordingServer, free_port

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "deploy" / "prometheus" / "rules" / "recho.rules.yml"
JOB = "recho-ingress"
"""The ingress's job name in deploy/prometheus/prometheus.yml."""
JOBS = ("recho-ingress", "recho-worker", "recho-notifier", "recho-explorer")
"""Every job of deploy/prometheus/prometheus.yml the pipeline serves."""
SCRAPE_INTERVAL_S = 1
BEARER_TOKEN = "e2e-observability-token"
MAX_BODY_BYTES = 65536
MIX = "outbound_error=70,completed_with_errors=10,completed=10,inbound_completed=10"
"""Error-heavy, so RechoCallErrorRateHigh (one code above 5 % of events) must fire;
outbound and inbound calls that connect, so time-to-answer has both directions."""
TRAFFIC_S = 10.0
NOISE_INTERVAL_S = 0.5
SETTLE_TIMEOUT_S = 60.0


# --- Prometheus ------------------------------------------------------------------


def prometheus_binary() -> str:
    """The Prometheus server binary; fails (never skips) when it is not installed."""
    found = shutil.which("prometheus")
    if found is None and Path("/usr/bin/prometheus").exists():
        found = "/usr/bin/prometheus"
    if found is None:
        pytest.fail(
            "prometheus is not installed: run `make tools` (deploy/tools/install-tools.sh), "
            "which installs the Debian package prometheus",
            pytrace=False,
        )
    return found


def write_fast_rules(folder: Path) -> Path:
    """The project's rules with every ``for:`` set to 0s, and nothing else changed."""
    document = yaml.safe_load(RULES.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "0s"
    path = folder / "recho.rules.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def write_config(folder: Path, targets: dict[str, str]) -> Path:
    """A config scraping ``targets`` (job -> host:port) every second with the fast rules."""
    config = {
        "global": {
            "scrape_interval": f"{SCRAPE_INTERVAL_S}s",
            "evaluation_interval": f"{SCRAPE_INTERVAL_S}s",
        },
        "rule_files": [str(write_fast_rules(folder))],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]}
            for job, target in targets.items()
        ],
    }
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class PrometheusAPI:
    """The few calls of Prometheus's HTTP API (v1) the tests make."""

    def __init__(self, url: str, client: httpx.AsyncClient) -> None:
        self.url = url
        self._client = client

    async def _get(self, path: str, **params: str) -> Any:
        response = await self._client.get(f"{self.url}{path}", params=params)
        document = response.json()
        assert document.get("status") == "success", f"{path} {params}: {document}"
        return document["data"]

    async def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query's vector (``at``: evaluation time in epoch seconds, default now)."""
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        data = await self._get("/api/v1/query", **params)
        assert data["resultType"] in {"vector", "scalar"}, data
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    async def total(self, expr: str, at: float | None = None) -> float:
        """``sum(expr)``; 0 when no series matches."""
        result = await self.query(f"sum({expr})", at)
        return sample_value(result[0]) if result else 0.0

    async def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts now."""
        alerts: list[dict[str, Any]] = (await self._get("/api/v1/alerts"))["alerts"]
        return alerts


def sample_value(sample: dict[str, Any]) -> float:
    """The float of an instant-vector sample (``NaN`` and ``+Inf`` included)."""
    return float(sample["value"][1])


@contextlib.asynccontextmanager
async def running_prometheus(folder: Path, targets: dict[str, str]) -> AsyncIterator[PrometheusAPI]:
    """A Prometheus server scraping ``targets`` (job -> host:port), ready until the block ends."""
    binary = prometheus_binary()
    port = free_port()
    log_path = folder / "prometheus.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={write_config(folder, targets)}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            stdout=log_file,
            stderr=log_file,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            await _wait_ready(client, url, process, log_path)
            yield PrometheusAPI(url, client)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _wait_ready(
    client: httpx.AsyncClient, url: str, process: asyncio.subprocess.Process, log_path: Path
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.returncode is not None:
            _fail_with_log(f"Prometheus exited ({process.returncode})", log_path)
        with contextlib.suppress(httpx.TransportError):
            if (await client.get(f"{url}/-/ready")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    _fail_with_log("Prometheus not ready in 30 s", log_path)


def _fail_with_log(message: str, log_path: Path) -> NoReturn:
    pytest.fail(f"{message}:\n{log_path.read_text()[-3000:]}", pytrace=False)


# --- the pipeline ------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serving_ingress(settings: Settings) -> AsyncIterator[str]:
    """The ingress app on a free loopback port, Kafka connected; yields its base URL."""
    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="on", log_level="warning", access_log=False
    )
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the ingress stopped before it started")
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            if app.ready:
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("the ingress never connected to Kafka")
        yield url
    finally:
        server.should_exit = True
        await task


def local_total(name: str, **labels: str) -> float:
    """Sum of this process's samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for registry in (metrics.INGRESS_REGISTRY, metrics.WORKER_REGISTRY, metrics.NOTIFIER_REGISTRY):
        for family in registry.collect():
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    total += sample.value
    return total


@contextlib.asynccontextmanager
async def serving_ops(registry: CollectorRegistry) -> AsyncIterator[str]:
    """The worker's or notifier's ops endpoint for ``registry`` on a free port; yields
    host:port."""
    port = free_port()
    server = OpsServer("127.0.0.1", port, lambda: True, registry)
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop()


@dataclass(slots=True)
class Noise:
    """Requests and records that healthy traffic never sends, and how many were sent."""

    unauthorized: int = 0
    too_large: int = 0
    dead_letters: int = 0

    async def run(self, url: str, settings: Settings, stop: asyncio.Event) -> None:
        """Every ``NOISE_INTERVAL_S`` until ``stop``: one of each kind."""
        publisher = Publisher(settings, role="test")
        await publisher.start()
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                while True:
                    await self._send_once(client, url, settings, publisher)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), NOISE_INTERVAL_S)
                        return
        finally:
            await publisher.stop()

    async def _send_once(
        self, client: httpx.AsyncClient, url: str, settings: Settings, publisher: Publisher
    ) -> None:
        json_type = {"content-type": "application/json"}
        body = make_envelope_bytes(call_id=f"noise-{uuid.uuid4().hex[:8]}")
        wrong = await client.post(
            url, content=body, headers={**json_type, "authorization": "Bearer not-the-token"}
        )
        assert wrong.status_code == 401, wrong.text
        self.unauthorized += 1
        big = await client.post(url, content=b" " * (MAX_BODY_BYTES + 1), headers=json_type)
        assert big.status_code == 413, big.text
        self.too_large += 1
        now_ms = str(time.time_ns() // 1_000_000).encode()
        await publisher.publish(
            settings.topic_webhooks, b"noise", b"not json {", [(RECEIVED_AT, now_ms)]
        )
        self.dead_letters += 1


@dataclass(slots=True)
class Observed:
    """What a settled run left in Prometheus, and what was sent to make it."""

    prometheus: PrometheusAPI
    report: SimulationReport
    noise: Noise
    started_at: float
    """Epoch seconds just before the traffic: values then are the baselines."""
    at: float
    """Epoch seconds of evaluation: after the last scrape of the settled pipeline."""
    local: dict[str, float] = field(default_factory=dict)
    """This process's counter deltas (the truth Prometheus scraped), by name."""

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """``expr`` evaluated at :attr:`at`."""
        return await self.prometheus.query(expr, self.at)

    async def increase(self, selector: str) -> float:
        """How much the counters ``selector`` grew during the run, as Prometheus saw it."""
        end = await self.prometheus.total(selector, self.at)
        return end - await self.prometheus.total(selector, self.started_at)


SETTLED_COUNTERS = {
    "accepted": ("recho_ingress_requests_total", {"route": "webhook", "status": "202"}),
    "committed": ("recho_worker_processing_latency_seconds_count", {}),
    "alerts": ("recho_worker_alerts_total", {}),
    "delivered": ("recho_notifier_deliveries_total", {"result": "delivered"}),
}


async def _wait_settled(
    baseline: dict[str, float], noise: Noise, prometheus: PrometheusAPI
) -> tuple[float, dict[str, float]]:
    """Wait until every accepted record is committed and every alert delivered, then for a
    scrape after that; return its time and the local deltas."""

    def deltas() -> dict[str, float]:
        return {k: local_total(n, **lb) - baseline[k] for k, (n, lb) in SETTLED_COUNTERS.items()}

    def settled(d: dict[str, float]) -> bool:
        inputs = d["accepted"] + noise.dead_letters
        return d["committed"] == inputs and d["delivered"] == d["alerts"]

    await _poll(lambda: settled(deltas()), SETTLE_TIMEOUT_S, lambda: f"never settled: {deltas()}")
    settled_at = time.time()
    scraped = f'timestamp(up{{job=~"{"|".join(JOBS)}"}})'

    async def scraped_after() -> bool:
        result = await prometheus.query(scraped)
        return len(result) == len(JOBS) and all(
            sample_value(sample) > settled_at + 0.01 for sample in result
        )

    await _apoll(scraped_after, 30, "Prometheus did not scrape the settled pipeline")
    return time.time(), deltas()


async def _poll(check: Callable[[], bool], timeout_s: float, why: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(why(), pytrace=False)
        await asyncio.sleep(0.1)


async def _apoll(check: Callable[[], Any], timeout_s: float, why: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(why, pytrace=False)
        await asyncio.sleep(0.1)


def _settings(bootstrap: str, sink_url: str) -> Settings:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    topics = unique_topics(prefix)
    return Settings.model_validate(
        {
            "kafka_bootstrap_servers": bootstrap,
            "topic_partitions": 3,
            "worker_group_id": f"{prefix}-worker",
            "worker_transactional_id_prefix": f"{prefix}-worker",
            "worker_batch_max_ms": 50,
            "worker_sweep_interval_s": 0.2,
            "notifier_group_id": f"{prefix}-notifier",
            "notifier_webhook_url": sink_url,
            "notifier_group_window_s": 0.0,
            "auth_mode": AuthMode.BEARER,
            "auth_bearer_tokens": [BEARER_TOKEN],
            "ingress_max_body_bytes": MAX_BODY_BYTES,
            "simulate_bearer_token": BEARER_TOKEN,
            "simulate_mix": MIX,
            "simulate_seed": 20260604,
            "simulate_calls": 0,
            "simulate_duration_s": TRAFFIC_S,
            "simulate_concurrent_calls": 12,
            "simulate_rate_per_s": 200,
            "simulate_time_scale": 0.005,
            **topics,
        }
    )


async def _ask_explorer(url: str, prometheus: PrometheusAPI) -> None:
    """What an operator does: list the calls, open some, read the stats; then wait for
    Prometheus to scrape the explorer once more."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        listed = await client.get("/calls", params={"limit": "5"})
        assert listed.status_code == 200, listed.text
        for call in listed.json()["calls"]:
            assert (await client.get(f"/calls/{call['callId']}")).status_code == 200
        assert (await client.get("/stats")).status_code == 200
    scraped = 'timestamp(up{job="recho-explorer"})'
    asked_at = time.time()

    async def scraped_since() -> bool:
        result = await prometheus.query(scraped)
        return bool(result) and float(result[0]["value"][1]) > asked_at

    await _apoll(scraped_since, 30, "Prometheus never scraped the explorer after the queries")


@pytest.fixture(scope="module")
async def observed(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Observed]:
    """The pipeline after ``TRAFFIC_S`` of simulated traffic and noise, settled, scraped
    by a real Prometheus that keeps running (and the pipeline with it) until the module ends.
    """
    folder = tmp_path_factory.mktemp("prometheus")
    async with RecordingServer() as sink:
        s = _settings(kafka_bootstrap, sink.url)
        await create_topics(s)
        async with (
            serving_ingress(s) as base,
            running_worker(s) as worker,
            running_notifier(s),
            serving_ops(metrics.WORKER_REGISTRY) as worker_ops,
            serving_ops(metrics.NOTIFIER_REGISTRY) as notifier_ops,
            running_explorer(
                s.model_copy(update={"explorer_port": 0, "explorer_db_path": folder / "x.db"})
            ) as explorer,
            running_prometheus(
                folder,
                {
                    JOBS[0]: base.removeprefix("http://"),
                    JOBS[1]: worker_ops,
                    JOBS[2]: notifier_ops,
                    JOBS[3]: explorer.url.removeprefix("http://").rstrip("/"),
                },
            ) as prometheus,
        ):
            up = f'up{{job=~"{"|".join(JOBS)}"}} == 1'

            async def all_up() -> bool:
                return len(await prometheus.query(up)) == len(JOBS)

            await _apoll(all_up, 30, "Prometheus never scraped all three components")
            await _poll(lambda: worker.joined, 30, lambda: "the worker never joined its group")
            baseline = {k: local_total(n, **lb) for k, (n, lb) in SETTLED_COUNTERS.items()}
            started_at = time.time()
            target = Settings.model_validate(
                {**s.model_dump(), "simulate_target_url": base + s.ingress_path}
            )
            noise = Noise()
            stop = asyncio.Event()
            noise_task = asyncio.create_task(noise.run(base + s.ingress_path, s, stop))
            try:
                report = await simulate(target)
            finally:
                stop.set()
                await noise_task
            await _ask_explorer(explorer.url, prometheus)
            at, local = await _wait_settled(baseline, noise, prometheus)
            yield Observed(prometheus, report, noise, started_at, at, local)
