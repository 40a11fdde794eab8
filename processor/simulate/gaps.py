"""The realistic delays between a call's events: a log-normal gap per kind of wait.

simulate: outcomes -> scenarios (with **gaps**) -> runner -> sender. Pure.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Final


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
