"""The webhook's steps: admit, read, verify, key, publish, then answer 202.

Each step either returns what the next one needs or raises a
:class:`~processor.ingress.request.Refusal`, which :meth:`WebhookSteps.handle_webhook`
sends as the JSON problem answer. Mixed into :class:`~processor.ingress.app.IngressApp`,
whose state (limits, publisher, authenticator, draining) they read.
"""

from __future__ import annotations

import time

import structlog

from processor import metrics
from processor.errors import AuthError, ContractError, KafkaUnavailableError, RecordTooLargeError
from processor.http.asgi import Receive, Scope, Send
from processor.http.responses import send_json, send_problem
from processor.ingress.auth import Authenticator
from processor.ingress.failures import WriteFailureLog
from processor.ingress.request import (
    BodyTooLargeError,
    ClientGoneError,
    Refusal,
    pick_headers,
    read_body,
    request_id_of,
)
from processor.ingress.webhook import Keyed, key_webhook, record_headers
from processor.kafka import Delivered, Publisher
from processor.tally import HistogramTally

log = structlog.get_logger(__name__)

_JSON_TYPES = (b"application/json", b"application/cloudevents+json")


class WebhookSteps:
    """The steps of one webhook request (see the module docstring)."""

    publisher: Publisher
    authenticator: Authenticator
    draining: bool
    in_flight: int
    write_failures: WriteFailureLog
    _max_in_flight: int
    _max_body: int
    _topic: str
    _auth_mode: str
    _retry_after: list[tuple[bytes, bytes]]
    _allowed_projects: frozenset[str]
    _produce_duration: HistogramTally
    _body_bytes: HistogramTally

    async def handle_webhook(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Admit, read, verify, key, publish; answer 202, or the step's refusal."""
        received_at_ms = time.time_ns() // 1_000_000
        headers, repeated = pick_headers(scope["headers"])
        request_id = request_id_of(headers.get(b"x-request-id"))
        try:
            self._admit(headers)
            raw = await self._read(receive)
            self._verify(headers, repeated, raw, received_at_ms, request_id)
            keyed = self._key(raw)
            delivered = await self._publish(raw, keyed, received_at_ms, request_id)
        except Refusal as refusal:
            await send_problem(
                send,
                refusal.status,
                refusal.error,
                refusal.message,
                request_id,
                field=refusal.field,
                extra_headers=refusal.headers,
            )
            return refusal.status
        except ClientGoneError:
            return 499  # nginx's code for "client closed request": nothing to answer
        response_headers = [(b"x-request-id", request_id.encode())]
        if keyed.flags:
            response_headers.append((b"x-recho-flags", ",".join(keyed.flags).encode()))
        body = {
            "topic": delivered.topic,
            "partition": delivered.partition,
            "offset": delivered.offset,
            "requestId": request_id,
            "flags": list(keyed.flags),
        }
        await send_json(send, 202, body, response_headers)
        return 202

    def _admit(self, headers: dict[bytes, bytes]) -> None:
        """Refuse before reading the body: not taking webhooks (503), not JSON (415),
        a declared length over the limit (413)."""
        if self.draining or self.in_flight > self._max_in_flight or not self.publisher.connected:
            reason = "draining" if self.draining else "overloaded"
            if not self.publisher.connected and not self.draining:
                reason = "kafka_unavailable"
            raise Refusal(
                503,
                reason,
                "the ingress cannot take webhooks right now; retry later",
                headers=self._retry_after,
            )
        content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if content_type not in _JSON_TYPES:
            raise Refusal(415, "unsupported_media_type", "Content-Type must be application/json")
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            raise self._too_large()

    async def _read(self, receive: Receive) -> bytes:
        """The body, refused (413) as soon as it grows past the limit."""
        try:
            return await read_body(receive, self._max_body)
        except BodyTooLargeError:
            raise self._too_large() from None

    def _verify(
        self,
        headers: dict[bytes, bytes],
        repeated: bytes | None,
        raw: bytes,
        received_at_ms: int,
        request_id: str,
    ) -> None:
        """Authenticate in the configured mode; refuse with 401 and the reason."""
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
            raise Refusal(401, exc.reason, exc.message) from None

    def _key(self, raw: bytes) -> Keyed:
        """The callId key and flags (400 without a callId), within the project allow-list (403)."""
        try:
            keyed = key_webhook(raw)
        except ContractError as exc:
            raise Refusal(400, "invalid_body", exc.message, field=exc.field or None) from None
        if self._allowed_projects and keyed.project_id not in self._allowed_projects:
            raise Refusal(
                403,
                "project_not_allowed",
                "projectId is not in this ingress's allow-list",
                field="projectId",
            )
        for flag in keyed.flags:
            metrics.INGRESS_FLAGGED.labels(flag).inc()
        return keyed

    async def _publish(
        self, raw: bytes, keyed: Keyed, received_at_ms: int, request_id: str
    ) -> Delivered:
        """Write the exact body keyed by callId; return once the broker acknowledged it."""
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
            raise Refusal(413, "body_too_large", str(exc)) from None
        except KafkaUnavailableError as exc:
            metrics.INGRESS_KAFKA_UNAVAILABLE.inc()
            self.write_failures.record(str(exc))
            raise Refusal(
                503,
                "kafka_unavailable",
                "the webhook could not be stored; retry later",
                headers=self._retry_after,
            ) from None
        self._produce_duration.observe(time.perf_counter() - produce_started)
        self._body_bytes.observe(len(raw))
        return delivered

    def _too_large(self) -> Refusal:
        # The rest of the body is not read: say the connection ends (the server
        # still drains it for a bounded time so the client sees this answer).
        return Refusal(
            413,
            "body_too_large",
            f"body exceeds the {self._max_body} byte limit",
            headers=[(b"connection", b"close")],
        )
