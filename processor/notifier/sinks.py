"""Where alerts go: Alertmanager (API v2), a generic JSON webhook, a Slack-style webhook.

notifier: grouping -> **sinks**. Each sink turns alerts into one HTTP request
and raises :class:`DeliveryError` when the receiver did not take it;
``retriable`` on the error says whether trying again can help (a timeout, a
5xx or 429 can; a 400 will not). :func:`deliver` retries with exponential
backoff and full jitter until the policy's budget is spent.

Idempotency: Alertmanager identifies an alert by its label set, and the
``alert_id`` label makes that set unique per alert, so a re-post of the same
alert updates it instead of adding one. The webhook sinks send an
``Idempotency-Key`` header (the alert id, or a digest of a group's ids).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Protocol

import httpx
import structlog

from processor import metrics
from processor.errors import DeliveryError
from processor.notifier.grouping import Alert, RecentIds, idempotency_key
from processor.retry import RetryPolicy, is_retriable_status, parse_retry_after
from processor.settings import Settings

log = structlog.get_logger(__name__)

ALERTNAMES: Final = {
    "ERRORED_EVENT": "RechoCallErrored",
    "CALL_STALLED": "RechoCallStalled",
    "ERRORS_UNREADABLE": "RechoCallErrorsUnreadable",
}
"""Alertmanager ``alertname`` of each alert kind."""
USER_AGENT: Final = "recho-processor-notifier"
SLACK_MAX_LINES: Final = 10
"""Alerts listed in one Slack message; the rest are counted."""


class Sink(Protocol):
    """One destination. ``grouped`` sinks get one call per group, the others per batch."""

    name: str
    grouped: bool

    async def send(self, alerts: Sequence[Alert]) -> None:
        """Deliver the alerts in one request; raise DeliveryError if not taken."""
        ...


async def _post(client: httpx.AsyncClient, sink: str, url: str, **kwargs: Any) -> None:
    """POST and translate every outcome but a 2xx into DeliveryError."""
    started = time.perf_counter()
    try:
        response = await client.post(url, **kwargs)
    except httpx.HTTPError as exc:  # connect, timeouts, protocol errors
        raise DeliveryError(f"{sink}: {type(exc).__name__}: {exc}", retriable=True) from exc
    finally:
        metrics.NOTIFIER_DELIVERY_DURATION.labels(sink).observe(time.perf_counter() - started)
    status = response.status_code
    if 200 <= status < 300:
        return
    retriable = is_retriable_status(status)
    raise DeliveryError(
        f"{sink}: HTTP {status}: {response.text[:200]}",
        retriable=retriable,
        retry_after_s=parse_retry_after(response.headers.get("retry-after")) if retriable else None,
    )


def iso_time(epoch_ms: int) -> str:
    """RFC 3339 UTC with milliseconds, as Alertmanager's API expects."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alertmanager_alert(alert: Alert, ttl_s: float) -> dict[str, Any]:
    """One postableAlert: bounded labels (plus ``alert_id``), free text in annotations.

    Active from ``atMs`` for ``ttl_s``; an alert read after its TTL (a long
    outage, a replay) therefore arrives already resolved instead of paging.
    """
    labels = {
        "alertname": ALERTNAMES.get(alert.kind, "RechoCallAlert"),
        "severity": alert.severity,
        "project_id": alert.project_id,
        "error_code": alert.code,
        "event_type": alert.event_type or "",
        "direction": alert.direction,
        "alert_id": alert.alert_id,
    }
    record = alert.record
    annotations = {
        "summary": alert.summary,
        "call_id": alert.call_id,
        "error_codes": ",".join(alert.error_codes),
        "call_status": str(record.get("callStatus") or ""),
        "error_kind": str(record.get("errorKind") or ""),
        "kind": alert.kind,
    }
    return {
        # An empty label is an absent label to Alertmanager; leave it out.
        "labels": {k: v for k, v in labels.items() if v},
        "annotations": {k: v for k, v in annotations.items() if v},
        "startsAt": iso_time(alert.at_ms),
        "endsAt": iso_time(alert.at_ms + int(ttl_s * 1000)),
    }


@dataclass(slots=True)
class AlertmanagerSink:
    """POSTs every alert to ``{url}/api/v2/alerts``; Alertmanager groups and dedupes."""

    client: httpx.AsyncClient
    url: str
    ttl_s: float
    name: str = "alertmanager"
    grouped: bool = False

    async def send(self, alerts: Sequence[Alert]) -> None:
        """Post the alerts as one list."""
        body = [alertmanager_alert(alert, self.ttl_s) for alert in alerts]
        await _post(self.client, self.name, f"{self.url.rstrip('/')}/api/v2/alerts", json=body)


def webhook_payload(alerts: Sequence[Alert], key: str) -> dict[str, Any]:
    """The JSON webhook body: the alert records as read, with the idempotency key."""
    return {
        "schema": "recho.alert-notification/1",
        "idempotencyKey": key,
        "count": len(alerts),
        "alerts": [alert.record for alert in alerts],
    }


@dataclass(slots=True)
class WebhookSink:
    """POSTs a group's alert records as JSON, with an ``Idempotency-Key`` header."""

    client: httpx.AsyncClient
    url: str
    name: str = "webhook"
    grouped: bool = True

    async def send(self, alerts: Sequence[Alert]) -> None:
        """Post one message for the alerts."""
        key = idempotency_key(alerts)
        await _post(
            self.client,
            self.name,
            self.url,
            json=webhook_payload(alerts, key),
            headers={"Idempotency-Key": key},
        )


def _escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_title(alerts: Sequence[Alert]) -> str:
    """One line: the alert's summary, or counts by code and call for a group."""
    severity = "critical" if any(a.severity == "critical" for a in alerts) else "warning"
    if len(alerts) == 1:
        return f"[{severity}] {alerts[0].summary}"
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.code] = counts.get(alert.code, 0) + 1
    codes = ", ".join(f"{code} x{n}" for code, n in sorted(counts.items(), key=lambda i: -i[1]))
    calls = len({alert.call_id for alert in alerts})
    return f"[{severity}] {len(alerts)} Recho call alerts on {calls} call(s): {codes}"


def slack_message(alerts: Sequence[Alert]) -> dict[str, Any]:
    """A Slack-style incoming-webhook message: plain ``text`` plus ``blocks``."""
    title = slack_title(alerts)
    lines = [
        f"• `{_escape(a.call_id)}` {_escape(a.event_type or a.kind)} *{_escape(a.code)}*: "
        f"{_escape(a.summary)}"
        for a in alerts[:SLACK_MAX_LINES]
    ]
    if len(alerts) > SLACK_MAX_LINES:
        lines.append(f"…and {len(alerts) - SLACK_MAX_LINES} more")
    projects = sorted({a.project_id for a in alerts if a.project_id})
    return {
        "text": title,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": _escape(f"project {', '.join(projects)}"[:300])}
                ],
            },
        ],
    }


@dataclass(slots=True)
class SlackSink:
    """POSTs one human-readable message per group to a Slack-style incoming webhook."""

    client: httpx.AsyncClient
    url: str
    name: str = "slack"
    grouped: bool = True

    async def send(self, alerts: Sequence[Alert]) -> None:
        """Post one message for the alerts."""
        await _post(
            self.client,
            self.name,
            self.url,
            json=slack_message(alerts),
            headers={"Idempotency-Key": idempotency_key(alerts)},
        )


def build_sinks(settings: Settings, client: httpx.AsyncClient) -> list[Sink]:
    """The sinks whose URL is configured, Alertmanager first."""
    sinks: list[Sink] = []
    if settings.notifier_alertmanager_url:
        sinks.append(
            AlertmanagerSink(
                client, settings.notifier_alertmanager_url, settings.notifier_alert_ttl_s
            )
        )
    if settings.notifier_webhook_url:
        sinks.append(WebhookSink(client, settings.notifier_webhook_url))
    if settings.notifier_slack_url:
        sinks.append(SlackSink(client, settings.notifier_slack_url))
    return sinks


RETRY_LOG_ATTEMPTS: Final = 5
"""Retries logged one by one; past them, a sink that is down logs once (alert_sink_down)."""


class Outcome(StrEnum):
    """How a delivery ended (values are metric label values, except ABORTED)."""

    DELIVERED = "delivered"
    FAILED = "failed"
    ABORTED = "aborted"
    """Stopped while waiting to retry: the alerts stay uncommitted and come back."""


async def deliver(
    send: Callable[[], Awaitable[None]],
    policy: RetryPolicy,
    stop: asyncio.Event,
    on_error: Callable[[DeliveryError, int], None],
    rng: random.Random | None = None,
    on_down: Callable[[], None] | None = None,
) -> Outcome:
    """Call ``send`` until it succeeds, fails for good, or ``stop`` is set.

    Each failed attempt is reported to ``on_error`` with its attempt number.
    A retriable failure is never given up: once ``policy.budget_s`` is spent,
    ``on_down`` is called (once) and the sink is retried every ``policy.cap_s``
    until it takes the alerts, so an alert is never dropped while a sink is
    down. Only a non-retriable answer (a 4xx) fails. Returns an :class:`Outcome`.
    """
    rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
    loop = asyncio.get_running_loop()
    started = loop.time()
    attempt = 0
    down = False
    while True:
        attempt += 1
        try:
            await send()
        except DeliveryError as exc:
            on_error(exc, attempt)
            if not exc.retriable:
                return Outcome.FAILED
            delay = policy.delay_s(attempt, rng, exc.retry_after_s)  # the receiver knows best
            if policy.exhausted(attempt, loop.time() + delay - started):
                delay = max(delay, policy.cap_s)
                if not down and on_down is not None:
                    on_down()
                down = True
            if stop.is_set():
                return Outcome.ABORTED
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                continue
            return Outcome.ABORTED
        return Outcome.DELIVERED


class ReliableSink:
    """A sink with retries and a memory of delivered ids: each alert is sent once.

    An alert whose id this sink already took (a Kafka redelivery, a replay)
    is dropped and counted ``result="suppressed"``; the rest are sent with
    :func:`deliver` and counted ``delivered`` or ``failed``. Failed alerts are
    not remembered, so a later redelivery tries them again.
    """

    def __init__(self, sink: Sink, policy: RetryPolicy, recent: RecentIds | None = None) -> None:
        self.sink = sink
        self.name = sink.name
        self.grouped = sink.grouped
        self.policy = policy
        self.recent = recent if recent is not None else RecentIds()
        self.down = False
        metrics.NOTIFIER_SINK_DOWN.labels(self.name).set(0)

    async def deliver(self, alerts: Sequence[Alert], stop: asyncio.Event) -> Outcome:
        """Deliver what this sink has not taken yet; count and log the results."""
        fresh, suppressed = self.recent.fresh(alerts)
        if suppressed:
            metrics.NOTIFIER_DELIVERIES.labels(self.name, "suppressed").inc(suppressed)
        if not fresh:
            return Outcome.DELIVERED
        errors: list[DeliveryError] = []

        def on_error(exc: DeliveryError, attempt: int) -> None:
            errors.append(exc)
            if attempt <= RETRY_LOG_ATTEMPTS or not self.down:
                log.warning("alert_delivery_retry", sink=self.name, attempt=attempt, error=str(exc))

        def on_down() -> None:
            self.down = True
            metrics.NOTIFIER_SINK_DOWN.labels(self.name).set(1)
            log.error(
                "alert_sink_down",
                sink=self.name,
                alerts_waiting=len(fresh),
                failing_for_s=self.policy.budget_s,
                retry_every_s=self.policy.cap_s,
                error=str(errors[-1]) if errors else "",
            )

        outcome = await deliver(
            lambda: self.sink.send(fresh), self.policy, stop, on_error, on_down=on_down
        )
        if outcome is Outcome.DELIVERED:
            if self.down:
                self.down = False
                metrics.NOTIFIER_SINK_DOWN.labels(self.name).set(0)
                log.info("alert_sink_recovered", sink=self.name, attempts=len(errors) + 1)
            self.recent.add_all(alert.alert_id for alert in fresh)
            metrics.NOTIFIER_DELIVERIES.labels(self.name, "delivered").inc(len(fresh))
        elif outcome is Outcome.FAILED:
            metrics.NOTIFIER_DELIVERIES.labels(self.name, "failed").inc(len(fresh))
            log.error(
                "alert_delivery_failed",
                sink=self.name,
                alerts=len(fresh),
                alert_ids=[alert.alert_id for alert in fresh[:10]],
                attempts=len(errors),
                error=str(errors[-1]) if errors else "",
            )
        return outcome
