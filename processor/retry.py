"""When an HTTP request is worth another attempt, and how long to wait before it.

Shared by the two places that POST and retry: the simulator's sender (simulate ->
ingress) and the notifier's sinks (notifier -> Alertmanager, webhooks). One retry
policy type, one ``Retry-After`` parser, one set of retriable statuses:

* a 2xx is taken; 5xx, 408 (Request Timeout), 425 (Too Early) and 429 (Too Many
  Requests) may succeed later; every other status will be answered the same way again;
* the wait before retry ``n`` is exponential, ``min(cap_s, base_s * 2**(n-1))``, with
  jitter, and at least the ``Retry-After`` the server asked for.
"""

from __future__ import annotations

import math
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Final

from processor.errors import ConfigError

RETRIABLE_4XX: Final = frozenset({408, 425, 429})
"""The client-error statuses that say "not now" rather than "never"."""
MAX_RETRY_AFTER_S: Final = 86_400.0
"""The longest ``Retry-After`` taken seriously (a day); a longer one is ignored."""
_DELAY_SECONDS: Final = re.compile(r"\d+(?:\.\d+)?")


def is_retriable_status(status: int) -> bool:
    """Whether an HTTP answer with this status is worth another attempt."""
    return status >= 500 or status in RETRIABLE_4XX


def parse_retry_after(value: str | None, *, now_s: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (RFC 9110 §10.2.3), or None.

    Both forms are read: delay-seconds (``"120"``; a decimal fraction such as
    ``"0.5"`` is accepted too) and an HTTP-date (``"Wed, 21 Oct 2026 07:28:00 GMT"``,
    seconds from ``now_s``, epoch seconds, default the current time; a date already
    past means 0). None when the header is absent, unreadable, or asks for more than
    :data:`MAX_RETRY_AFTER_S`: the caller then waits its own backoff.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        seconds = float(text)
    else:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if moment.tzinfo is None:  # asctime has no zone; every HTTP-date is GMT
            moment = moment.replace(tzinfo=UTC)
        now = time.time() if now_s is None else now_s
        seconds = max(0.0, moment.timestamp() - now)
    return seconds if math.isfinite(seconds) and seconds <= MAX_RETRY_AFTER_S else None


class Jitter(StrEnum):
    """How a backoff ceiling becomes a random wait."""

    FULL = "full"
    """Uniform in [0, ceiling]: spreads many clients out the most."""
    EQUAL = "equal"
    """Uniform in [ceiling / 2, ceiling]: never retries at once."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, within a time budget and an optional attempt limit.

    What happens once the policy is :meth:`exhausted` is the caller's to say: the
    simulator gives the webhook up; the notifier reports the sink down and keeps
    retrying every ``cap_s``.
    """

    budget_s: float
    """Time from the first attempt after which the policy is exhausted."""
    base_s: float = 0.5
    """The ceiling of the first wait; it doubles with every retry."""
    cap_s: float = 30.0
    """The largest ceiling."""
    max_attempts: int | None = None
    """Attempts after which the policy is exhausted; None: only the budget counts."""
    jitter: Jitter = Jitter.FULL
    retry_after_within_cap: bool = False
    """Honour a ``Retry-After`` only up to ``cap_s`` (otherwise up to
    :data:`MAX_RETRY_AFTER_S`)."""

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ConfigError("max_attempts must be at least 1")
        if min(self.base_s, self.cap_s, self.budget_s) < 0:
            raise ConfigError("retry delays must not be negative")

    def delay_s(self, retry: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        """The wait before retry number ``retry`` (1 = the second attempt).

        At least ``retry_after_s`` (the server's ``Retry-After``), bounded as configured.
        """
        ceiling = min(self.cap_s, self.base_s * 2.0 ** (retry - 1))
        if self.jitter is Jitter.EQUAL:
            delay = ceiling / 2 + rng.uniform(0.0, ceiling / 2)
        else:
            delay = rng.uniform(0.0, ceiling)
        if retry_after_s is None:
            return delay
        asked = min(retry_after_s, self.cap_s) if self.retry_after_within_cap else retry_after_s
        return max(delay, asked)

    def exhausted(self, attempts: int, elapsed_s: float) -> bool:
        """Whether ``attempts`` made, or ``elapsed_s`` since the first one, spend the policy.

        Pass as ``elapsed_s`` the time the next attempt would start at, wait included.
        """
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return True
        return elapsed_s > self.budget_s
