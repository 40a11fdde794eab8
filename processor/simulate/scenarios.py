"""Realistic Recho call lifecycles as data: what the simulator sends for one call, and when.

The first step of the simulator (scenarios -> runner -> sender -> ingress). Pure code: no
I/O, no clock, no global random state. :func:`plan_call` turns an :class:`Outcome` into the
call's events in delivery order, each with the realistic gap before it;
:func:`envelope_bytes` turns one planned event into the POST body, shaped like the spec §7
examples.

The lifecycles follow the seed's conceptual graphs (and the worker's tables in
:mod:`processor.calls.tables`, so simulated traffic is all ``EXPECTED``):

- outbound: PENDING -> REQUESTED -> CALLING -> CLOSING -> COMPLETED, with NO_RESPONSE from
  CALLING, BUSY and UNREACHABLE from REQUESTED, EXPIRED and CANCELED from PENDING; a call that
  hits MAX_ATTEMPTS_REACHED was redialed (each attempt re-queued as PENDING) 2 to 4 times.
- outbound errors are OUTBOUND_CALL_ERROR carrying an internal status (CALLING, CONNECTING,
  LIMIT_REACHED, CONCURRENCY_LIMIT_EXCEEDED, VOICEMAIL_REACHED, HEALTHCHECK_FAILED or ERROR)
  with ``errors[]`` filled; completed-with-errors is COMPLETED with a non-empty ``errors[]``.
- inbound: CONNECTING -> CALLING -> CLOSING -> COMPLETED, CONCURRENCY_LIMIT_EXCEEDED right
  after CONNECTING, INBOUND_CALL_ERROR while connecting or talking.

Only error events and completed-with-errors carry errors. ``callSid`` is null until the
attempt is dialed (REQUESTED), then ``CA`` + 32 hex digits, new for every redial; inbound
calls have one from the start. Redial events carry an ``Attempt: n`` line in ``body.text``
so that a genuine repeat never has the same bytes as an earlier event of the call.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

import orjson

from processor.contract.enums import EVENT_STATUS, CallStatus, Direction, EventType

E = EventType
S = CallStatus


class Outcome(StrEnum):
    """How a simulated call ends; the names used in ``simulate_mix``."""

    COMPLETED = "completed"
    NO_RESPONSE = "no_response"
    BUSY = "busy"
    UNREACHABLE = "unreachable"
    EXPIRED = "expired"
    CANCELED = "canceled"
    MAX_ATTEMPTS = "max_attempts"
    OUTBOUND_ERROR = "outbound_error"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    INBOUND_COMPLETED = "inbound_completed"
    INBOUND_CONCURRENCY_LIMIT = "inbound_concurrency_limit"
    INBOUND_ERROR = "inbound_error"


DEFAULT_MIX: Final[Mapping[Outcome, float]] = MappingProxyType(
    {
        Outcome.COMPLETED: 40,
        Outcome.NO_RESPONSE: 14,
        Outcome.BUSY: 5,
        Outcome.UNREACHABLE: 4,
        Outcome.EXPIRED: 2,
        Outcome.CANCELED: 2,
        Outcome.MAX_ATTEMPTS: 3,
        Outcome.OUTBOUND_ERROR: 4,
        Outcome.COMPLETED_WITH_ERRORS: 2,
        Outcome.INBOUND_COMPLETED: 20,
        Outcome.INBOUND_CONCURRENCY_LIMIT: 2,
        Outcome.INBOUND_ERROR: 2,
    }
)
"""Weights (percent) of a realistic day: most outbound calls connect, a sizeable share is
not answered, a few per cent error, about a fifth of the traffic is inbound."""


@dataclass(frozen=True, slots=True)
class Gap:
    """A log-normal delay before an event: ``median_s`` typical, clipped to [low_s, high_s]."""

    median_s: float
    spread: float
    low_s: float
    high_s: float

    def draw(self, rng: random.Random) -> float:
        """One delay in seconds."""
        value = rng.lognormvariate(math.log(self.median_s), self.spread)
        return min(self.high_s, max(self.low_s, value))


# The realistic gap model: seconds before an event, by what happened in between.
START: Final = Gap(1.0, 0.0, 0.0, 0.0)  # a call's first event is sent when the call begins
QUEUE_WAIT: Final = Gap(2.0, 0.8, 0.2, 60.0)  # PENDING -> REQUESTED: dispatcher picks it up
DIAL_SETUP: Final = Gap(1.5, 0.5, 0.3, 10.0)  # REQUESTED -> CALLING: provider places the call
CONVERSATION: Final = Gap(75.0, 0.9, 5.0, 1200.0)  # CALLING -> CLOSING: answered and talked
WRAP_UP: Final = Gap(3.0, 0.5, 0.5, 30.0)  # CLOSING -> COMPLETED: summary, recording, CRM
RING_TIMEOUT: Final = Gap(30.0, 0.15, 15.0, 60.0)  # CALLING -> NO_RESPONSE: nobody picks up
BUSY_SIGNAL: Final = Gap(3.0, 0.4, 0.5, 15.0)  # REQUESTED -> BUSY
NO_ROUTE: Final = Gap(5.0, 0.5, 1.0, 30.0)  # REQUESTED -> UNREACHABLE: phone off, no coverage
DIAL_WINDOW: Final = Gap(300.0, 0.8, 30.0, 3600.0)  # PENDING -> EXPIRED: window passes
USER_CANCEL: Final = Gap(45.0, 1.0, 2.0, 1800.0)  # PENDING -> CANCELED: a user changes plans
REDIAL: Final = Gap(120.0, 0.6, 20.0, 1800.0)  # failed attempt -> PENDING again
GIVE_UP: Final = Gap(0.3, 0.5, 0.05, 3.0)  # last failed attempt -> MAX_ATTEMPTS_REACHED
FAIL_FAST: Final = Gap(0.4, 0.6, 0.05, 5.0)  # an internal check fails right away
IN_CALL_FAILURE: Final = Gap(20.0, 1.0, 1.0, 600.0)  # something breaks mid-conversation
AGENT_PICKUP: Final = Gap(0.8, 0.5, 0.1, 5.0)  # inbound CONNECTING -> CALLING
INBOUND_CONVERSATION: Final = Gap(120.0, 0.9, 5.0, 1800.0)  # inbound CALLING -> CLOSING
LIMIT_CHECK: Final = Gap(0.1, 0.5, 0.02, 1.0)  # inbound CONNECTING -> CONCURRENCY_LIMIT
ERROR_LEAD: Final = Gap(0.8, 1.0, 0.001, 10.0)  # errors[].timestamp before the notification


@dataclass(frozen=True, slots=True)
class _ErrorTemplate:
    code: str
    message: str
    where: str
    phase: str
    stacktrace: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "message": self.message,
            "where": self.where,
            "phase": self.phase,
            "stacktrace": self.stacktrace,
        }


@dataclass(frozen=True, slots=True)
class _Step:
    event_type: EventType
    gap: Gap
    status: CallStatus | None = None  # None: the status the event type names
    errors: tuple[_ErrorTemplate, ...] = ()


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    """One event of a planned call: what to send and how long to wait before sending it.

    ``errors`` are ``body.errors[]`` objects without their ``timestamp``, which
    :func:`envelope_bytes` sets to ``error_lead_s`` before the send time.
    """

    event_type: EventType
    call_status: CallStatus
    errors: list[dict[str, str]] = field(default_factory=list)
    gap_s: float = 0.0
    call_sid: str | None = None
    attempt: int = 1
    error_lead_s: float = 0.0


def _err(code: str, message: str, where: str, phase: str, stacktrace: str = "") -> _ErrorTemplate:
    return _ErrorTemplate(code, message, where, phase, stacktrace)


_PENDING = _Step(E.OUTBOUND_CALL_PENDING, START)
_REQUESTED = _Step(E.OUTBOUND_CALL_REQUESTED, QUEUE_WAIT)
_CALLING = _Step(E.OUTBOUND_CALL_CALLING, DIAL_SETUP)
_CLOSING = _Step(E.OUTBOUND_CALL_CLOSING, CONVERSATION)
_DIALED = (_PENDING, _REQUESTED)
_RINGING = (*_DIALED, _CALLING)
_IN_CONNECTING = _Step(E.INBOUND_CALL_CONNECTING, START)
_IN_CALLING = _Step(E.INBOUND_CALL_CALLING, AGENT_PICKUP)


def _outbound_error(
    path: tuple[_Step, ...], status: CallStatus, gap: Gap, *errors: _ErrorTemplate
) -> tuple[_Step, ...]:
    return (*path, _Step(E.OUTBOUND_CALL_ERROR, gap, status, errors))


_NETWORK_RESET = _err(
    "NETWORK_ERROR", "Upstream socket reset", "OutboundCallAdapter.connect", "CONNECTING"
)
_INTERNAL_TRACE = (
    "IllegalStateException: session closed\n"
    "    at CallOrchestrator.run(CallOrchestrator.java:214)\n"
    "    at Worker.process(Worker.java:88)"
)

Variants = tuple[tuple[float, tuple[_Step, ...]], ...]

_VARIANTS: Final[Mapping[Outcome, Variants]] = MappingProxyType(
    {
        Outcome.COMPLETED: ((1, (*_RINGING, _CLOSING, _Step(E.OUTBOUND_CALL_COMPLETED, WRAP_UP))),),
        Outcome.NO_RESPONSE: ((1, (*_RINGING, _Step(E.OUTBOUND_CALL_NO_RESPONSE, RING_TIMEOUT))),),
        Outcome.BUSY: ((1, (*_DIALED, _Step(E.OUTBOUND_CALL_BUSY, BUSY_SIGNAL))),),
        Outcome.UNREACHABLE: ((1, (*_DIALED, _Step(E.OUTBOUND_CALL_UNREACHABLE, NO_ROUTE))),),
        Outcome.EXPIRED: ((1, (_PENDING, _Step(E.OUTBOUND_CALL_EXPIRED, DIAL_WINDOW))),),
        Outcome.CANCELED: ((1, (_PENDING, _Step(E.OUTBOUND_CALL_CANCELED, USER_CANCEL))),),
        Outcome.OUTBOUND_ERROR: (
            # The docs' sample: an error while ringing, status still CALLING.
            (25, _outbound_error(_RINGING, S.CALLING, FAIL_FAST, _NETWORK_RESET)),
            (
                10,
                _outbound_error(
                    _RINGING,
                    S.CALLING,
                    FAIL_FAST,
                    _NETWORK_RESET,
                    _err(
                        "TIMEOUT",
                        "Reconnect gave up after 3 tries",
                        "OutboundCallAdapter.reconnect",
                        "CONNECTING",
                    ),
                ),
            ),
            (
                15,
                _outbound_error(
                    _DIALED,
                    S.CONNECTING,
                    DIAL_SETUP,
                    _err(
                        "TIMEOUT",
                        "Provider did not confirm the dial within 30 s",
                        "OutboundCallAdapter.dial",
                        "CONNECTING",
                    ),
                ),
            ),
            (
                15,
                _outbound_error(
                    _RINGING,
                    S.VOICEMAIL_REACHED,
                    RING_TIMEOUT,
                    _err(
                        "VOICEMAIL_REACHED",
                        "Answering machine detected",
                        "AnsweringMachineDetector.detect",
                        "CALLING",
                    ),
                ),
            ),
            (
                10,
                _outbound_error(
                    (_PENDING,),
                    S.LIMIT_REACHED,
                    FAIL_FAST,
                    _err(
                        "LIMIT_REACHED",
                        "Daily outbound call limit reached",
                        "OutboundQueue.dispatch",
                        "PENDING",
                    ),
                ),
            ),
            (
                10,
                _outbound_error(
                    (_PENDING,),
                    S.CONCURRENCY_LIMIT_EXCEEDED,
                    FAIL_FAST,
                    _err(
                        "CONCURRENCY_LIMIT_EXCEEDED",
                        "Project concurrent-call limit exceeded",
                        "OutboundQueue.dispatch",
                        "PENDING",
                    ),
                ),
            ),
            (
                8,
                _outbound_error(
                    _DIALED,
                    S.HEALTHCHECK_FAILED,
                    FAIL_FAST,
                    _err(
                        "HEALTHCHECK_FAILED",
                        "Voice agent did not pass its healthcheck",
                        "AgentHealthcheck.probe",
                        "REQUESTED",
                    ),
                ),
            ),
            (
                7,
                _outbound_error(
                    _RINGING,
                    S.ERROR,
                    IN_CALL_FAILURE,
                    _err(
                        "INTERNAL_ERROR",
                        "Unexpected error in the call pipeline",
                        "CallOrchestrator.run",
                        "CALLING",
                        _INTERNAL_TRACE,
                    ),
                ),
            ),
        ),
        Outcome.COMPLETED_WITH_ERRORS: tuple(
            (
                weight,
                (
                    *_RINGING,
                    _CLOSING,
                    _Step(E.OUTBOUND_CALL_COMPLETED, WRAP_UP, errors=(error,)),
                ),
            )
            for weight, error in (
                (5, _err("NETWORK_ERROR", "Transient media drop", "MediaStream.relay", "CALLING")),
                (
                    3,
                    _err(
                        "TIMEOUT",
                        "Speech recognition timed out for one utterance",
                        "SpeechRecognizer.transcribe",
                        "CALLING",
                    ),
                ),
                (
                    2,
                    _err(
                        "RECORDING_UPLOAD_FAILED",
                        "Recording upload failed; it will be retried",
                        "RecordingStore.upload",
                        "CLOSING",
                    ),
                ),
            )
        ),
        Outcome.INBOUND_COMPLETED: (
            (
                1,
                (
                    _IN_CONNECTING,
                    _IN_CALLING,
                    _Step(E.INBOUND_CALL_CLOSING, INBOUND_CONVERSATION),
                    _Step(E.INBOUND_CALL_COMPLETED, WRAP_UP),
                ),
            ),
        ),
        Outcome.INBOUND_CONCURRENCY_LIMIT: (
            (1, (_IN_CONNECTING, _Step(E.INBOUND_CALL_CONCURRENCY_LIMIT_EXCEEDED, LIMIT_CHECK))),
        ),
        Outcome.INBOUND_ERROR: (
            (
                4,
                (
                    _IN_CONNECTING,
                    _Step(
                        E.INBOUND_CALL_ERROR,
                        FAIL_FAST,
                        errors=(
                            _err(
                                "NETWORK_ERROR",
                                "Media stream could not be opened",
                                "InboundCallAdapter.accept",
                                "CONNECTING",
                            ),
                        ),
                    ),
                ),
            ),
            (
                6,
                (
                    _IN_CONNECTING,
                    _IN_CALLING,
                    _Step(
                        E.INBOUND_CALL_ERROR,
                        IN_CALL_FAILURE,
                        errors=(
                            _err(
                                "TIMEOUT",
                                "Voice agent did not answer within 10 s",
                                "AgentSession.respond",
                                "CALLING",
                            ),
                        ),
                    ),
                ),
            ),
        ),
    }
)

_FAILED_ATTEMPTS: Final[tuple[tuple[_Step, ...], ...]] = tuple(
    steps
    for outcome in (Outcome.NO_RESPONSE, Outcome.BUSY, Outcome.UNREACHABLE)
    for _, steps in _VARIANTS[outcome]
)
_FAILED_ATTEMPT_WEIGHTS: Final = (6.0, 2.0, 2.0)
_ATTEMPT_LIMITS: Final = (2, 3, 3, 3, 4)


def _redialed_steps(rng: random.Random) -> tuple[_Step, ...]:
    """A call that fails every attempt until the platform gives up (MAX_ATTEMPTS_REACHED)."""
    steps: list[_Step] = []
    for attempt in range(rng.choice(_ATTEMPT_LIMITS)):
        failed = rng.choices(_FAILED_ATTEMPTS, _FAILED_ATTEMPT_WEIGHTS)[0]
        if attempt:
            steps.append(_Step(E.OUTBOUND_CALL_PENDING, REDIAL))
            steps.extend(failed[1:])
        else:
            steps.extend(failed)
    steps.append(_Step(E.OUTBOUND_CALL_MAX_ATTEMPTS_REACHED, GIVE_UP))
    return tuple(steps)


def plan_call(outcome: Outcome | str, call_id: str, rng: random.Random) -> list[PlannedEvent]:
    """The events of one call ending in ``outcome``, in delivery order, with their gaps.

    ``rng`` picks the variant (which error, how many redials) and draws the gaps; the
    first event's gap is 0. callSids derive from ``call_id`` and the attempt, so they are
    unique per call and stable for a given id.
    """
    if not call_id.strip():
        raise ValueError("call_id must not be blank")
    chosen = Outcome(outcome)
    if chosen is Outcome.MAX_ATTEMPTS:
        steps = _redialed_steps(rng)
    else:
        variants = _VARIANTS[chosen]
        steps = rng.choices([s for _, s in variants], [w for w, _ in variants])[0]
    planned: list[PlannedEvent] = []
    attempt = 0
    call_sid: str | None = None
    for index, step in enumerate(steps):
        if step.event_type in (E.OUTBOUND_CALL_PENDING, E.INBOUND_CALL_CONNECTING):
            attempt += 1
            call_sid = None
        if step.event_type in (E.OUTBOUND_CALL_REQUESTED, E.INBOUND_CALL_CONNECTING):
            call_sid = _call_sid(call_id, attempt)
        errors = [error.to_dict() for error in step.errors]
        planned.append(
            PlannedEvent(
                event_type=step.event_type,
                call_status=step.status or EVENT_STATUS[step.event_type],
                errors=errors,
                gap_s=step.gap.draw(rng) if index else 0.0,
                call_sid=call_sid,
                attempt=attempt,
                error_lead_s=ERROR_LEAD.draw(rng) if errors else 0.0,
            )
        )
    return planned


def _call_sid(call_id: str, attempt: int) -> str:
    """A Twilio-style call SID: ``CA`` and 32 hex digits."""
    digest = hashlib.blake2b(f"{call_id}#{attempt}".encode(), digest_size=16).hexdigest()
    return f"CA{digest}"


_SUBJECT_OVERRIDES: Final = {
    E.OUTBOUND_CALL_ERROR: "Outbound call error",
    E.INBOUND_CALL_ERROR: "Inbound call error",
    E.INBOUND_CALL_CONCURRENCY_LIMIT_EXCEEDED: "Inbound concurrency limit",
}


def _subject(event_type: EventType) -> str:
    words = event_type.value.split("_CALL_", 1)[1].lower().replace("_", " ")
    default = f"{event_type.direction.value.title()} {words}"
    return "[Recho] " + _SUBJECT_OVERRIDES.get(event_type, default)


SUBJECTS: Final[Mapping[EventType, str]] = MappingProxyType({e: _subject(e) for e in EVENT_STATUS})
"""``body.subject`` of each event type, worded like the spec examples."""

DEFAULT_TARGET: Final = "https://example.org/h"


def envelope_bytes(
    planned: PlannedEvent,
    call_id: str,
    project_id: str,
    *,
    client_id: str | None = "crm-42",
    auth_type: str = "NONE",
    target: str = DEFAULT_TARGET,
    endpoint_id: str = "ep-sim",
    endpoint_name: str = "recho-simulator",
    sent_at: datetime | None = None,
) -> bytes:
    """The POST body of ``planned`` for one call, as the platform would build it at ``sent_at``.

    ``sent_at`` (default: now, UTC) gives the ``Time:`` line of ``body.text`` and, less
    ``error_lead_s``, the errors' ``timestamp``. ``auth_type`` is reported in
    ``authConfig.authType``; ``target`` is the endpoint's URL in ``webhookEndpoint``.
    """
    at = (sent_at or datetime.now(UTC)).astimezone(UTC)
    status = planned.call_status.value
    errors: list[dict[str, Any]] = []
    for error in planned.errors:
        occurred = at - timedelta(seconds=planned.error_lead_s)
        errors.append(
            {
                "code": error["code"],
                "message": error["message"],
                "timestamp": occurred.strftime("%Y-%m-%dT%H:%M:%S.")
                + f"{occurred.microsecond // 1000:03d}Z",
                "where": error["where"],
                "phase": error["phase"],
                "stacktrace": error.get("stacktrace", ""),
            }
        )
    lines = [f"callId: {call_id}", f"callStatus: {status}"]
    if planned.attempt > 1:
        lines.append(f"Attempt: {planned.attempt}")
    if errors:
        lines.append("Errors:")
        lines.extend(f" - [{e['code']}] {e['message']} (phase: {e['phase']})" for e in errors)
    lines.append(f"Time: {at:%Y-%m-%d %H:%M:%S}")
    envelope = {
        "projectId": project_id,
        "webhookEndpoint": {
            "id": endpoint_id,
            "name": endpoint_name,
            "endpointType": "CUSTOM",
            "target": target,
            "contentKey": None,
        },
        "eventType": planned.event_type.value,
        "body": {
            "subject": SUBJECTS[planned.event_type],
            "text": "\n".join(lines),
            "data": {
                "callId": call_id,
                "callStatus": status,
                "callSid": planned.call_sid,
                "clientId": client_id,
            },
            "errors": errors,
        },
        "authConfig": {"authType": auth_type},
    }
    return orjson.dumps(envelope)


def direction_of(outcome: Outcome) -> Direction:
    """Which way calls with this outcome go."""
    return Direction.INBOUND if outcome.value.startswith("inbound_") else Direction.OUTBOUND


def parse_mix(text: str) -> dict[Outcome, float]:
    """Weights per outcome from ``"completed=50,busy=5"``; blank gives :data:`DEFAULT_MIX`.

    Names are the :class:`Outcome` values (case and ``-``/``_`` do not matter); outcomes
    not named get no calls. Raises ValueError naming the problem: an unknown outcome
    (listing the known ones), a pair without ``=``, a weight that is not a finite number
    >= 0, an outcome named twice, or weights that are all zero.
    """
    if not text.strip():
        return dict(DEFAULT_MIX)
    known = {o.value: o for o in Outcome}
    mix: dict[Outcome, float] = {}
    unknown: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, raw_weight = part.partition("=")
        key = name.strip().lower().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"mix entry {part!r} is not name=weight")
        try:
            weight = float(raw_weight)
        except ValueError:
            raise ValueError(f"mix weight of {name.strip()!r} is not a number") from None
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"mix weight of {name.strip()!r} must be a finite number >= 0")
        outcome = known.get(key)
        if outcome is None:
            unknown.append(name.strip())
            continue
        if outcome in mix:
            raise ValueError(f"outcome {outcome.value!r} is named twice in the mix")
        mix[outcome] = weight
    if unknown:
        raise ValueError(
            f"unknown outcome(s) in mix: {', '.join(unknown)}; known: {', '.join(known)}"
        )
    if not any(mix.values()):
        raise ValueError("mix weights are all zero: no call would be simulated")
    return mix
