"""Sinks over real HTTP: payload shapes, retries with backoff, idempotency, suppression."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest

from processor.errors import ConfigError, DeliveryError
from processor.metrics import NOTIFIER_REGISTRY
from processor.notifier.delivery import ReliableSink, SinkDelivery, deliver
from processor.notifier.grouping import Alert, idempotency_key, parse_alert
from processor.notifier.runner import Notifier
from processor.notifier.sinks import (
    AlertmanagerSink,
    SlackSink,
    WebhookSink,
    alertmanager_alert,
    build_sinks,
    slack_message,
)
from processor.retry import RetryPolicy
from processor.settings import Settings
from tests.factories import alert_record
from tests.support.servers import RecordingServer

FAST = RetryPolicy(budget_s=5.0, base_s=0.01, cap_s=0.05)
StartReceiver = Callable[..., Awaitable[RecordingServer]]


def make(
    alert_id: str = "a" * 32, call_id: str = "c-1", code: str = "NETWORK_ERROR", **kw: Any
) -> Alert:
    return parse_alert(orjson.dumps(alert_record(alert_id, call_id, (code,), **kw)))


def deliveries(sink: str, result: str) -> float:
    value = NOTIFIER_REGISTRY.get_sample_value(
        "recho_notifier_deliveries_total", {"sink": sink, "result": result}
    )
    return value or 0.0


def sink_down(sink: str) -> float:
    value = NOTIFIER_REGISTRY.get_sample_value("recho_notifier_sink_down", {"sink": sink})
    return value or 0.0


@pytest.fixture
async def start_receiver() -> AsyncIterator[StartReceiver]:
    """Start recording HTTP receivers; all stop at the end of the test."""
    servers: list[RecordingServer] = []

    async def start(**options: Any) -> RecordingServer:
        server = RecordingServer(**options)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client the sinks share."""
    async with httpx.AsyncClient(timeout=5) as http:
        yield http


class TestAlertmanagerPayload:
    def test_errored_alert_labels_and_annotations(self) -> None:
        """Bounded labels plus alert_id identify the alert; call id and text are annotations;
        it is active from atMs for the configured TTL."""
        alert = make("b" * 32, "c-7", at_ms=1_780_000_000_123)
        posted = alertmanager_alert(alert, ttl_s=3600)
        assert posted["labels"] == {
            "alertname": "RechoCallErrored",
            "severity": "critical",
            "project_id": alert.project_id,
            "error_code": "NETWORK_ERROR",
            "event_type": "OUTBOUND_CALL_ERROR",
            "direction": "OUTBOUND",
            "alert_id": "b" * 32,
        }
        annotations = posted["annotations"]
        assert annotations["call_id"] == "c-7"
        assert annotations["summary"] == alert.summary
        assert annotations["error_codes"] == "NETWORK_ERROR"
        assert posted["startsAt"] == "2026-05-28T20:26:40.123Z"
        assert posted["endsAt"] == "2026-05-28T21:26:40.123Z"
        assert "call_id" not in posted["labels"]

    def test_stalled_alert_has_its_own_alertname(self) -> None:
        """CALL_STALLED posts as RechoCallStalled, coded by its kind, with no empty labels."""
        posted = alertmanager_alert(make(kind="CALL_STALLED", severity="warning"), ttl_s=60)
        assert posted["labels"]["alertname"] == "RechoCallStalled"
        assert posted["labels"]["error_code"] == "CALL_STALLED"
        assert "event_type" not in posted["labels"]
        assert all(posted["labels"].values())


class TestSinksOverHttp:
    async def test_alertmanager_gets_every_alert_in_one_list(
        self, start_receiver: StartReceiver, client: httpx.AsyncClient
    ) -> None:
        """The batch goes to POST {url}/api/v2/alerts as a JSON list, one entry per alert."""
        server = await start_receiver()
        sink = AlertmanagerSink(client, server.url + "/", ttl_s=600)
        await sink.send([make("a1" * 16, "c-1"), make("a2" * 16, "c-2")])
        (request,) = server.received
        assert (request.method, request.path) == ("POST", "/api/v2/alerts")
        assert request.headers["content-type"] == "application/json"
        assert [a["labels"]["alert_id"] for a in request.body] == ["a1" * 16, "a2" * 16]

    async def test_webhook_sends_records_with_idempotency_key(
        self, start_receiver: StartReceiver, client: httpx.AsyncClient
    ) -> None:
        """One alert: Idempotency-Key is its alertId; a group: the group's stable key; the body
        carries the alert records as the worker wrote them."""
        server = await start_receiver()
        sink = WebhookSink(client, server.url + "/hook")
        one = make("c" * 32)
        group = [make("d1", "c-1"), make("d2", "c-2")]
        await sink.send([one])
        await sink.send(group)
        first, second = server.received
        assert first.path == "/hook"
        assert first.headers["idempotency-key"] == "c" * 32
        assert first.body["alerts"] == [one.record]
        assert first.body["count"] == 1
        assert second.headers["idempotency-key"] == idempotency_key(group)
        assert second.body["idempotencyKey"] == idempotency_key(group)
        assert [a["alertId"] for a in second.body["alerts"]] == ["d1", "d2"]

    async def test_slack_gets_a_human_message(
        self, start_receiver: StartReceiver, client: httpx.AsyncClient
    ) -> None:
        """A Slack-style webhook gets text plus blocks naming the call, code and summary."""
        server = await start_receiver()
        await SlackSink(client, server.url).send([make("e" * 32, "c-42")])
        (request,) = server.received
        assert request.body["text"].startswith("[critical] OUTBOUND_CALL_ERROR on call c-42")
        kinds = [block["type"] for block in request.body["blocks"]]
        assert kinds == ["header", "section", "context"]
        assert "`c-42`" in request.body["blocks"][1]["text"]["text"]

    def test_slack_group_message_is_bounded_and_escaped(self) -> None:
        """A burst lists 10 alerts and counts the rest; <, > and & cannot inject markup."""
        alerts = [make(f"g{i}", f"c<{i}>", "NETWORK_ERROR") for i in range(25)]
        message = slack_message(alerts)
        assert message["text"] == "[critical] 25 Recho call alerts on 25 call(s): NETWORK_ERROR x25"
        lines = message["blocks"][1]["text"]["text"].splitlines()
        assert len(lines) == 11
        assert lines[-1] == "…and 15 more"
        assert "c&lt;0&gt;" in lines[0]
        assert "<" not in lines[0]

    def test_only_configured_sinks_are_built(self, client: httpx.AsyncClient) -> None:
        """Each sink exists only if its URL is set; Alertmanager comes first."""
        settings = Settings(
            notifier_alertmanager_url="http://am:9093", notifier_slack_url="http://slack"
        )
        assert [s.name for s in build_sinks(settings, client)] == ["alertmanager", "slack"]
        assert build_sinks(Settings(), client) == []


class TestRetries:
    async def test_server_errors_are_retried_until_delivered(
        self, start_receiver: StartReceiver, client: httpx.AsyncClient
    ) -> None:
        """Two 503s then a 200: three requests, the alert is delivered once and counted so."""
        server = await start_receiver(fail_first=2)
        sink = ReliableSink(WebhookSink(client, server.url), FAST)
        before = deliveries("webhook", "delivered")
        assert await sink.deliver([make()], asyncio.Event()) is SinkDelivery.DELIVERED
        assert len(server.received) == 3
        assert {r.headers["idempotency-key"] for r in server.received} == {"a" * 32}
        assert deliveries("webhook", "delivered") == before + 1

    async def test_retry_after_is_honoured(
        self, start_receiver: StartReceiver, client: httpx.AsyncClient
    ) -> None:
        """A 429 with Retry-After waits at least that long before trying again."""
        server = await start_receiver(fail_first=1, fail_status=429, retry_after="0.3")
        sink = ReliableSink(SlackSink(client, server.url), FAST)
        started = time.monotonic()
        assert await sink.deliver([make()], asyncio.Event()) is SinkDelivery.DELIVERED
        assert time.monotonic() - started >= 0.3
        assert len(server.received) == 2

    async def test_client_errors_are_not_retried(
        self, start_receiver: StartReceiver, client: httpx.AsyncClient
    ) -> None:
        """A 400 cannot get better: one request, counted failed, not remembered as sent."""
        server = await start_receiver(fail_first=10, fail_status=400)
        sink = ReliableSink(AlertmanagerSink(client, server.url, ttl_s=60), FAST)
        before = deliveries("alertmanager", "failed")
        assert await sink.deliver([make()], asyncio.Event()) is SinkDelivery.FAILED
        assert len(server.received) == 1
        assert deliveries("alertmanager", "failed") == before + 1
        assert "a" * 32 not in sink.recent

    async def test_a_sink_down_past_the_budget_is_reported_and_still_retried(
        self, start_receiver: StartReceiver, client: httpx.AsyncClient
    ) -> None:
        """A sink failing longer than notifier_retry_max_s is reported down (gauge 1)
        but its alerts are never given up: once it answers again they are delivered
        and the gauge returns to 0."""
        server = await start_receiver(fail_first=12)
        policy = RetryPolicy(budget_s=0.2, base_s=0.02, cap_s=0.05)
        sink = ReliableSink(WebhookSink(client, server.url), policy)
        seen_down: list[float] = []

        async def watch() -> None:
            while True:
                seen_down.append(sink_down("webhook"))
                await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch())
        try:
            assert await sink.deliver([make()], asyncio.Event()) is SinkDelivery.DELIVERED
        finally:
            watcher.cancel()
        assert 1.0 in seen_down
        assert sink_down("webhook") == 0.0
        assert len(server.received) == 13

    async def test_unreachable_sink_is_retried_until_stopped(
        self, client: httpx.AsyncClient
    ) -> None:
        """Connection refused is a retriable DeliveryError: past the budget it is
        reported down once and retried until shutdown, which aborts (uncommitted)."""
        sink = WebhookSink(client, "http://127.0.0.1:9")  # discard port: nobody listens
        errors: list[tuple[DeliveryError, int]] = []
        downs: list[int] = []
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.6, stop.set)
        outcome = await deliver(
            lambda: sink.send([make()]),
            RetryPolicy(budget_s=0.2, base_s=0.02, cap_s=0.05),
            stop,
            lambda exc, attempt: errors.append((exc, attempt)),
            on_down=lambda: downs.append(1),
        )
        assert outcome is SinkDelivery.ABORTED
        assert downs == [1]
        assert len(errors) >= 5
        assert all(exc.retriable for exc, _ in errors)
        assert [attempt for _, attempt in errors][:2] == [1, 2]

    async def test_stop_interrupts_the_backoff(
        self, start_receiver: StartReceiver, client: httpx.AsyncClient
    ) -> None:
        """Shutting down while waiting to retry ends at once as aborted; the alert is not
        remembered, so its redelivery after the restart is sent."""
        server = await start_receiver(fail_first=10_000)
        slow = RetryPolicy(budget_s=60, base_s=10, cap_s=10)
        sink = ReliableSink(WebhookSink(client, server.url), slow)
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.2, stop.set)
        started = time.monotonic()
        assert await sink.deliver([make()], stop) is SinkDelivery.ABORTED
        assert time.monotonic() - started < 2
        assert "a" * 32 not in sink.recent

    def test_backoff_grows_exponentially_with_jitter(self) -> None:
        """Each delay is random in [0, min(cap, base * 2^(n-1))]: spread out, bounded."""
        policy = RetryPolicy(budget_s=300, base_s=0.5, cap_s=30)
        rng = random.Random(7)
        for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (20, 30.0)]:
            delays = [policy.delay_s(attempt, rng) for _ in range(200)]
            assert all(0 <= d <= ceiling for d in delays)
            assert max(delays) > ceiling * 0.8


class TestSuppression:
    async def test_redelivered_alert_is_not_sent_twice(
        self, start_receiver: StartReceiver, client: httpx.AsyncClient
    ) -> None:
        """The same alertId again (a Kafka redelivery) makes no request and counts as
        suppressed; a new alert in the same batch is still sent."""
        server = await start_receiver()
        sink = ReliableSink(WebhookSink(client, server.url), FAST)
        first = make("f1" * 16)
        assert await sink.deliver([first], asyncio.Event()) is SinkDelivery.DELIVERED
        before = deliveries("webhook", "suppressed")
        again = make("f1" * 16)
        assert await sink.deliver([again], asyncio.Event()) is SinkDelivery.DELIVERED
        assert len(server.received) == 1
        assert deliveries("webhook", "suppressed") == before + 1
        await sink.deliver([again, make("f2" * 16)], asyncio.Event())
        assert len(server.received) == 2
        assert [a["alertId"] for a in server.received[1].body["alerts"]] == ["f2" * 16]

    async def test_failed_alert_is_sent_on_redelivery(
        self, start_receiver: StartReceiver, client: httpx.AsyncClient
    ) -> None:
        """An alert that failed is not marked sent: when it comes again it is delivered."""
        server = await start_receiver(fail_first=1, fail_status=400)
        sink = ReliableSink(WebhookSink(client, server.url), FAST)
        alert: Alert = make()
        assert await sink.deliver([alert], asyncio.Event()) is SinkDelivery.FAILED
        assert await sink.deliver([alert], asyncio.Event()) is SinkDelivery.DELIVERED
        assert len(server.received) == 2


class TestNotifierConfig:
    async def test_notifier_without_sinks_refuses_to_start(self) -> None:
        """With no sink URL set, consuming would commit alerts nobody got: ConfigError."""
        with pytest.raises(ConfigError, match="no sink"):
            await Notifier(Settings()).run(asyncio.Event())
