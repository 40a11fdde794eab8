"""The notifier's offset tracker: what may be committed while alerts are in flight.

A commit must never pass an alert that is not yet handled (else a crash loses it),
and must move as soon as everything below it is handled (else a restart re-sends).
"""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from processor.notifier.offsets import OffsetTracker


class TestOffsetTracker:
    def test_nothing_read_nothing_to_commit(self) -> None:
        """A fresh tracker commits nothing."""
        assert OffsetTracker().committable() == {}

    def test_all_handled_commits_past_the_last(self) -> None:
        """Once every alert read is handled, the commit is the offset after the last one."""
        tracker = OffsetTracker()
        for offset in (10, 11, 12):
            tracker.consumed(0, offset)
            tracker.done(0, offset)
        assert tracker.committable() == {0: 13}

    def test_an_alert_in_flight_holds_the_commit_back(self) -> None:
        """An alert still in flight (a group not yet sent) keeps the commit at its offset,
        even when later alerts are delivered; once it is done the commit moves past all."""
        tracker = OffsetTracker()
        for offset in (5, 6, 7):
            tracker.consumed(1, offset)
        tracker.done(1, 5)
        tracker.done(1, 7)
        assert tracker.committable() == {1: 6}
        tracker.done(1, 6)
        assert tracker.committable() == {1: 8}

    def test_partitions_are_independent(self) -> None:
        """An alert in flight on one partition does not hold another partition back."""
        tracker = OffsetTracker()
        tracker.consumed(0, 3)
        tracker.consumed(2, 9)
        tracker.done(2, 9)
        assert tracker.committable() == {0: 3, 2: 10}
        assert tracker.committable([2]) == {2: 10}
        assert tracker.committable([4]) == {}

    def test_a_commit_is_not_repeated(self) -> None:
        """After a successful commit, the same offset is not offered again; a later
        alert's handling offers the next one."""
        tracker = OffsetTracker()
        tracker.consumed(0, 0)
        tracker.done(0, 0)
        tracker.committed(tracker.committable())
        assert tracker.committable() == {}
        tracker.consumed(0, 1)
        assert tracker.committable() == {}  # 1 is in flight: the commit stays at 1
        tracker.done(0, 1)
        assert tracker.committable() == {0: 2}

    def test_a_failed_commit_is_offered_again(self) -> None:
        """Without committed() (the commit failed), the same offsets come back next time."""
        tracker = OffsetTracker()
        tracker.consumed(0, 4)
        tracker.done(0, 4)
        assert tracker.committable() == {0: 5}
        assert tracker.committable() == {0: 5}

    def test_revoked_partitions_are_forgotten(self) -> None:
        """A partition given to another member is its to commit: nothing is offered for it,
        and if it comes back, its alerts are tracked afresh."""
        tracker = OffsetTracker()
        tracker.consumed(0, 1)
        tracker.consumed(1, 1)
        tracker.committed({0: 1})
        tracker.forget([0])
        assert tracker.committable() == {1: 1}
        tracker.consumed(0, 1)
        assert tracker.committable([0]) == {0: 1}

    def test_done_of_an_unknown_alert_is_ignored(self) -> None:
        """Handling an alert of a forgotten partition (its delivery ended after a
        rebalance) changes nothing."""
        tracker = OffsetTracker()
        tracker.done(3, 42)
        assert tracker.committable() == {}

    @given(st.lists(st.integers(0, 200), min_size=1, max_size=60, unique=True), st.randoms())
    def test_commit_never_passes_an_alert_in_flight(
        self, offsets: list[int], rng: random.Random
    ) -> None:
        """Whatever the order alerts are read and handled in, the committable offset is
        the lowest one in flight, or one past the highest read when none is."""
        tracker = OffsetTracker()
        in_flight: set[int] = set()
        for offset in sorted(offsets):
            tracker.consumed(0, offset)
            in_flight.add(offset)
        for offset in rng.sample(offsets, len(offsets)):
            tracker.done(0, offset)
            in_flight.discard(offset)
            expected = min(in_flight) if in_flight else max(offsets) + 1
            assert tracker.committable() == {0: expected}
