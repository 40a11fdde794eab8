"""Planning one simulated call: which events it sends, in which order, after which gaps.

The first step of the simulator (scenarios -> runner -> sender -> ingress). Pure code: no
I/O, no clock, no global random state. :func:`plan_call` turns an :class:`SimulatedOutcome` into the
call's events in delivery order, each with the realistic gap before it;
:func:`~processor.simulate.envelopes.envelope_bytes` turns one planned event into the POST
body. The outcomes and their mix are in :mod:`~processor.simulate.outcomes`, the gap model
in :mod:`~processor.simulate.gaps`.

The lifecycles (data, in :mod:`~processor.simulate.lifecycles`) follow the seed's graphs
(and the worker's tables in :mod:`processor.calls.tables`, so simulated traffic is all
``EXPECTED``):

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
import random
from dataclasses import dataclass, field

from processor.contract.enums import EVENT_STATUS, CallStatus, EventType
from processor.simulate.gaps import ERROR_LEAD, GIVE_UP, REDIAL
from processor.simulate.lifecycles import (
    ATTEMPT_LIMITS,
    FAILED_ATTEMPT_WEIGHTS,
    FAILED_ATTEMPTS,
    VARIANTS,
    Step,
)
from processor.simulate.outcomes import SimulatedOutcome

E = EventType


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    """One event of a planned call: what to send and how long to wait before sending it.

    ``errors`` are ``body.errors[]`` objects without their ``timestamp``, which
    :func:`~processor.simulate.envelopes.envelope_bytes` sets to ``error_lead_s`` before
    the send time.
    """

    event_type: EventType
    call_status: CallStatus
    errors: list[dict[str, str]] = field(default_factory=list)
    gap_s: float = 0.0
    call_sid: str | None = None
    attempt: int = 1
    error_lead_s: float = 0.0


def _redialed_steps(rng: random.Random) -> tuple[Step, ...]:
    """A call that fails every attempt until the platform gives up (MAX_ATTEMPTS_REACHED)."""
    steps: list[Step] = []
    for attempt in range(rng.choice(ATTEMPT_LIMITS)):
        failed = rng.choices(FAILED_ATTEMPTS, FAILED_ATTEMPT_WEIGHTS)[0]
        if attempt:
            steps.append(Step(E.OUTBOUND_CALL_PENDING, REDIAL))
            steps.extend(failed[1:])
        else:
            steps.extend(failed)
    steps.append(Step(E.OUTBOUND_CALL_MAX_ATTEMPTS_REACHED, GIVE_UP))
    return tuple(steps)


def plan_call(
    outcome: SimulatedOutcome | str, call_id: str, rng: random.Random
) -> list[PlannedEvent]:
    """The events of one call ending in ``outcome``, in delivery order, with their gaps.

    ``rng`` picks the variant (which error, how many redials) and draws the gaps; the
    first event's gap is 0. callSids derive from ``call_id`` and the attempt, so they are
    unique per call and stable for a given id.
    """
    if not call_id.strip():
        raise ValueError("call_id must not be blank")
    chosen = SimulatedOutcome(outcome)
    if chosen is SimulatedOutcome.MAX_ATTEMPTS:
        steps = _redialed_steps(rng)
    else:
        variants = VARIANTS[chosen]
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
