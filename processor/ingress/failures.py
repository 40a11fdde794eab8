"""The ingress's failed Kafka writes, summarised for the log.

When Kafka is away every request fails the same way; one warning per request
would flood the log exactly when it is read. The count is also a metric
(``recho_ingress_kafka_unavailable_total``), incremented per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from processor.logs import get_logger

log = get_logger(__name__)


class WriteFailureLog:
    """Failed Kafka writes as one summary line per interval, not one line per request.

    The first failure after a quiet interval is logged at once; later ones are
    counted and logged together when the interval has passed (on the next
    failure or the next :meth:`flush_due`). ``clock`` is injectable for tests.
    """

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.pending = 0
        self._last_error = ""
        self._clock = clock
        self._next_log_at = 0.0

    def record(self, error: str) -> None:
        """Count one failed write; log the summary if the interval has passed."""
        self.pending += 1
        self._last_error = error
        self.flush_due()

    def flush_due(self) -> None:
        """Log what was counted, if anything and if the interval has passed."""
        now = self._clock()
        if self.pending and now >= self._next_log_at:
            log.warning(
                "kafka_writes_failing",
                failed=self.pending,
                interval_s=self.interval_s,
                last_error=self._last_error,
            )
            self.pending = 0
            self._next_log_at = now + self.interval_s
