"""The simulation engine: many calls in flight, each sending its events in order.

Where it sits: scenarios -> **runner** -> sender -> ingress. A :class:`Simulation` keeps up
to ``simulate_concurrent_calls`` calls going; each call is one task that plans its lifecycle
(:func:`~processor.simulate.scenarios.plan_call`), waits each realistic gap scaled by
``simulate_time_scale``, and sends the next event only once the previous one got a 2xx. That
is the platform's per-call FIFO: a call's events reach the ingress in order, whatever
retries happen. A call whose event is rejected or given up on sends nothing more (aborted).

Every attempt (first tries and retries alike) takes a token from one global bucket
(:class:`~processor.simulate.pacing.Pacer`) refilled at ``simulate_rate_per_s``, so the
ingress never sees more than that rate; the rate is a ceiling, reached only if enough calls
are in flight. The counts and the report are in :mod:`~processor.simulate.report`.

The run ends after ``simulate_calls`` calls have finished, after ``simulate_duration_s``,
or on :meth:`Simulation.stop` (Ctrl-C). Stopping is graceful: no new call starts, waits are
cut short, requests already on the wire get their answer, and nothing more is sent; the
calls cut short are counted as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from typing import Final

from processor.contract.enums import Direction
from processor.errors import ConfigError
from processor.retry import RetryPolicy
from processor.settings import Settings
from processor.simulate.envelopes import envelope_bytes
from processor.simulate.outcomes import direction_of, parse_mix
from processor.simulate.pacing import Pacer
from processor.simulate.report import (
    Counts,
    DeliveryHook,
    ProgressHook,
    SentEvent,
    SimulationReport,
)
from processor.simulate.scenarios import plan_call
from processor.simulate.sender import DEFAULT_RETRY, DeliveryResult, Sender

DEFAULT_PROJECT_ID: Final = "6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f"
"""projectId of simulated traffic unless the ingress has an allow-list (then its first)."""
_BURST_S: Final = 0.05
"""How much unused rate the bucket keeps: up to 50 ms worth of requests at once."""


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
        self._pacer = Pacer(rate, burst=max(1.0, rate * _BURST_S))
        self._counts = Counts()
        self._active = 0
        self._slot_free = asyncio.Event()
        self._started_at: float | None = None
        self._ended_at: float | None = None

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._pacer.stopping

    def stop(self) -> None:
        """Stop gracefully: no new calls, waits cut short, in-flight requests finish."""
        if self._pacer.stopping:
            return
        self._pacer.stop()
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
            while not self._pacer.stopping and (limit == 0 or index < limit):
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
                if await self._pacer.pause(planned.gap_s * scale):
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
                delivery = await sender.send(body, self._pacer, lane=index)
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

    async def _report_progress(self, on_progress: ProgressHook, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            on_progress(self.snapshot())

    def snapshot(self) -> SimulationReport:
        """The counts so far (the final report once :meth:`run` returned)."""
        if self._started_at is None:
            elapsed = 0.0
        elif self._ended_at is not None:
            elapsed = self._ended_at - self._started_at
        else:
            elapsed = asyncio.get_running_loop().time() - self._started_at
        return self._counts.report(
            target_url=self._settings.simulate_target_url,
            auth_mode=self._settings.auth_mode.value,
            elapsed_s=elapsed,
            running=self._ended_at is None,
            stopped=self._pacer.stopping,
            calls_in_flight=self._active,
        )


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
