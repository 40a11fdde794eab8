"""Restarting failed partitions: when each next attempt is due."""

from __future__ import annotations

from processor.worker.recovery import FIRST_RETRY_S, MAX_RETRY_S, Recovery


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TestRecovery:
    def test_a_failed_partition_is_retried_at_once_then_with_doubling_waits(self) -> None:
        """The first restart is attempted immediately; each failed attempt doubles the
        wait before the next one, up to the cap, so an outage costs few attempts."""
        clock = Clock()
        recovery = Recovery(clock)
        assert recovery.add(3)
        assert not recovery.add(3), "already waiting"
        assert recovery.take_due() == [3]
        waits = []
        for _ in range(8):
            recovery.failed(3)
            due_at = clock.now
            while not recovery.due():
                clock.now += 0.05
            waits.append(round(clock.now - due_at, 1))
        assert waits[0] == FIRST_RETRY_S
        assert waits[1] == FIRST_RETRY_S * 2
        assert max(waits) == MAX_RETRY_S

    def test_a_restarted_or_revoked_partition_no_longer_waits(self) -> None:
        """done/forget remove a partition: the worker is ready again once none waits."""
        recovery = Recovery(Clock())
        recovery.add(1)
        recovery.add(2)
        assert recovery.pending
        assert 1 in recovery
        recovery.done(1)
        recovery.forget(2)
        assert not recovery.pending
        assert recovery.take_due() == []
