"""The worker's metric children: what each record adds to /metrics, with bounded label values.

Every test reads the worker's registry before and after, so it checks the
series a Prometheus scrape would see rather than the cache's internals.
"""

from __future__ import annotations

import uuid

import pytest

from processor.calls import ERROR_CODE_MAX_LEN, CallFinished, Verdict
from processor.calls.machine import AlertContext, AlertKind, RaiseAlert, Severity
from processor.calls.state import CallOutcome
from processor.contract.enums import CallStatus, Direction, EventType
from processor.metrics import WORKER_REGISTRY
from processor.worker.labels import MAX_CODES, OTHER, LabelCache


def sample(name: str, **labels: str) -> float:
    """A sample of the worker's registry now (0 while the series does not exist)."""
    return WORKER_REGISTRY.get_sample_value(name, labels) or 0.0


def errors(code: str, phase: str) -> float:
    """recho_worker_call_errors_total{code, phase} now."""
    return sample("recho_worker_call_errors_total", code=code, phase=phase)


def finished(outcome: CallOutcome, duration_ms: int, time_to_answer_ms: int | None) -> CallFinished:
    """The summary of a finished outbound call."""
    return CallFinished(
        call_id="c-1",
        project_id="p",
        direction=Direction.OUTBOUND,
        outcome=outcome,
        attempts=1,
        duration_ms=duration_ms,
        time_to_answer_ms=time_to_answer_ms,
        error_count=0,
        at_ms=0,
    )


class TestEvents:
    def test_counts_by_event_type_and_verdict(self) -> None:
        """A batch's counts show in recho_worker_events_total under their eventType and
        verdict, through the cached child as through the first one."""
        labels = {"event_type": "OUTBOUND_CALL_CALLING", "verdict": Verdict.DUPLICATE.value}
        other = {"event_type": "OUTBOUND_CALL_CALLING", "verdict": Verdict.EXPECTED.value}
        before = (
            sample("recho_worker_events_total", **labels),
            sample("recho_worker_events_total", **other),
        )
        cache = LabelCache()
        cache.events({(EventType.OUTBOUND_CALL_CALLING, Verdict.DUPLICATE): 2})
        cache.events(
            {
                (EventType.OUTBOUND_CALL_CALLING, Verdict.DUPLICATE): 3,
                (EventType.OUTBOUND_CALL_CALLING, Verdict.EXPECTED): 1,
            }
        )
        assert sample("recho_worker_events_total", **labels) == before[0] + 5
        assert sample("recho_worker_events_total", **other) == before[1] + 1


class TestErrors:
    def test_counts_by_code_and_phase(self) -> None:
        """A known code and phase are counted under their own labels."""
        code, phase = f"E-{uuid.uuid4().hex[:8]}", "CONNECTING"
        LabelCache().error(code, phase).inc()
        assert errors(code, phase) == 1

    def test_codes_past_the_cap_fold_into_other(self) -> None:
        """Error codes are open strings from the platform: after MAX_CODES distinct codes
        every new one is counted as OTHER, and codes already seen keep their own series."""
        cache = LabelCache()
        tag = uuid.uuid4().hex[:8]
        codes = [f"{tag}-{n}" for n in range(MAX_CODES + 5)]
        before_other = errors(OTHER, "P")
        for code in codes:
            cache.error(code, "P").inc()
        cache.error(codes[0], "P").inc()
        assert [errors(code, "P") for code in codes[:MAX_CODES]] == [2, *[1] * (MAX_CODES - 1)]
        assert [errors(code, "P") for code in codes[MAX_CODES:]] == [0] * 5
        assert errors(OTHER, "P") == before_other + 5

    def test_phases_past_the_cap_fold_into_other(self) -> None:
        """Phases are folded the same way, independently of codes."""
        cache = LabelCache()
        tag = uuid.uuid4().hex[:8]
        for n in range(MAX_CODES):
            cache.error(f"C-{tag}", f"{tag}-{n}").inc()
        before = errors(f"C-{tag}", OTHER)
        cache.error(f"C-{tag}", f"{tag}-new").inc()
        assert errors(f"C-{tag}", f"{tag}-new") == 0
        assert errors(f"C-{tag}", OTHER) == before + 1

    def test_long_codes_are_cut(self) -> None:
        """A code longer than ERROR_CODE_MAX_LEN characters becomes its first
        ERROR_CODE_MAX_LEN as the label value (the same cut as in the call state)."""
        code = uuid.uuid4().hex * 2  # 64 characters
        LabelCache().error(code, "P").inc()
        assert errors(code[:ERROR_CODE_MAX_LEN], "P") == 1
        assert errors(code, "P") == 0


class TestAlertsAndFinishedCalls:
    def test_alerts_are_counted_by_kind_and_severity(self) -> None:
        """One raised alert adds one to recho_worker_alerts_total{kind,severity}."""
        labels = {"kind": AlertKind.STALLED.value, "severity": Severity.WARNING.value}
        before = sample("recho_worker_alerts_total", **labels)
        alert = RaiseAlert(
            kind=AlertKind.STALLED,
            severity=Severity.WARNING,
            alert_id="a" * 32,
            call_id="c-1",
            project_id="p",
            direction=Direction.OUTBOUND,
            status=CallStatus.CALLING,
            at_ms=0,
            last_seen_ms=0,
            context=AlertContext(
                attempts=1,
                events_seen=1,
                error_count=0,
                first_seen_ms=0,
                outcome=None,
                last_reported_status=CallStatus.CALLING,
            ),
        )
        LabelCache().alert(alert)
        assert sample("recho_worker_alerts_total", **labels) == before + 1

    @pytest.mark.parametrize("time_to_answer_ms", [2_500, None])
    def test_a_finished_call_is_counted_and_its_durations_observed_in_seconds(
        self, time_to_answer_ms: int | None
    ) -> None:
        """A finished call adds one to calls_finished_total, its duration in seconds to the
        duration histogram, and its time to answer only when the call was answered, once
        the batch's tallies are flushed."""
        outcome = {"outcome": CallOutcome.COMPLETED.value, "direction": "OUTBOUND"}
        answer = {"direction": "OUTBOUND"}
        before = (
            sample("recho_worker_calls_finished_total", **outcome),
            sample("recho_worker_call_duration_seconds_sum", **outcome),
            sample("recho_worker_call_time_to_answer_seconds_count", **answer),
            sample("recho_worker_call_time_to_answer_seconds_sum", **answer),
        )
        labels = LabelCache()
        labels.finished(finished(CallOutcome.COMPLETED, 42_000, time_to_answer_ms))
        assert sample("recho_worker_calls_finished_total", **outcome) == before[0]
        labels.flush()
        after = (
            sample("recho_worker_calls_finished_total", **outcome),
            sample("recho_worker_call_duration_seconds_sum", **outcome),
            sample("recho_worker_call_time_to_answer_seconds_count", **answer),
            sample("recho_worker_call_time_to_answer_seconds_sum", **answer),
        )
        answered = time_to_answer_ms is not None
        assert after[0] - before[0] == 1
        assert after[1] - before[1] == pytest.approx(42.0)
        assert after[2] - before[2] == (1 if answered else 0)
        assert after[3] - before[3] == pytest.approx(2.5 if answered else 0.0)
