"""Every way a simulated call can go, as data: the steps of each outcome's variants.

simulate: outcomes -> **lifecycles** -> scenarios -> runner -> sender. Pure data: each
:class:`Step` is an event type, the gap before it, and the errors it carries; each
outcome has weighted variants (which error, at which point). See
:mod:`processor.simulate.scenarios` for how a call is planned from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from processor.contract.enums import CallStatus, EventType
from processor.simulate.gaps import (
    AGENT_PICKUP,
    BUSY_SIGNAL,
    CONVERSATION,
    DIAL_SETUP,
    DIAL_WINDOW,
    FAIL_FAST,
    IN_CALL_FAILURE,
    INBOUND_CONVERSATION,
    LIMIT_CHECK,
    NO_ROUTE,
    QUEUE_WAIT,
    RING_TIMEOUT,
    START,
    USER_CANCEL,
    WRAP_UP,
    Gap,
)
from processor.simulate.outcomes import SimulatedOutcome

E = EventType
S = CallStatus


@dataclass(frozen=True, slots=True)
class ErrorTemplate:
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
class Step:
    event_type: EventType
    gap: Gap
    status: CallStatus | None = None  # None: the status the event type names
    errors: tuple[ErrorTemplate, ...] = ()


def _err(code: str, message: str, where: str, phase: str, stacktrace: str = "") -> ErrorTemplate:
    return ErrorTemplate(code, message, where, phase, stacktrace)


_PENDING = Step(E.OUTBOUND_CALL_PENDING, START)
_REQUESTED = Step(E.OUTBOUND_CALL_REQUESTED, QUEUE_WAIT)
_CALLING = Step(E.OUTBOUND_CALL_CALLING, DIAL_SETUP)
_CLOSING = Step(E.OUTBOUND_CALL_CLOSING, CONVERSATION)
_DIALED = (_PENDING, _REQUESTED)
_RINGING = (*_DIALED, _CALLING)
_IN_CONNECTING = Step(E.INBOUND_CALL_CONNECTING, START)
_IN_CALLING = Step(E.INBOUND_CALL_CALLING, AGENT_PICKUP)


def _outbound_error(
    path: tuple[Step, ...], status: CallStatus, gap: Gap, *errors: ErrorTemplate
) -> tuple[Step, ...]:
    return (*path, Step(E.OUTBOUND_CALL_ERROR, gap, status, errors))


_NETWORK_RESET = _err(
    "NETWORK_ERROR", "Upstream socket reset", "OutboundCallAdapter.connect", "CONNECTING"
)
_INTERNAL_TRACE = (
    "IllegalStateException: session closed\n"
    "    at CallOrchestrator.run(CallOrchestrator.java:214)\n"
    "    at Worker.process(Worker.java:88)"
)

Variants = tuple[tuple[float, tuple[Step, ...]], ...]

VARIANTS: Final[Mapping[SimulatedOutcome, Variants]] = MappingProxyType(
    {
        SimulatedOutcome.COMPLETED: (
            (1, (*_RINGING, _CLOSING, Step(E.OUTBOUND_CALL_COMPLETED, WRAP_UP))),
        ),
        SimulatedOutcome.NO_RESPONSE: (
            (1, (*_RINGING, Step(E.OUTBOUND_CALL_NO_RESPONSE, RING_TIMEOUT))),
        ),
        SimulatedOutcome.BUSY: ((1, (*_DIALED, Step(E.OUTBOUND_CALL_BUSY, BUSY_SIGNAL))),),
        SimulatedOutcome.UNREACHABLE: (
            (1, (*_DIALED, Step(E.OUTBOUND_CALL_UNREACHABLE, NO_ROUTE))),
        ),
        SimulatedOutcome.EXPIRED: ((1, (_PENDING, Step(E.OUTBOUND_CALL_EXPIRED, DIAL_WINDOW))),),
        SimulatedOutcome.CANCELED: ((1, (_PENDING, Step(E.OUTBOUND_CALL_CANCELED, USER_CANCEL))),),
        SimulatedOutcome.OUTBOUND_ERROR: (
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
        SimulatedOutcome.COMPLETED_WITH_ERRORS: tuple(
            (
                weight,
                (
                    *_RINGING,
                    _CLOSING,
                    Step(E.OUTBOUND_CALL_COMPLETED, WRAP_UP, errors=(error,)),
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
        SimulatedOutcome.INBOUND_COMPLETED: (
            (
                1,
                (
                    _IN_CONNECTING,
                    _IN_CALLING,
                    Step(E.INBOUND_CALL_CLOSING, INBOUND_CONVERSATION),
                    Step(E.INBOUND_CALL_COMPLETED, WRAP_UP),
                ),
            ),
        ),
        SimulatedOutcome.INBOUND_CONCURRENCY_LIMIT: (
            (1, (_IN_CONNECTING, Step(E.INBOUND_CALL_CONCURRENCY_LIMIT_EXCEEDED, LIMIT_CHECK))),
        ),
        SimulatedOutcome.INBOUND_ERROR: (
            (
                4,
                (
                    _IN_CONNECTING,
                    Step(
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
                    Step(
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

FAILED_ATTEMPTS: Final[tuple[tuple[Step, ...], ...]] = tuple(
    steps
    for outcome in (
        SimulatedOutcome.NO_RESPONSE,
        SimulatedOutcome.BUSY,
        SimulatedOutcome.UNREACHABLE,
    )
    for _, steps in VARIANTS[outcome]
)
FAILED_ATTEMPT_WEIGHTS: Final = (6.0, 2.0, 2.0)
ATTEMPT_LIMITS: Final = (2, 3, 3, 3, 4)
