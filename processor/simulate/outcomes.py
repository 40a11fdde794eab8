"""How simulated calls end, and in which proportions (``simulate_mix``).

simulate: **outcomes** -> scenarios -> runner -> sender. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from processor.contract.enums import Direction


class SimulatedOutcome(StrEnum):
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


DEFAULT_MIX: Final[Mapping[SimulatedOutcome, float]] = MappingProxyType(
    {
        SimulatedOutcome.COMPLETED: 40,
        SimulatedOutcome.NO_RESPONSE: 14,
        SimulatedOutcome.BUSY: 5,
        SimulatedOutcome.UNREACHABLE: 4,
        SimulatedOutcome.EXPIRED: 2,
        SimulatedOutcome.CANCELED: 2,
        SimulatedOutcome.MAX_ATTEMPTS: 3,
        SimulatedOutcome.OUTBOUND_ERROR: 4,
        SimulatedOutcome.COMPLETED_WITH_ERRORS: 2,
        SimulatedOutcome.INBOUND_COMPLETED: 20,
        SimulatedOutcome.INBOUND_CONCURRENCY_LIMIT: 2,
        SimulatedOutcome.INBOUND_ERROR: 2,
    }
)
"""Weights (percent) of a realistic day: most outbound calls connect, a sizeable share is
not answered, a few per cent error, about a fifth of the traffic is inbound."""


def direction_of(outcome: SimulatedOutcome) -> Direction:
    """Which way calls with this outcome go."""
    return Direction.INBOUND if outcome.value.startswith("inbound_") else Direction.OUTBOUND


def parse_mix(text: str) -> dict[SimulatedOutcome, float]:
    """Weights per outcome from ``"completed=50,busy=5"``; blank gives :data:`DEFAULT_MIX`.

    Names are the :class:`SimulatedOutcome` values (case and ``-``/``_`` do not matter); outcomes
    not named get no calls. Raises ValueError naming the problem: an unknown outcome
    (listing the known ones), a pair without ``=``, a weight that is not a finite number
    >= 0, an outcome named twice, or weights that are all zero.
    """
    if not text.strip():
        return dict(DEFAULT_MIX)
    known = {o.value: o for o in SimulatedOutcome}
    mix: dict[SimulatedOutcome, float] = {}
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
