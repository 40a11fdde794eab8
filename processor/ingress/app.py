"""The ingress ASGI app: verify, key by callId, write to Kafka, then answer.

Routes: ``POST <ingress_path>`` (the webhook), ``GET /healthz``, ``GET /readyz``,
``GET /metrics``, ``GET /openapi.json``. A 2xx is sent only after the broker
acknowledged the write; anything else tells the platform to send it again.
"""

from __future__ import annotations

import asyncio
import math
import random
import time

import orjson
import structlog

from processor import metrics
from processor.errors import KafkaUnavailableError
from processor.http.asgi import Receive, Scope, Send
from processor.http.ops import OPS_ROUTES, OpsApp
from processor.http.responses import send_problem, send_text
from processor.ingress.auth import Authenticator
from processor.ingress.failures import WriteFailureLog
from processor.ingress.heap import freeze_startup_heap
from processor.ingress.openapi import build_openapi
from processor.ingress.request import find_request_id, new_request_id
from processor.ingress.steps import WebhookSteps
from processor.kafka import Publisher
from processor.retry import Jitter, RetryPolicy
from processor.settings import Settings
from processor.tally import CounterTally, HistogramTally

log = structlog.get_logger(__name__)

KAFKA_RECONNECT = RetryPolicy(budget_s=math.inf, base_s=0.5, cap_s=10.0, jitter=Jitter.EQUAL)
"""Connecting the producer at start: 0.25-0.5 s, doubling to 5-10 s, never giving up
(the ingress answers 503 meanwhile)."""

ROUTE_WEBHOOK = "webhook"
ROUTE_OTHER = "other"
# Room a record needs besides its body: batch and record framing (~80 B), the
# provenance headers (~400 B) and a callId key. The exact check is the
# producer's; this only keeps the advertised body limit honest.
RECORD_OVERHEAD_BYTES = 1024


class IngressApp(WebhookSteps):
    """The ASGI application; one per process."""

    def __init__(
        self,
        settings: Settings,
        publisher: Publisher,
        authenticator: Authenticator,
        *,
        freeze_heap: bool = False,
    ) -> None:
        self.settings = settings
        self._freeze_heap = freeze_heap
        self.publisher = publisher
        self.authenticator = authenticator
        self.draining = False
        self.in_flight = 0
        self._max_in_flight = settings.ingress_max_in_flight
        self._max_body = settings.ingress_max_body_bytes
        self._topic = settings.topic_webhooks
        self._auth_mode = settings.auth_mode.value
        self._retry_after = [(b"retry-after", str(settings.ingress_retry_after_s).encode())]
        self._openapi = orjson.dumps(build_openapi(settings))
        self._connect_task: asyncio.Task[None] | None = None
        self._allowed_projects = frozenset(settings.auth_allowed_project_ids)
        self.write_failures = WriteFailureLog(settings.ingress_failure_log_interval_s)
        # Metric children looked up once: labels() costs a lock and a dict per call.
        self._status_counters: dict[int, CounterTally] = {}
        self._webhook_duration = HistogramTally(
            metrics.INGRESS_REQUEST_DURATION.labels(ROUTE_WEBHOOK)
        )
        self._produce_duration = HistogramTally(metrics.INGRESS_PRODUCE_DURATION)
        self._body_bytes = HistogramTally(metrics.INGRESS_BODY_BYTES)
        self._gauge_task: asyncio.Task[None] | None = None
        self._ops = OpsApp(lambda: self.ready, metrics.INGRESS_REGISTRY, self._readiness)

    @property
    def ready(self) -> bool:
        """Kafka producer connected, its writes succeeding, and not draining."""
        return self.publisher.healthy and not self.draining

    def _fit_body_limit(self) -> None:
        """Lower the body limit to what the topic's ``max.message.bytes`` can hold."""
        topic_limit = self.publisher.max_message_bytes
        configured = self.settings.ingress_max_body_bytes
        if topic_limit is None:
            return
        fits = max(topic_limit - RECORD_OVERHEAD_BYTES, 1)
        self._max_body = min(configured, fits)
        if fits < configured:
            log.warning(
                "ingress_body_limit_lowered",
                configured_bytes=configured,
                topic=self._topic,
                topic_max_message_bytes=topic_limit,
                effective_bytes=self._max_body,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    # --- lifespan ------------------------------------------------------------
    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._connect_task = asyncio.create_task(self._connect())
                self._gauge_task = asyncio.create_task(self._publish_in_flight())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _connect(self) -> None:
        """Connect the producer, retrying: the ingress serves (503) while Kafka is away."""
        retry = 0
        rng = random.Random()  # noqa: S311 (jitter, not a secret)
        while not self.draining:
            try:
                await self.publisher.start()
            except KafkaUnavailableError as exc:
                retry += 1
                delay = KAFKA_RECONNECT.delay_s(retry, rng)
                log.warning("kafka_connect_failed", error=str(exc), retry_in_s=round(delay, 2))
                await asyncio.sleep(delay)
            else:
                self._fit_body_limit()
                log.info("kafka_connected", topic=self._topic, max_body_bytes=self._max_body)
                self._freeze_startup_heap()
                return

    def _freeze_startup_heap(self) -> None:
        """Once the producer is up, startup is over: freeze its heap (see heap.py).

        Only in a served process (``freeze_heap``): an app embedded in a larger
        process (the tests) must not freeze its host's objects.
        """
        if self._freeze_heap:
            frozen = freeze_startup_heap()
            log.info("ingress_heap_frozen", objects=frozen)

    async def _publish_in_flight(self) -> None:
        """Copy the in-flight count to its gauge twice a second (not per request), and
        log the write-failure summary once its interval is over."""
        while True:
            metrics.INGRESS_IN_FLIGHT.set(self.in_flight)
            self.write_failures.flush_due()
            self.flush_metrics()
            await asyncio.sleep(0.5)

    async def shutdown(self) -> None:
        """Stop taking webhooks, let in-flight ones finish, flush the producer."""
        self.draining = True
        deadline = time.monotonic() + self.settings.ingress_drain_timeout_s
        # Polled only at shutdown, for at most the drain timeout: cheaper than an
        # Event that every request would have to touch.
        while self.in_flight and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        for task in (self._connect_task, self._gauge_task):
            if task is not None:
                task.cancel()
        metrics.INGRESS_IN_FLIGHT.set(0)
        self.flush_metrics()
        await self.publisher.stop()
        log.info("ingress_stopped", unfinished=self.in_flight)

    # --- routing -------------------------------------------------------------
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        method = scope["method"]
        if path == self.settings.ingress_path:
            if method != "POST":
                await self._not_allowed(send, ROUTE_WEBHOOK, "POST")
                return
            await self._webhook(scope, receive, send)
            return
        if path not in OPS_ROUTES and path != "/openapi.json":
            metrics.INGRESS_REQUESTS.labels(ROUTE_OTHER, "404").inc()
            await send_problem(
                send, 404, "not_found", f"no route {path}", find_request_id(scope["headers"])
            )
            return
        route = path.strip("/")
        if method not in ("GET", "HEAD"):
            await self._not_allowed(send, route, "GET")
            return
        if path == "/openapi.json":
            await send_text(send, 200, self._openapi, b"application/json")
            return
        if path == "/metrics":
            self.flush_metrics()
        status = await self._ops.answer(path, send)
        if path != "/metrics":  # scrapes are not counted as requests
            metrics.INGRESS_REQUESTS.labels(route, str(status)).inc()

    async def _not_allowed(self, send: Send, route: str, allow: str) -> None:
        metrics.INGRESS_REQUESTS.labels(route, "405").inc()
        await send_problem(
            send,
            405,
            "method_not_allowed",
            f"use {allow}",
            new_request_id(),
            extra_headers=[(b"allow", allow.encode())],
        )

    def flush_metrics(self) -> None:
        """Add the per-webhook counts held in this process to the metrics (see tally.py)."""
        for counter in list(self._status_counters.values()):
            counter.flush()
        for histogram in (self._webhook_duration, self._produce_duration, self._body_bytes):
            histogram.flush()

    def _readiness(self) -> dict[str, bool]:
        """What /readyz depends on, beside its verdict."""
        return {"kafka": self.publisher.healthy, "draining": self.draining}

    # --- the webhook ---------------------------------------------------------
    async def _webhook(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500
        self.in_flight += 1
        try:
            status = await self.handle_webhook(scope, receive, send)
        finally:
            self.in_flight -= 1
            counter = self._status_counters.get(status)
            if counter is None:
                counter = self._status_counters[status] = CounterTally(
                    metrics.INGRESS_REQUESTS.labels(ROUTE_WEBHOOK, str(status))
                )
            counter.inc()
            self._webhook_duration.observe(time.perf_counter() - started)
