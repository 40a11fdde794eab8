"""The simulator's engine and sender against a small real HTTP server run in-process.

The server is uvicorn on a loopback port with a tiny ASGI app that records every request and
answers as each test tells it (503 first, 401 always, slow...), so per-call order, retries,
backoff, the rate ceiling and stopping are checked over real HTTP rather than a mock.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from processor.errors import ConfigError
from processor.ingress.auth import Authenticator, load_public_keys
from processor.retry import RetryPolicy
from processor.settings import AuthMode, Settings
from processor.simulate import (
    DEFAULT_RETRY,
    DeliveryResult,
    SentEvent,
    Simulation,
    SimulationReport,
    simulate,
)
from processor.simulate.command import add_arguments, command
from processor.simulate.console import SimulationConsole, progress_line, render_report
from processor.simulate.pacing import RateLimiter
from processor.simulate.report import LatencyHistogram, LatencySummary
from processor.simulate.sender import Credentials, Sender, ensure_key_pair
from tests.support.fake_ingress import FakeIngress, Received
from tests.support.servers import free_port, serve


def fast_retry(**changes: Any) -> RetryPolicy:
    """The simulator's retry policy with shorter waits."""
    return replace(DEFAULT_RETRY, **changes)


FAST_RETRY = fast_retry(base_s=0.02, cap_s=0.1, budget_s=5.0)


def _digest(received: Received) -> bytes:
    return hashlib.sha256(received.body).digest()


@pytest.fixture
async def ingress() -> AsyncIterator[tuple[FakeIngress, str]]:
    """A fake ingress served by uvicorn on loopback, and its webhook URL."""
    app = FakeIngress()
    served = await serve(app)
    yield app, f"{served.url}/webhooks/recho"
    await served.stop()


def make_settings(url: str, **overrides: Any) -> Settings:
    """Fast simulator settings against ``url``: compressed gaps, no rate limit to speak of."""
    values: dict[str, Any] = {
        "simulate_target_url": url,
        "simulate_calls": 10,
        "simulate_concurrent_calls": 5,
        "simulate_rate_per_s": 10_000,
        "simulate_time_scale": 1e-5,
        "simulate_seed": 1,
        "auth_mode": AuthMode.NONE,
    }
    values.update(overrides)
    return Settings(**values)


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    open_now = peak = 0
    for _, delta in edges:
        open_now += delta
        peak = max(peak, open_now)
    return peak


class TestSimulation:
    """Simulation.run / simulate(): calls in flight, order, counts, retries, stopping."""

    async def test_every_event_arrives_in_call_order_and_counts_match(
        self, ingress: tuple[FakeIngress, str]
    ) -> None:
        """Each call's events reach the ingress in the order sent, even when a third of
        the first attempts get 503: the next event waits for the previous one's 2xx. The
        report counts what the server saw."""
        app, url = ingress
        app.answer = lambda r: 503 if r.attempt == 1 and _digest(r)[0] % 3 == 0 else 202
        sent: list[SentEvent] = []
        report = await simulate(
            make_settings(url, simulate_calls=30, simulate_concurrent_calls=8),
            on_delivery=sent.append,
            retry=FAST_RETRY,
        )
        assert report.calls_started == 30
        assert sum(report.calls_finished.values()) == 30
        assert report.rejected == 0
        assert report.sent == report.accepted == len(sent)
        assert report.requests == len(app.requests)
        assert report.retried == sum(r.attempt > 1 for r in app.requests) > 0
        assert report.responses_by_status == dict(Counter(str(r.status) for r in app.requests))
        assert report.sent_by_type == dict(Counter(e.event_type for e in sent))
        assert report.latency.count == report.accepted
        sent_by_call: dict[str, list[bytes]] = defaultdict(list)
        for event in sent:
            sent_by_call[event.call_id].append(event.body)
        for call_id, requests in app.by_call().items():
            accepted = [r.body for r in requests if r.status == 202]
            assert accepted == sent_by_call[call_id]
            # Nothing of the next event was sent while the previous one was still retried.
            arrivals = [r.body for r in requests]
            assert arrivals == sorted(arrivals, key=accepted.index)
        spans = [(rs[0].arrived_at, rs[-1].answered_at) for rs in app.by_call().values()]
        assert 1 < max_overlap(spans) <= 8

    async def test_stops_after_n_calls_with_bounded_concurrency(
        self, ingress: tuple[FakeIngress, str]
    ) -> None:
        """simulate_calls=7 starts exactly 7 calls, never more than 3 at a time."""
        app, url = ingress
        app.delay_s = 0.005
        report = await simulate(make_settings(url, simulate_calls=7, simulate_concurrent_calls=3))
        assert report.calls_started == 7
        assert len(app.by_call()) == 7
        spans = [(rs[0].arrived_at, rs[-1].answered_at) for rs in app.by_call().values()]
        assert max_overlap(spans) <= 3
        assert not report.stopped
        assert not report.running

    async def test_retries_back_off_exponentially(self, ingress: tuple[FakeIngress, str]) -> None:
        """Two 503s before the 202: the waits before the retries are at least half of
        base, then half of 2 x base (equal jitter), and each is counted."""
        app, url = ingress
        app.answer = lambda r: (
            503 if r.event_type == "OUTBOUND_CALL_REQUESTED" and r.attempt <= 2 else 202
        )
        policy = fast_retry(base_s=0.1, cap_s=1.0)
        report = await simulate(
            make_settings(url, simulate_calls=3, simulate_mix="completed=1"), retry=policy
        )
        assert report.retried == 6
        assert report.responses_by_status == {"503": 6, "202": 15}
        assert report.accepted == report.sent == 15
        for requests in app.by_call().values():
            tries = [r for r in requests if r.event_type == "OUTBOUND_CALL_REQUESTED"]
            assert [r.attempt for r in tries] == [1, 2, 3]
            assert tries[1].arrived_at - tries[0].answered_at >= 0.05 * 0.95
            assert tries[2].arrived_at - tries[1].answered_at >= 0.1 * 0.95

    async def test_retry_after_is_honoured(self, ingress: tuple[FakeIngress, str]) -> None:
        """A 503 with Retry-After: 1 delays the retry by about a second (within
        cap_s), though the backoff alone would wait only 10 to 20 ms."""
        app, url = ingress
        app.retry_after = "1"
        app.answer = lambda r: 503 if r.attempt == 1 and "CONNECTING" in r.event_type else 202
        report = await simulate(
            make_settings(url, simulate_calls=1, simulate_mix="inbound_concurrency_limit=1"),
            retry=fast_retry(base_s=0.02, cap_s=2.0),
        )
        assert report.accepted == 2
        first, second = app.requests[:2]
        assert second.arrived_at - first.answered_at >= 0.95

    async def test_client_errors_are_rejected_without_retry(
        self, ingress: tuple[FakeIngress, str]
    ) -> None:
        """A 401 is not retried: the event is rejected, its call aborted, nothing more of
        that call is sent."""
        app, url = ingress
        app.answer = lambda _: 401
        report = await simulate(make_settings(url, simulate_calls=6), retry=FAST_RETRY)
        assert report.rejected_by_status == {"401": 6}
        assert report.requests == 6
        assert report.retried == 0
        assert report.accepted == 0
        assert sum(report.calls_aborted.values()) == 6
        assert report.calls_finished == {}

    async def test_gives_up_after_max_attempts(self, ingress: tuple[FakeIngress, str]) -> None:
        """Persistent 503s are tried max_attempts times, then counted as rejected."""
        app, url = ingress
        app.answer = lambda _: 503
        policy = fast_retry(max_attempts=3, base_s=0.01, cap_s=0.02)
        report = await simulate(make_settings(url, simulate_calls=2), retry=policy)
        assert report.requests == 6
        assert report.retried == 4
        assert report.rejected_by_status == {"503": 2}
        assert [r.attempt for r in app.requests].count(3) == 2

    async def test_transport_errors_are_retried_then_counted(self) -> None:
        """Nobody listening: each first event is attempted max_attempts times and counted
        under "transport"."""
        url = f"http://127.0.0.1:{free_port()}/webhooks/recho"
        policy = fast_retry(max_attempts=2, base_s=0.01, cap_s=0.02)
        report = await simulate(make_settings(url, simulate_calls=3), retry=policy)
        assert report.rejected_by_status == {"transport": 3}
        assert report.responses_by_status == {"transport": 6}
        assert report.sent == 3

    async def test_rate_is_a_ceiling(self, ingress: tuple[FakeIngress, str]) -> None:
        """At 40 webhooks/s, 40 webhooks take about a second, however many calls are in
        flight, and no half second sees much more than half the rate."""
        app, url = ingress
        settings = make_settings(
            url,
            simulate_calls=20,
            simulate_concurrent_calls=20,
            simulate_rate_per_s=40,
            simulate_mix="inbound_concurrency_limit=1",
        )
        report = await simulate(settings)
        assert report.sent == 40
        assert 0.8 <= report.elapsed_s <= 3.0
        arrivals = [r.arrived_at for r in app.requests]
        for start in arrivals:
            assert sum(start <= t < start + 0.5 for t in arrivals) <= 20 + 8

    async def test_duration_stop_is_graceful(self, ingress: tuple[FakeIngress, str]) -> None:
        """With real (minutes long) gaps and no call limit, simulate_duration_s ends the run
        on time: calls waiting for their next event are interrupted, nothing sent is lost."""
        app, url = ingress
        settings = make_settings(
            url,
            simulate_calls=0,
            simulate_concurrent_calls=5,
            simulate_time_scale=1.0,
            simulate_duration_s=0.3,
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        report = await simulate(settings)
        assert loop.time() - started < 2.0
        assert report.stopped
        assert report.calls_started == 5
        assert report.calls_interrupted == 5
        assert report.sent == report.accepted == len(app.requests) >= 5

    async def test_stop_lets_requests_on_the_wire_finish(
        self, ingress: tuple[FakeIngress, str]
    ) -> None:
        """stop() while requests are in flight: they get their answers and count as
        accepted; no new request is made after."""
        app, url = ingress
        app.delay_s = 0.3
        simulation = Simulation(make_settings(url, simulate_calls=0, simulate_concurrent_calls=3))
        run = asyncio.create_task(simulation.run())
        await app.first_request.wait()
        await asyncio.sleep(0.05)
        in_flight = len(app.requests)
        simulation.stop()
        report = await run
        assert len(app.requests) == in_flight
        assert report.sent == report.accepted == in_flight
        assert report.rejected == 0
        assert report.calls_interrupted == report.calls_started

    async def test_progress_hook_sees_running_snapshots_then_the_final_report(
        self, ingress: tuple[FakeIngress, str]
    ) -> None:
        """on_progress gets snapshots while running and the final report last."""
        app, url = ingress
        app.delay_s = 0.02
        seen: list[SimulationReport] = []
        simulation = Simulation(make_settings(url, simulate_calls=12, simulate_concurrent_calls=2))
        report = await simulation.run(seen.append, progress_interval_s=0.05)
        assert seen[-1] is report
        assert not report.running
        assert any(s.running and s.calls_in_flight > 0 for s in seen[:-1])

    async def test_project_id_follows_the_ingress_allow_list(
        self, ingress: tuple[FakeIngress, str]
    ) -> None:
        """Without an explicit projectId, the first allowed projectId is used."""
        app, url = ingress
        allowed = "0b8f2a52-7d3e-4f0c-9a51-3c2d1e0f4a5b"
        settings = make_settings(url, simulate_calls=1, auth_allowed_project_ids=allowed)
        await simulate(settings)
        assert {orjson.loads(r.body)["projectId"] for r in app.requests} == {allowed}

    async def test_signature_mode_signs_every_attempt(
        self, ingress: tuple[FakeIngress, str], tmp_path: Path
    ) -> None:
        """In SIGNATURE_RSA_SHA256 mode the key pair is made if missing, and every attempt
        (retries included) verifies with the ingress's authenticator."""
        app, url = ingress
        settings = make_settings(
            url,
            simulate_calls=4,
            auth_mode=AuthMode.SIGNATURE_RSA_SHA256,
            simulate_key_dir=tmp_path / "keys",
        )
        _, public = ensure_key_pair(settings)
        keys = load_public_keys(public.read_bytes(), source="test")
        app.authenticator = Authenticator(AuthMode.SIGNATURE_RSA_SHA256, public_keys=keys)
        app.answer = lambda r: 503 if r.attempt == 1 and r.event_type.endswith("G") else 202
        report = await simulate(settings, retry=FAST_RETRY)
        assert report.rejected == 0
        assert report.retried > 0
        assert report.accepted == report.sent
        assert {r.status for r in app.requests} == {202, 503}
        assert all(
            orjson.loads(r.body)["authConfig"]["authType"] == "SIGNATURE_RSA_SHA256"
            for r in app.requests
        )

    async def test_bearer_mode_sends_the_token(self, ingress: tuple[FakeIngress, str]) -> None:
        """In BEARER mode every request carries the configured token."""
        app, url = ingress
        settings = make_settings(
            url, simulate_calls=2, auth_mode=AuthMode.BEARER, simulate_bearer_token="s3cret"
        )
        await simulate(settings)
        assert {r.headers["authorization"] for r in app.requests} == {"Bearer s3cret"}

    def test_bad_configuration_is_a_config_error(self) -> None:
        """An unknown outcome in the mix, a missing token or a non-HTTP target is a
        ConfigError before anything is sent."""
        with pytest.raises(ConfigError, match="simulate_mix: unknown outcome"):
            Simulation(make_settings("http://127.0.0.1:1/h", simulate_mix="ringing=1"))
        with pytest.raises(ConfigError, match="simulate_bearer_token"):
            Credentials.from_settings(make_settings("http://x/h", auth_mode=AuthMode.BEARER))

    async def test_bad_target_url(self) -> None:
        """A target URL that is not http(s) fails the run at once."""
        with pytest.raises(ConfigError, match="http"):
            await simulate(make_settings("ftp://127.0.0.1/h"))


class TestSender:
    """Sender on its own: fresh signatures per attempt, delivery results."""

    async def test_every_attempt_gets_a_fresh_timestamp(
        self, ingress: tuple[FakeIngress, str]
    ) -> None:
        """A retried body is re-signed with the current time, byte-identical otherwise."""
        app, url = ingress
        app.answer = lambda r: 503 if r.attempt < 3 else 202
        now = iter(range(1_767_225_600, 1_767_225_700, 30))
        bearer = Credentials(AuthMode.BEARER, token=SecretStr("t").get_secret_value())
        async with httpx.AsyncClient() as client:
            sender = Sender(client, url, bearer, retry=FAST_RETRY, clock=lambda: next(now))
            delivery = await sender.send(b'{"eventType":"X","body":{"data":{"callId":"c"}}}')
        assert delivery.result is DeliveryResult.ACCEPTED
        assert delivery.attempts == 3
        assert len({r.body for r in app.requests}) == 1

    async def test_signed_timestamps_advance(
        self, ingress: tuple[FakeIngress, str], tmp_path: Path
    ) -> None:
        """In signature mode each attempt's X-Recho-Timestamp is the clock at that attempt."""
        app, url = ingress
        app.answer = lambda r: 503 if r.attempt < 3 else 202
        settings = make_settings(
            url, auth_mode=AuthMode.SIGNATURE_RSA_SHA256, simulate_key_dir=tmp_path
        )
        now = iter(range(1_767_225_600, 1_767_225_700, 30))
        async with httpx.AsyncClient() as client:
            sender = Sender(
                client,
                url,
                Credentials.from_settings(settings),
                retry=FAST_RETRY,
                clock=lambda: next(now),
            )
            await sender.send(b'{"eventType":"X","body":{"data":{"callId":"c"}}}')
        stamps = [r.headers["x-recho-timestamp"] for r in app.requests]
        assert stamps == ["1767225600", "1767225630", "1767225660"]


class TestPieces:
    """The runner's small parts: latency histogram and rate limiter."""

    def test_histogram_percentiles_within_two_percent(self) -> None:
        """Percentiles of 1..1000 ms come out within 2 % of the exact ones."""
        histogram = LatencyHistogram()
        for ms in range(1, 1001):
            histogram.add(ms / 1000)
        summary = histogram.summary()
        assert summary.count == 1000
        assert summary.p50_s == pytest.approx(0.5, rel=0.021)
        assert summary.p99_s == pytest.approx(0.99, rel=0.021)
        assert summary.max_s == 1.0
        assert LatencyHistogram().summary() == LatencySummary()

    def test_rate_limiter_spaces_requests_after_a_burst(self) -> None:
        """After a burst of 3, reservations are one interval apart."""
        limiter = RateLimiter(10.0, burst=3)
        waits = [limiter.reserve(100.0) for _ in range(5)]
        assert waits == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2])
        assert limiter.reserve(200.0) == 0.0


class TestConsole:
    """What the user reads: progress lines and the final table of what was sent."""

    def report(self) -> SimulationReport:
        """A small finished report."""
        return SimulationReport(
            target_url="http://127.0.0.1:8080/webhooks/recho",
            auth_mode="NONE",
            elapsed_s=2.0,
            running=False,
            stopped=False,
            calls_started=2,
            calls_in_flight=0,
            calls_finished={"completed": 1},
            calls_aborted={"busy": 1},
            calls_interrupted=0,
            sent_by_type={"OUTBOUND_CALL_PENDING": 2, "OUTBOUND_CALL_REQUESTED": 1},
            accepted_by_type={"OUTBOUND_CALL_PENDING": 2},
            rejected_by_status={"401": 1},
            responses_by_status={"202": 2, "401": 1},
            requests=3,
            retried=0,
            latency=LatencySummary(2, 0.002, 0.003, 0.004, 0.004),
        )

    def test_final_report_lists_types_outcomes_and_answers(self) -> None:
        """The final summary names every sent eventType with its counts, the outcomes and
        the rejections."""
        out = io.StringIO()
        console = SimulationConsole(out, progress_stream=io.StringIO(), live=False)
        console.print_report(self.report())
        text = out.getvalue()
        assert "OUTBOUND_CALL_PENDING" in text
        assert "OUTBOUND_CALL_REQUESTED" in text
        assert "completed" in text
        assert "busy" in text
        assert "401: 1" in text
        assert render_report(self.report()) is not None

    def test_plain_progress_lines_are_throttled(self) -> None:
        """Off a terminal, a progress line is printed at most every line_interval_s."""
        lines = io.StringIO()
        ticks = iter([0.0, 1.0, 6.0])
        console = SimulationConsole(
            io.StringIO(), progress_stream=lines, live=False, clock=lambda: next(ticks)
        )
        running = replace(self.report(), running=True)
        with console:
            for _ in range(3):
                console.update(running)
        printed = lines.getvalue().splitlines()
        assert len(printed) == 2
        assert printed[0] == progress_line(running)
        assert "sent 3" in printed[0]


class TestCommand:
    """``processor simulate`` as the CLI runs it (its own event loop, so sync tests)."""

    def test_print_public_key(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--print-public-key makes the key pair and prints the public key's path only."""
        parser = argparse.ArgumentParser()
        add_arguments(parser)
        args = parser.parse_args(["--print-public-key"])
        settings = Settings(simulate_key_dir=tmp_path / "keys")
        assert command(settings, args) == 0
        out, err = capsys.readouterr()
        public = Path(out.strip())
        assert public == tmp_path / "keys" / "recho-dev.pub.pem"
        assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
        assert "--auth-public-keys-dir" in err

    def test_run_prints_the_report_and_fails_on_rejections(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A run whose webhooks cannot be delivered prints its summary and exits 1."""
        parser = argparse.ArgumentParser()
        add_arguments(parser)
        args = parser.parse_args(["--max-attempts", "1"])
        settings = make_settings(f"http://127.0.0.1:{free_port()}/h", simulate_calls=2)
        assert command(settings, args) == 1
        out, _ = capsys.readouterr()
        assert "Events by type" in out
        assert "transport: 2" in out
