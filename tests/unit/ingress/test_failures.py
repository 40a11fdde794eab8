"""Failed Kafka writes reach the log as a summary, not one line per request."""

from __future__ import annotations

from structlog.testing import capture_logs

from processor.ingress.failures import WriteFailureLog


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TestWriteFailureLog:
    def test_a_burst_of_failures_is_one_line_per_interval(self) -> None:
        """1,000 failures within one interval give the first line at once and one
        summary with the rest when the interval is over; nothing when all is well."""
        clock = FakeClock()
        failures = WriteFailureLog(10.0, clock=clock)
        with capture_logs() as logs:
            for _ in range(1000):
                failures.record("Kafka did not acknowledge within 5 s")
            assert len(logs) == 1
            clock.now += 10.0
            failures.flush_due()
            failures.flush_due()
            clock.now += 60.0
            failures.flush_due()
        assert [entry["failed"] for entry in logs] == [1, 999]
        assert all(entry["event"] == "kafka_writes_failing" for entry in logs)
        assert logs[1]["last_error"] == "Kafka did not acknowledge within 5 s"
        assert logs[1]["interval_s"] == 10.0
