"""Simulated call lifecycles: valid per the seed's graphs, realistic envelopes, mix parsing."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from processor.calls.event import CallEvent
from processor.calls.machine import CallFinished, EmitEvent, handle
from processor.calls.state import CallOutcome, CallState
from processor.calls.tables import Verdict
from processor.contract import (
    EVENT_STATUS,
    INTERNAL_OUTBOUND_STATUSES,
    CallStatus,
    Direction,
    EventType,
    parse_envelope,
)
from processor.simulate.envelopes import envelope_bytes
from processor.simulate.gaps import Gap
from processor.simulate.outcomes import DEFAULT_MIX, SimulatedOutcome, direction_of, parse_mix
from processor.simulate.scenarios import PlannedEvent, plan_call
from processor.worker.ingest import call_event as worker_call_event
from tests.factories import PROJECT_ID, SPEC_EXAMPLES

SEEDS = range(40)
SENT_AT = datetime(2026, 6, 1, 9, 15, 7, 250_000, tzinfo=UTC)

FINAL_OUTCOME = {
    SimulatedOutcome.COMPLETED: CallOutcome.COMPLETED,
    SimulatedOutcome.NO_RESPONSE: CallOutcome.NO_RESPONSE,
    SimulatedOutcome.BUSY: CallOutcome.BUSY,
    SimulatedOutcome.UNREACHABLE: CallOutcome.UNREACHABLE,
    SimulatedOutcome.EXPIRED: CallOutcome.EXPIRED,
    SimulatedOutcome.CANCELED: CallOutcome.CANCELED,
    SimulatedOutcome.MAX_ATTEMPTS: CallOutcome.MAX_ATTEMPTS_REACHED,
    SimulatedOutcome.OUTBOUND_ERROR: CallOutcome.ERROR,
    SimulatedOutcome.COMPLETED_WITH_ERRORS: CallOutcome.COMPLETED_WITH_ERRORS,
    SimulatedOutcome.INBOUND_COMPLETED: CallOutcome.COMPLETED,
    SimulatedOutcome.INBOUND_CONCURRENCY_LIMIT: CallOutcome.CONCURRENCY_LIMIT_EXCEEDED,
    SimulatedOutcome.INBOUND_ERROR: CallOutcome.ERROR,
}
"""The outcome the worker's state machine must reach for each simulated outcome."""

ERROR_OUTCOMES = {
    SimulatedOutcome.OUTBOUND_ERROR,
    SimulatedOutcome.COMPLETED_WITH_ERRORS,
    SimulatedOutcome.INBOUND_ERROR,
}
SID = re.compile(r"CA[0-9a-f]{32}")


def plans(outcome: SimulatedOutcome) -> list[list[PlannedEvent]]:
    """The plans of one outcome under every test seed."""
    return [plan_call(outcome, f"c-{seed}", random.Random(seed)) for seed in SEEDS]


def call_event(raw: bytes, received_at_ms: int) -> CallEvent:
    """What the worker builds from a webhook body."""
    return worker_call_event(parse_envelope(raw), raw, received_at_ms)


def keys_tree(value: Any) -> Any:
    """The nested key structure of a JSON value (lists by their first item)."""
    if isinstance(value, dict):
        return {k: keys_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys_tree(value[0])] if value else []
    return None


class TestPlanCall:
    """plan_call: each outcome is a lifecycle the seed's graphs (and the worker) expect."""

    @pytest.mark.parametrize("outcome", list(SimulatedOutcome))
    def test_worker_machine_expects_every_event(self, outcome: SimulatedOutcome) -> None:
        """Fed through the worker's state machine, every event is EXPECTED and the call
        ends with the matching outcome on its last event."""
        for seed, plan in zip(SEEDS, plans(outcome), strict=True):
            call_id = f"c-{seed}"
            state: CallState | None = None
            finished: list[CallFinished] = []
            for index, planned in enumerate(plan):
                raw = envelope_bytes(planned, call_id, PROJECT_ID, sent_at=SENT_AT)
                state, effects = handle(state, call_event(raw, 1_000 * index))
                [emit] = [e for e in effects if isinstance(e, EmitEvent)]
                assert emit.verdict is Verdict.EXPECTED, (outcome, index, planned)
                finished.extend(e for e in effects if isinstance(e, CallFinished))
            assert state is not None
            assert state.outcome is FINAL_OUTCOME[outcome]
            assert finished[-1].outcome is FINAL_OUTCOME[outcome]

    @pytest.mark.parametrize("outcome", list(SimulatedOutcome))
    def test_starts_at_the_graph_start_and_gaps_are_positive(
        self, outcome: SimulatedOutcome
    ) -> None:
        """The first event is PENDING (outbound) or CONNECTING (inbound), sent at once;
        every later event waits a positive gap."""
        first = {
            Direction.OUTBOUND: EventType.OUTBOUND_CALL_PENDING,
            Direction.INBOUND: EventType.INBOUND_CALL_CONNECTING,
        }[direction_of(outcome)]
        for plan in plans(outcome):
            assert plan[0].event_type is first
            assert plan[0].gap_s == 0
            assert all(p.gap_s > 0 for p in plan[1:])
            assert all(p.event_type.direction is direction_of(outcome) for p in plan)

    @pytest.mark.parametrize("outcome", list(SimulatedOutcome))
    def test_errors_only_where_expected(self, outcome: SimulatedOutcome) -> None:
        """Only the error events and completed-with-errors' COMPLETED carry errors, and
        every one of those carries at least one complete error object."""
        for plan in plans(outcome):
            *before, last = plan
            assert all(p.errors == [] for p in before)
            if outcome in ERROR_OUTCOMES:
                assert last.errors
                for error in last.errors:
                    assert set(error) == {"code", "message", "where", "phase", "stacktrace"}
                    assert all(error[k] for k in ("code", "phase", "message"))
            else:
                assert last.errors == []

    def test_internal_statuses_only_on_outbound_error(self) -> None:
        """Internal statuses appear only on OUTBOUND_CALL_ERROR, and all of them plus
        CALLING and ERROR appear across outbound error calls; other events carry the
        status their type names."""
        carried: Counter[CallStatus] = Counter()
        for outcome in SimulatedOutcome:
            for plan in plans(outcome):
                for planned in plan:
                    if planned.event_type is EventType.OUTBOUND_CALL_ERROR:
                        carried[planned.call_status] += 1
                    else:
                        assert planned.call_status is EVENT_STATUS[planned.event_type]
                        if planned.event_type.direction is Direction.OUTBOUND:
                            assert planned.call_status not in INTERNAL_OUTBOUND_STATUSES
        wanted = {*INTERNAL_OUTBOUND_STATUSES, CallStatus.CALLING, CallStatus.ERROR}
        assert set(carried) == wanted

    def test_call_sid_appears_when_dialed_and_changes_per_attempt(self) -> None:
        """callSid is null until REQUESTED, a CA... SID afterwards, new for each redial;
        inbound calls have one from their first event."""
        for outcome in SimulatedOutcome:
            for plan in plans(outcome):
                sids_by_attempt: dict[int, set[str | None]] = {}
                dialed = direction_of(outcome) is Direction.INBOUND
                for planned in plan:
                    if planned.event_type is EventType.OUTBOUND_CALL_PENDING:
                        dialed = False
                    if planned.event_type is EventType.OUTBOUND_CALL_REQUESTED:
                        dialed = True
                    if dialed:
                        assert planned.call_sid is not None
                        assert SID.fullmatch(planned.call_sid)
                    else:
                        assert planned.call_sid is None
                    sids_by_attempt.setdefault(planned.attempt, set()).add(planned.call_sid)
                dialed_sids = [s - {None} for s in sids_by_attempt.values()]
                assert all(len(s) <= 1 for s in dialed_sids)
                flat = [sid for s in dialed_sids for sid in s]
                assert len(flat) == len(set(flat))

    def test_max_attempts_redials_two_to_four_times(self) -> None:
        """A max-attempts call fails 2 to 4 attempts, each re-queued as PENDING."""
        counts = {
            sum(p.event_type is EventType.OUTBOUND_CALL_PENDING for p in plan)
            for plan in plans(SimulatedOutcome.MAX_ATTEMPTS)
        }
        assert counts <= {2, 3, 4}
        assert len(counts) > 1

    def test_same_seed_same_plan(self) -> None:
        """A seeded rng gives the same plan (reproducible traffic)."""
        for outcome in SimulatedOutcome:
            assert plan_call(outcome, "c-9", random.Random(7)) == plan_call(
                outcome, "c-9", random.Random(7)
            )

    def test_outcome_by_name_and_blank_call_id(self) -> None:
        """Outcomes may be given by name; a blank callId is refused."""
        assert plan_call("busy", "c-1", random.Random(1))[-1].event_type is (
            EventType.OUTBOUND_CALL_BUSY
        )
        with pytest.raises(ValueError, match="call_id"):
            plan_call(SimulatedOutcome.BUSY, "  ", random.Random(1))

    def test_realistic_durations(self) -> None:
        """Completed calls last about a minute or more (talk time); canceled and
        concurrency-limited calls are short or end fast."""
        talk = [sum(p.gap_s for p in plan) for plan in plans(SimulatedOutcome.COMPLETED)]
        assert sorted(talk)[len(talk) // 2] > 20
        limited = [
            sum(p.gap_s for p in plan) for plan in plans(SimulatedOutcome.INBOUND_CONCURRENCY_LIMIT)
        ]
        assert max(limited) <= 1.0


class TestGap:
    """Gap: log-normal delays clipped to their bounds."""

    def test_draws_stay_in_bounds_around_the_median(self) -> None:
        """Draws stay within [low, high] and their median is near the configured one."""
        gap = Gap(2.0, 0.8, 0.2, 60.0)
        rng = random.Random(3)
        draws = sorted(gap.draw(rng) for _ in range(2000))
        assert draws[0] >= 0.2
        assert draws[-1] <= 60.0
        assert 1.6 < draws[len(draws) // 2] < 2.5


class TestEnvelopeBytes:
    """envelope_bytes: bodies shaped like the spec §7 examples, clean for the contract."""

    @pytest.mark.parametrize("outcome", list(SimulatedOutcome))
    def test_parses_without_flags(self, outcome: SimulatedOutcome) -> None:
        """Every simulated body parses with no contract flag and keeps its fields."""
        for seed, plan in zip(SEEDS, plans(outcome), strict=True):
            for planned in plan:
                raw = envelope_bytes(
                    planned, f"c-{seed}", PROJECT_ID, auth_type="SIGNATURE_RSA_SHA256"
                )
                envelope = parse_envelope(raw)
                assert envelope.flags == ()
                assert envelope.event_type is planned.event_type
                assert envelope.call_status is planned.call_status
                assert envelope.has_errors is bool(planned.errors)
                assert envelope.body.data.call_sid == planned.call_sid

    def test_shape_matches_the_spec_example(self) -> None:
        """The key structure (and order) is that of the spec's OUTBOUND_CALL_ERROR example."""
        [error_example] = [e for e in SPEC_EXAMPLES if e["eventType"] == "OUTBOUND_CALL_ERROR"]
        plan = plan_call(SimulatedOutcome.OUTBOUND_ERROR, "c-1002", random.Random(0))
        ours = orjson.loads(envelope_bytes(plan[-1], "c-1002", PROJECT_ID, sent_at=SENT_AT))
        assert keys_tree(ours) == keys_tree(error_example)
        assert list(ours) == list(error_example)
        assert list(ours["body"]) == list(error_example["body"])

    def test_fields(self) -> None:
        """projectId, endpoint target, authType, clientId, subject and a text ending in
        the zone-less Time line of the send time; errors stamped just before it."""
        plan = plan_call(SimulatedOutcome.OUTBOUND_ERROR, "c-7", random.Random(2))
        wire = orjson.loads(
            envelope_bytes(
                plan[-1],
                "c-7",
                PROJECT_ID,
                client_id="crm-9",
                auth_type="BEARER",
                target="http://127.0.0.1:8080/webhooks/recho",
                sent_at=SENT_AT,
            )
        )
        assert wire["projectId"] == PROJECT_ID
        assert wire["webhookEndpoint"]["endpointType"] == "CUSTOM"
        assert wire["webhookEndpoint"]["target"] == "http://127.0.0.1:8080/webhooks/recho"
        assert wire["authConfig"] == {"authType": "BEARER"}
        assert wire["body"]["subject"] == "[Recho] Outbound call error"
        assert wire["body"]["data"]["clientId"] == "crm-9"
        text = wire["body"]["text"]
        assert text.startswith(f"callId: c-7\ncallStatus: {plan[-1].call_status.value}\n")
        assert text.endswith("\nTime: 2026-06-01 09:15:07")
        assert "Errors:\n - [" in text
        for error in wire["body"]["errors"]:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", error["timestamp"])
            stamped = datetime.strptime(error["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
            assert stamped.replace(tzinfo=UTC) <= SENT_AT

    def test_no_two_events_of_a_call_share_bytes(self) -> None:
        """Redials repeat event types, yet no two bodies of one call are identical, even
        sent within the same second (the worker would take one for a duplicate)."""
        for seed, plan in zip(SEEDS, plans(SimulatedOutcome.MAX_ATTEMPTS), strict=True):
            bodies = [envelope_bytes(p, f"c-{seed}", PROJECT_ID, sent_at=SENT_AT) for p in plan]
            assert len(set(bodies)) == len(bodies)

    def test_redial_attempt_in_text(self) -> None:
        """Events of a redial say which attempt they belong to; first attempts do not."""
        plan = plan_call(SimulatedOutcome.MAX_ATTEMPTS, "c-3", random.Random(5))
        for planned in plan:
            text = orjson.loads(envelope_bytes(planned, "c-3", PROJECT_ID))["body"]["text"]
            assert ("Attempt: " in text) is (planned.attempt > 1)


class TestParseMix:
    """parse_mix: name=weight pairs into outcome weights, with clear errors."""

    def test_blank_is_the_default_mix(self) -> None:
        """An empty mix means the realistic default, which names every outcome."""
        assert parse_mix("") == dict(DEFAULT_MIX)
        assert parse_mix("  ") == dict(DEFAULT_MIX)
        assert set(DEFAULT_MIX) == set(SimulatedOutcome)
        assert sum(DEFAULT_MIX.values()) == 100

    def test_pairs(self) -> None:
        """Pairs become weights; case, spaces and hyphens do not matter."""
        assert parse_mix("completed=50,busy=5") == {
            SimulatedOutcome.COMPLETED: 50,
            SimulatedOutcome.BUSY: 5,
        }
        assert parse_mix(" No-Response = 2.5 , inbound_error=0,") == {
            SimulatedOutcome.NO_RESPONSE: 2.5,
            SimulatedOutcome.INBOUND_ERROR: 0,
        }

    def test_unknown_outcomes_are_named(self) -> None:
        """Unknown names are all listed, with the known ones."""
        with pytest.raises(ValueError, match="unknown outcome") as caught:
            parse_mix("completed=1,answered=2,voicemail=3")
        message = str(caught.value)
        assert "answered, voicemail" in message
        assert "max_attempts" in message

    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            ("completed", "not name=weight"),
            ("=3", "not name=weight"),
            ("completed=lots", "not a number"),
            ("completed=-1", ">= 0"),
            ("completed=inf", ">= 0"),
            ("completed=1,completed=2", "named twice"),
            ("completed=0,busy=0", "all zero"),
        ],
    )
    def test_malformed(self, text: str, problem: str) -> None:
        """Malformed mixes raise ValueError saying what is wrong."""
        with pytest.raises(ValueError, match=re.escape(problem)):
            parse_mix(text)
