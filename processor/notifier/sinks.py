"""Where alerts go: Alertmanager (API v2), a generic JSON webhook, a Slack-style webhook.

notifier: grouping -> **sinks**. Each sink turns alerts into one HTTP request
and raises :class:`DeliveryError` when the receiver did not take it;
``retriable`` on the error says whether trying again can help (a timeout, a
5xx or 429 can; a 400 will not); :mod:`~processor.notifier.delivery` retries.

Idempotency: Alertmanager identifies an alert by its label set, and the
``alert_id`` label makes that set unique per alert, so a re-post of the same
alert updates it instead of adding one. The webhook sinks send an
``Idempotency-Key`` header (the alert id, or a digest of a group's ids).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import httpx

from processor import metrics
from processor.errors import DeliveryError
from processor.notifier.grouping import Alert, idempotency_key
from processor.retry import is_retriable_status, parse_retry_after
from processor.settings import Settings

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
