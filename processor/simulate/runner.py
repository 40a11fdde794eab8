"""The simulation engine: many calls in flight, each sending its events in order.

Where it sits: scenarios -> **runner** -> sender -> ingress. A :class:`Simulation` keeps up
to ``simulate_concurrent_calls`` calls going; each call is one task that plans its lifecycle
(:func:`~processor.simulate.scenarios.plan_call`), waits each realistic gap scaled by
``simulate_time_scale``, and sends the next event only once the previous one got a 2xx. That
is the platform's per-call FIFO: a call's events reach the ingress in order, whatever
retries happen. A call whose event is rejected or given up on sends nothing more (aborted).

Every attempt (first tries and retries alike) takes a token from one global bucket refilled
at ``simulate_rate_per_s``, so the ingress never sees more than that rate; the rate is a
ceiling, reached only if enough calls are in flight.

The run ends after ``simulate_calls`` calls have finished, after ``simulate_duration_s``,
or on :meth:`Simulation.stop` (Ctrl-C). Stopping is graceful: no new call starts, waits are
cut short, requests already on the wire get their answer, and nothing more is sent; the
calls cut short are counted as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from processor.contract.enums import Direction
from processor.errors import ConfigError
from processor.retry import RetryPolicy
from processor.settings import Settings
from processor.simulate.envelopes import envelope_bytes
from processor.simulate.outcomes import Outcome, direction_of, parse_mix
from processor.simulate.scenarios import plan_call
from processor.simulate.sender import DEFAULT_RETRY, Delivery, DeliveryResult, Sender

DEFAULT_PROJECT_ID: Final = "6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f"
"""projectId of simulated traffic unless the ingress has an allow-list (then its first)."""
_BURST_S: Final = 0.05
"""How much unused rate the bucket keeps: up to 50 ms worth of requests at once."""


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Durations of accepted requests (one HTTP round trip each), in seconds."""

    count: int = 0
    p50_s: float = 0.0
    p90_s: float = 0.0
    p99_s: float = 0.0
    max_s: float = 0.0


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """What a simulation sent and how the ingress answered; a snapshot while it runs."""

    target_url: str
    auth_mode: str
    elapsed_s: float
    running: bool
    """True in progress snapshots, False in the final report."""
    stopped: bool
    """The run was stopped (duration, Ctrl-C) rather than running out of calls."""
    calls_started: int
    calls_in_flight: int
    calls_finished: dict[str, int]
    """Calls whose every event was accepted, by outcome."""
    calls_aborted: dict[str, int]
    """Calls that stopped sending because an event was rejected or given up on, by outcome."""
    calls_interrupted: int
    """Calls cut short by the stop."""
    sent_by_type: dict[str, int]
    """Events posted at least once, by eventType: accepted, rejected, or cut short by the
    stop while being retried."""
    accepted_by_type: dict[str, int]
    rejected_by_status: dict[str, int]
    """Events rejected or given up on, by the last answer (``"401"``, ``"transport"``)."""
    responses_by_status: dict[str, int]
    """Every attempt's answer, retries included."""
    requests: int
    retried: int
    """Attempts after an event's first."""
    latency: LatencySummary

    @property
    def sent(self) -> int:
        """Events posted at least once."""
        return sum(self.sent_by_type.values())

    @property
    def accepted(self) -> int:
        """Events that got a 2xx."""
        return sum(self.accepted_by_type.values())

    @property
    def rejected(self) -> int:
        """Events rejected or given up on."""
        return sum(self.rejected_by_status.values())

    @property
    def sent_per_s(self) -> float:
        """Average events posted per second."""
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class SentEvent:
    """One event's delivery, for callers that check what reached the ingress."""

    call_id: str
    outcome: Outcome
    event_type: str
    body: bytes
    delivery: Delivery


ProgressHook = Callable[[SimulationReport], None]
DeliveryHook = Callable[[SentEvent], None]


class LatencyHistogram:
    """Log-spaced buckets (2 % apart): percentiles within 2 % at constant cost per sample."""

    _FLOOR_S: Final = 1e-5
    _RATIO: Final = 1.02
    _BUCKETS: Final = 1000  # 10 us * 1.02**1000 ~ 4 hours

    def __init__(self) -> None:
        self._counts = [0] * (self._BUCKETS + 1)
        self._log_ratio = math.log(self._RATIO)
        self.count = 0
        self.max_s = 0.0

    def add(self, seconds: float) -> None:
        """Record one duration."""
        index = 0
        if seconds > self._FLOOR_S:
            index = min(self._BUCKETS, int(math.log(seconds / self._FLOOR_S) / self._log_ratio))
        self._counts[index] += 1
        self.count += 1
        self.max_s = max(self.max_s, seconds)

    def percentile(self, fraction: float) -> float:
        """The duration below which ``fraction`` of samples fall (0 without samples)."""
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(fraction * self.count))
        seen = 0
        for index, count in enumerate(self._counts):
            seen += count
            if seen >= rank:
                return min(self.max_s, self._FLOOR_S * self._RATIO ** (index + 1))
        return self.max_s

    def summary(self) -> LatencySummary:
        """Count, p50, p90, p99 and max."""
        return LatencySummary(
            self.count,
            self.percentile(0.50),
            self.percentile(0.90),
            self.percentile(0.99),
            self.max_s,
        )


class RateLimiter:
    """A token bucket as a schedule (GCRA): each caller learns how long to wait for its turn."""

    def __init__(self, rate_per_s: float, burst: float = 1.0) -> None:
        self._interval = 1.0 / rate_per_s
        self._tolerance = max(0.0, burst - 1.0) * self._interval
        self._next_at = -math.inf

    def reserve(self, now: float) -> float:
        """Take the next slot; return the seconds to wait before using it (0 if free now)."""
        due = max(self._next_at, now)
        self._next_at = due + self._interval
        return max(0.0, due - self._tolerance - now)


@dataclass(slots=True)
class _Counts:
    calls_started: int = 0
    calls_interrupted: int = 0
    calls_finished: Counter[str] = field(default_factory=Counter)
    calls_aborted: Counter[str] = field(default_factory=Counter)
    sent_by_type: Counter[str] = field(default_factory=Counter)
    accepted_by_type: Counter[str] = field(default_factory=Counter)
    rejected_by_status: Counter[str] = field(default_factory=Counter)
    responses_by_status: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    retried: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)


class Simulation:
    """One run of simulated Recho traffic against ``settings.simulate_target_url``."""

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        project_id: str | None = None,
        on_delivery: DeliveryHook | None = None,
        run_id: str | None = None,
    ) -> None:
        try:
            mix = parse_mix(settings.simulate_mix)
        except ValueError as exc:
            raise ConfigError(f"simulate_mix: {exc}") from exc
        self._settings = settings
        self._retry = retry or DEFAULT_RETRY
        self._outcomes = [o for o, w in mix.items() if w > 0]
        self._weights = [mix[o] for o in self._outcomes]
        allowed = settings.auth_allowed_project_ids
        self._project_id = project_id or (allowed[0] if allowed else DEFAULT_PROJECT_ID)
        self._on_delivery = on_delivery
        self._run_id = run_id or uuid.uuid4().hex[:8]
        self._rng = random.Random(settings.simulate_seed)  # noqa: S311 (traffic, not secrets)
        rate = settings.simulate_rate_per_s
        self._limiter = RateLimiter(rate, burst=max(1.0, rate * _BURST_S))
        self._counts = _Counts()
        self._active = 0
        self._stopping = False
        self._stopped = False
        self._sleepers: set[asyncio.Future[bool]] = set()
        self._slot_free = asyncio.Event()
        self._started_at: float | None = None
        self._ended_at: float | None = None

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stopping

    def stop(self) -> None:
        """Stop gracefully: no new calls, waits cut short, in-flight requests finish."""
        if self._stopping:
            return
        self._stopping = True
        self._stopped = True
        for sleeper in self._sleepers:
            if not sleeper.done():
                sleeper.set_result(True)
        self._slot_free.set()

    async def run(
        self, on_progress: ProgressHook | None = None, progress_interval_s: float = 0.5
    ) -> SimulationReport:
        """Run until the call limit, the duration or :meth:`stop`; return the final report.

        A simulation runs once; make a new one for another run.
        """
        if self._started_at is not None:
            raise RuntimeError("this simulation has already run")
        loop = asyncio.get_running_loop()
        self._started_at = loop.time()
        settings = self._settings
        timer = (
            loop.call_later(settings.simulate_duration_s, self.stop)
            if settings.simulate_duration_s > 0
            else None
        )
        progress = (
            asyncio.create_task(self._report_progress(on_progress, progress_interval_s))
            if on_progress is not None
            else None
        )
        try:
            async with Sender.open(
                settings, retry=self._retry, on_attempt=self._count_attempt
            ) as sender:
                await self._start_calls(sender)
        finally:
            self._ended_at = loop.time()
            if timer is not None:
                timer.cancel()
            if progress is not None:
                progress.cancel()
                # Re-raises what on_progress raised, if it did.
                with contextlib.suppress(asyncio.CancelledError):
                    await progress
        report = self.snapshot()
        if on_progress is not None:
            on_progress(report)
        return report

    async def _start_calls(self, sender: Sender) -> None:
        limit = self._settings.simulate_calls
        concurrent = self._settings.simulate_concurrent_calls
        async with asyncio.TaskGroup() as calls:
            index = 0
            while not self._stopping and (limit == 0 or index < limit):
                if self._active >= concurrent:
                    self._slot_free.clear()
                    await self._slot_free.wait()
                    continue
                seed = self._rng.getrandbits(64)
                self._active += 1
                calls.create_task(self._run_call(sender, index, seed))
                index += 1
                if index % 64 == 0:
                    await asyncio.sleep(0)  # let the calls start while more are spawned

    async def _run_call(self, sender: Sender, index: int, seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 (traffic, not secrets)
        outcome = rng.choices(self._outcomes, self._weights)[0]
        prefix = "i" if direction_of(outcome) is Direction.INBOUND else "c"
        call_id = f"{prefix}-{self._run_id}-{index:07d}"
        client_id = f"crm-{rng.randrange(1, 1000)}"
        counts = self._counts
        counts.calls_started += 1
        scale = self._settings.simulate_time_scale
        try:
            for planned in plan_call(outcome, call_id, rng):
                if await self.pause(planned.gap_s * scale):
                    counts.calls_interrupted += 1
                    return
                body = envelope_bytes(
                    planned,
                    call_id,
                    self._project_id,
                    client_id=client_id,
                    auth_type=self._settings.auth_mode.value,
                    target=self._settings.simulate_target_url,
                )
                delivery = await sender.send(body, self, lane=index)
                event_type = planned.event_type.value
                if delivery.attempts:
                    counts.sent_by_type[event_type] += 1
                    counts.retried += delivery.attempts - 1
                if self._on_delivery is not None:
                    self._on_delivery(SentEvent(call_id, outcome, event_type, body, delivery))
                if delivery.result is DeliveryResult.ACCEPTED:
                    counts.accepted_by_type[event_type] += 1
                    continue
                if delivery.result is DeliveryResult.STOPPED:
                    counts.calls_interrupted += 1
                    return
                counts.rejected_by_status[delivery.label] += 1
                counts.calls_aborted[outcome.value] += 1
                return
            counts.calls_finished[outcome.value] += 1
        finally:
            self._active -= 1
            self._slot_free.set()

    def _count_attempt(self, label: str, latency_s: float) -> None:
        self._counts.requests += 1
        self._counts.responses_by_status[label] += 1
        if label.startswith("2"):
            self._counts.latency.add(latency_s)

    async def before_attempt(self) -> bool:
        """Pacing: wait for a token of the global rate; True if stopping."""
        if self._stopping:
            return True
        delay = self._limiter.reserve(asyncio.get_running_loop().time())
        return await self.pause(delay) if delay > 0 else False

    async def pause(self, delay_s: float) -> bool:
        """Pacing: sleep ``delay_s`` unless stopped first; True if stopping."""
        if self._stopping:
            return True
        if delay_s <= 0:
            return False
        loop = asyncio.get_running_loop()
        # A future per sleeper (not an asyncio.Event) so that stop() wakes all of them and a
        # finished sleep leaves no waiter behind: calls sleep between all their events.
        sleeper: asyncio.Future[bool] = loop.create_future()
        wake = loop.call_later(delay_s, _resolve, sleeper)
        self._sleepers.add(sleeper)
        try:
            return await sleeper
        finally:
            wake.cancel()
            self._sleepers.discard(sleeper)

    async def _report_progress(self, on_progress: ProgressHook, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            on_progress(self.snapshot())

    def snapshot(self) -> SimulationReport:
        """The counts so far (the final report once :meth:`run` returned)."""
        counts = self._counts
        if self._started_at is None:
            elapsed = 0.0
        elif self._ended_at is not None:
            elapsed = self._ended_at - self._started_at
        else:
            elapsed = asyncio.get_running_loop().time() - self._started_at
        return SimulationReport(
            target_url=self._settings.simulate_target_url,
            auth_mode=self._settings.auth_mode.value,
            elapsed_s=elapsed,
            running=self._ended_at is None,
            stopped=self._stopped,
            calls_started=counts.calls_started,
            calls_in_flight=self._active,
            calls_finished=dict(counts.calls_finished),
            calls_aborted=dict(counts.calls_aborted),
            calls_interrupted=counts.calls_interrupted,
            sent_by_type=dict(counts.sent_by_type),
            accepted_by_type=dict(counts.accepted_by_type),
            rejected_by_status=dict(counts.rejected_by_status),
            responses_by_status=dict(counts.responses_by_status),
            requests=counts.requests,
            retried=counts.retried,
            latency=counts.latency.summary(),
        )


def _resolve(sleeper: asyncio.Future[bool]) -> None:
    if not sleeper.done():
        sleeper.set_result(False)


async def simulate(
    settings: Settings,
    *,
    on_progress: ProgressHook | None = None,
    on_delivery: DeliveryHook | None = None,
    retry: RetryPolicy | None = None,
    project_id: str | None = None,
) -> SimulationReport:
    """Run one simulation with ``settings`` and return its report (benchmarks, e2e tests).

    ``on_progress`` gets a snapshot every half second and the final report; ``on_delivery``
    gets every event's delivery as it ends, in each call's order.
    """
    simulation = Simulation(settings, retry=retry, project_id=project_id, on_delivery=on_delivery)
    return await simulation.run(on_progress)
