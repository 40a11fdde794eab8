"""The ingress ASGI app: verify, key by callId, write to Kafka, then answer.

Routes: ``POST <ingress_path>`` (the webhook), ``GET /healthz``, ``GET /readyz``,
``GET /metrics``, ``GET /openapi.json``. A 2xx is sent only after the broker
acknowledged the write; anything else tells the platform to send it again.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from typing import Any

import orjson
import structlog

from processor import metrics
from processor.errors import (
    AuthError,
    ContractError,
    KafkaUnavailableError,
    RecordTooLargeError,
)
from processor.http.asgi import Receive, Scope, Send
from processor.http.ops import OPS_ROUTES, OpsApp
from processor.http.responses import send_json, send_problem, send_text
from processor.ingress.auth import Authenticator
from processor.ingress.failures import WriteFailureLog
from processor.ingress.openapi import build_openapi
from processor.ingress.webhook import key_webhook, record_headers
from processor.kafka import Publisher
from processor.settings import Settings

log = structlog.get_logger(__name__)

ROUTE_WEBHOOK = "webhook"
ROUTE_OTHER = "other"
_JSON_TYPES = (b"application/json", b"application/cloudevents+json")
# Room a record needs besides its body: batch and record framing (~80 B), the
# provenance headers (~400 B) and a callId key. The exact check is the
# producer's; this only keeps the advertised body limit honest.
RECORD_OVERHEAD_BYTES = 1024


class BodyTooLargeError(Exception):
    """The body grew past the limit while it was read."""


class ClientGoneError(Exception):
    """The client disconnected before it finished sending the body."""


class IngressApp:
    """The ASGI application; one per process."""

    def __init__(
        self, settings: Settings, publisher: Publisher, authenticator: Authenticator
    ) -> None:
        self.settings = settings
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
        self._status_counters: dict[int, Any] = {}
        self._webhook_duration = metrics.INGRESS_REQUEST_DURATION.labels(ROUTE_WEBHOOK)
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
        delay = 0.5
        while not self.draining:
            try:
                await self.publisher.start()
            except KafkaUnavailableError as exc:
                log.warning("kafka_connect_failed", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            else:
                self._fit_body_limit()
                log.info("kafka_connected", topic=self._topic, max_body_bytes=self._max_body)
                return

    async def _publish_in_flight(self) -> None:
        """Copy the in-flight count to its gauge twice a second (not per request), and
        log the write-failure summary once its interval is over."""
        while True:
            metrics.INGRESS_IN_FLIGHT.set(self.in_flight)
            self.write_failures.flush_due()
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
            await send_problem(send, 404, "not_found", f"no route {path}", _request_id(scope))
            return
        route = path.strip("/")
        if method not in ("GET", "HEAD"):
            await self._not_allowed(send, route, "GET")
            return
        if path == "/openapi.json":
            await send_text(send, 200, self._openapi, b"application/json")
            return
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

    def _readiness(self) -> dict[str, bool]:
        """What /readyz depends on, beside its verdict."""
        return {"kafka": self.publisher.healthy, "draining": self.draining}

    # --- the webhook ---------------------------------------------------------
    async def _webhook(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500
        self.in_flight += 1
        try:
            status = await self._handle_webhook(scope, receive, send)
        finally:
            self.in_flight -= 1
            counter = self._status_counters.get(status)
            if counter is None:
                counter = self._status_counters[status] = metrics.INGRESS_REQUESTS.labels(
                    ROUTE_WEBHOOK, str(status)
                )
            counter.inc()
            self._webhook_duration.observe(time.perf_counter() - started)

    async def _handle_webhook(self, scope: Scope, receive: Receive, send: Send) -> int:
        received_at_ms = time.time_ns() // 1_000_000
        headers, repeated = _pick_headers(scope["headers"])
        request_id = (headers.get(b"x-request-id") or b"").decode("latin-1")[:64]
        request_id = request_id or new_request_id()
        if self.draining or self.in_flight > self._max_in_flight or not self.publisher.connected:
            reason = "draining" if self.draining else "overloaded"
            if not self.publisher.connected and not self.draining:
                reason = "kafka_unavailable"
            await send_problem(
                send,
                503,
                reason,
                "the ingress cannot take webhooks right now; retry later",
                request_id,
                extra_headers=self._retry_after,
            )
            return 503
        content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if content_type not in _JSON_TYPES:
            await send_problem(
                send,
                415,
                "unsupported_media_type",
                "Content-Type must be application/json",
                request_id,
            )
            return 415
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            await self._too_large(send, request_id)
            return 413
        try:
            raw = await _read_body(receive, self._max_body)
        except BodyTooLargeError:
            await self._too_large(send, request_id)
            return 413
        except ClientGoneError:
            return 499  # nginx's code for "client closed request": nothing to answer
        try:
            if repeated is not None:
                self.authenticator.reject_repeated(repeated)
            self.authenticator.verify(
                authorization=headers.get(b"authorization"),
                signature=headers.get(b"x-recho-signature"),
                timestamp=headers.get(b"x-recho-timestamp"),
                body=raw,
                now_s=received_at_ms / 1000,
            )
        except AuthError as exc:
            metrics.INGRESS_AUTH_FAILURES.labels(exc.reason).inc()
            log.warning("webhook_unauthorized", reason=exc.reason, request_id=request_id)
            await send_problem(send, 401, exc.reason, exc.message, request_id)
            return 401
        try:
            keyed = key_webhook(raw)
        except ContractError as exc:
            await send_problem(
                send, 400, "invalid_body", exc.message, request_id, field=exc.field or None
            )
            return 400
        if self._allowed_projects and keyed.project_id not in self._allowed_projects:
            await send_problem(
                send,
                403,
                "project_not_allowed",
                "projectId is not in this ingress's allow-list",
                request_id,
                field="projectId",
            )
            return 403
        for flag in keyed.flags:
            metrics.INGRESS_FLAGGED.labels(flag).inc()
        record = record_headers(
            received_at_ms=received_at_ms,
            auth_mode=self._auth_mode,
            raw=raw,
            request_id=request_id,
            flags=keyed.flags,
        )
        produce_started = time.perf_counter()
        try:
            delivered = await self.publisher.publish(
                self._topic, keyed.call_id.encode(), raw, record
            )
        except RecordTooLargeError as exc:
            await send_problem(send, 413, "body_too_large", str(exc), request_id)
            return 413
        except KafkaUnavailableError as exc:
            metrics.INGRESS_KAFKA_UNAVAILABLE.inc()
            self.write_failures.record(str(exc))
            await send_problem(
                send,
                503,
                "kafka_unavailable",
                "the webhook could not be stored; retry later",
                request_id,
                extra_headers=self._retry_after,
            )
            return 503
        metrics.INGRESS_PRODUCE_DURATION.observe(time.perf_counter() - produce_started)
        metrics.INGRESS_BODY_BYTES.observe(len(raw))
        response_headers = [(b"x-request-id", request_id.encode())]
        if keyed.flags:
            response_headers.append((b"x-recho-flags", ",".join(keyed.flags).encode()))
        await send_json(
            send,
            202,
            {
                "topic": delivered.topic,
                "partition": delivered.partition,
                "offset": delivered.offset,
                "requestId": request_id,
                "flags": list(keyed.flags),
            },
            response_headers,
        )
        return 202

    async def _too_large(self, send: Send, request_id: str) -> None:
        # The rest of the body is not read: say the connection ends (the server
        # still drains it for a bounded time so the client sees this answer).
        await send_problem(
            send,
            413,
            "body_too_large",
            f"body exceeds the {self._max_body} byte limit",
            request_id,
            extra_headers=[(b"connection", b"close")],
        )


_REQUEST_ID_PREFIX = os.urandom(5).hex()
_REQUEST_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A request id unique across processes: a random per-process prefix and a counter.

    Cheaper than uuid4 on the hot path, and ordered within a process.
    """
    return f"{_REQUEST_ID_PREFIX}{next(_REQUEST_COUNTER):012x}"


_WANTED = frozenset(
    {
        b"content-type",
        b"content-length",
        b"authorization",
        b"x-recho-signature",
        b"x-recho-timestamp",
        b"x-request-id",
    }
)


_SINGLE = frozenset({b"authorization", b"x-recho-signature", b"x-recho-timestamp"})


def _pick_headers(
    raw_headers: list[tuple[bytes, bytes]],
) -> tuple[dict[bytes, bytes], bytes | None]:
    """The headers the ingress reads, and the name of an auth header sent twice, if any."""
    picked: dict[bytes, bytes] = {}
    repeated = None
    for name, value in raw_headers:
        if name in _WANTED:
            if name in picked and name in _SINGLE:
                repeated = name
            picked[name] = value
    return picked, repeated


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return str(value.decode("latin-1")[:64])
    return new_request_id()


async def _read_body(receive: Receive, limit: int) -> bytes:
    """Read the request body, failing as soon as it grows past ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGoneError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
