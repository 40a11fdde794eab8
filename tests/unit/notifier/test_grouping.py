"""Pure notifier rules: reading alert records, grouping bursts, remembering sent ids."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from processor.notifier.grouping import (
    Alert,
    Grouper,
    RecentIds,
    idempotency_key,
    parse_alert,
)
from processor.outputs.models import CallAlertRecord
from tests.factories import alert_record


def make(alert_id: str, call_id: str = "c-1", code: str = "NETWORK_ERROR", **kw: Any) -> Alert:
    return parse_alert(orjson.dumps(alert_record(alert_id, call_id, (code,), **kw)))


class TestParseAlert:
    def test_reads_the_fields_sinks_use(self) -> None:
        """A worker-shaped record (valid per the shipped schema model) is read with its
        ids, severity, codes and time, and keeps the whole record for forwarding."""
        record = alert_record("f" * 32, "c-9", ("NETWORK_ERROR", "TIMEOUT"))
        CallAlertRecord.model_validate(record)  # the helper writes what the worker writes
        alert = parse_alert(orjson.dumps(record), partition=2, offset=41)
        assert (alert.alert_id, alert.call_id, alert.kind) == ("f" * 32, "c-9", "ERRORED_EVENT")
        assert alert.severity == "critical"
        assert alert.error_codes == ("NETWORK_ERROR", "TIMEOUT")
        assert alert.code == "NETWORK_ERROR"
        assert alert.event_type == "OUTBOUND_CALL_ERROR"
        assert (alert.partition, alert.offset) == (2, 41)
        assert alert.record == record

    def test_stalled_alert_is_coded_by_its_kind(self) -> None:
        """A CALL_STALLED alert has no error codes: it groups and labels as CALL_STALLED."""
        alert = parse_alert(orjson.dumps(alert_record(kind="CALL_STALLED", severity="warning")))
        assert alert.error_codes == ()
        assert alert.code == "CALL_STALLED"
        assert alert.event_type is None

    def test_tolerates_new_fields_and_values(self) -> None:
        """A record that gained a field or a new enum value within its version is delivered."""
        record = {**alert_record(), "futureField": 1, "eventType": "OUTBOUND_CALL_TELEPORTED"}
        assert parse_alert(orjson.dumps(record)).event_type == "OUTBOUND_CALL_TELEPORTED"

    @pytest.mark.parametrize(
        "raw",
        [
            None,
            b"not json",
            b"[1, 2]",
            orjson.dumps({**alert_record(), "alertId": ""}),
            orjson.dumps({k: v for k, v in alert_record().items() if k != "callId"}),
            orjson.dumps({**alert_record(), "atMs": "yesterday"}),
            orjson.dumps({**alert_record(), "errorCodes": "NETWORK_ERROR"}),
        ],
    )
    def test_rejects_what_is_not_an_alert(self, raw: bytes | None) -> None:
        """Tombstones, non-JSON, and records without id, call or time raise ValueError."""
        with pytest.raises(ValueError, match=r"."):
            parse_alert(raw)


class TestGrouper:
    def test_burst_for_one_call_is_one_group(self) -> None:
        """Alerts of one call within the window, whatever their codes, form one group."""
        grouper = Grouper(window_s=10)
        for i, code in enumerate(["NETWORK_ERROR", "TIMEOUT", "SIP_486"]):
            grouper.add(make(f"a{i}", "c-1", code), now_s=100 + i)
        assert grouper.due(now_s=109) == []
        (group,) = grouper.due(now_s=110)
        assert group.key == "call:c-1"
        assert [a.alert_id for a in group.alerts] == ["a0", "a1", "a2"]
        assert len(grouper) == 0

    def test_burst_of_one_code_across_calls_is_one_group(self) -> None:
        """The same error code on many calls within the window becomes one message."""
        grouper = Grouper(window_s=5)
        for i in range(20):
            grouper.add(make(f"a{i}", f"c-{i}", "NETWORK_ERROR"), now_s=0)
        (group,) = grouper.drain()
        assert group.key == "code:NETWORK_ERROR"
        assert len(group.alerts) == 20

    def test_unrelated_alerts_are_separate_groups(self) -> None:
        """Different calls with different codes are not mixed into one message."""
        grouper = Grouper(window_s=5)
        grouper.add(make("a1", "c-1", "NETWORK_ERROR"), now_s=0)
        grouper.add(make("a2", "c-2", "TIMEOUT"), now_s=0)
        groups = grouper.due(now_s=5)
        assert sorted(g.key for g in groups) == ["call:c-1", "call:c-2"]

    def test_window_starts_at_the_first_alert(self) -> None:
        """A group closes window_s after its first alert; a later alert opens a new group."""
        grouper = Grouper(window_s=10)
        grouper.add(make("a1"), now_s=0)
        grouper.add(make("a2"), now_s=9)
        assert grouper.next_due_s() == 10
        assert [len(g.alerts) for g in grouper.due(now_s=10)] == [2]
        grouper.add(make("a3"), now_s=11)
        assert grouper.next_due_s() == 21
        assert [a.alert_id for g in grouper.due(now_s=21) for a in g.alerts] == ["a3"]

    def test_zero_window_sends_at_once(self) -> None:
        """With notifier_group_window_s=0 every batch's groups are due immediately."""
        grouper = Grouper(window_s=0)
        grouper.add(make("a1"), now_s=3)
        assert [len(g.alerts) for g in grouper.due(now_s=3)] == [1]
        assert grouper.next_due_s() is None

    def test_full_group_is_due_at_once_and_a_new_one_opens(self) -> None:
        """A group never exceeds max_alerts: a full one is sent now, the rest start anew."""
        grouper = Grouper(window_s=60, max_alerts=3)
        for i in range(5):
            grouper.add(make(f"a{i}"), now_s=0)
        assert [len(g.alerts) for g in grouper.due(now_s=1)] == [3]
        assert [len(g.alerts) for g in grouper.drain()] == [2]

    def test_call_and_code_chain_into_one_group(self) -> None:
        """An alert joins by call or by code, so call A/code X, call B/code X and call B/code Y
        are one storm and one message."""
        grouper = Grouper(window_s=5)
        grouper.add(make("a1", "c-a", "X"), now_s=0)
        grouper.add(make("a2", "c-b", "X"), now_s=0)
        grouper.add(make("a3", "c-b", "Y"), now_s=0)
        (group,) = grouper.drain()
        assert group.key == "mixed"
        assert len(group.alerts) == 3


class TestIdempotencyKey:
    def test_single_alert_uses_its_id(self) -> None:
        """One alert is keyed by its alertId."""
        assert idempotency_key([make("a" * 32)]) == "a" * 32

    def test_group_key_is_stable_and_distinct(self) -> None:
        """A group's key depends on its alert ids only, not their order."""
        a, b, c = make("a1"), make("a2"), make("a3")
        assert idempotency_key([a, b]) == idempotency_key([b, a])
        assert idempotency_key([a, b]) != idempotency_key([a, c])
        assert idempotency_key([a, b]).startswith("group-")


class TestRecentIds:
    def test_fresh_drops_known_ids_and_duplicates(self) -> None:
        """An id already delivered, or repeated within the batch, is dropped and counted."""
        recent = RecentIds()
        recent.add_all(["a1"])
        fresh, dropped = recent.fresh([make("a1"), make("a2"), make("a2"), make("a3")])
        assert [a.alert_id for a in fresh] == ["a2", "a3"]
        assert dropped == 2

    def test_capacity_forgets_least_recent(self) -> None:
        """The memory is bounded; the id seen least recently goes first."""
        recent = RecentIds(capacity=2)
        recent.add_all(["a1", "a2"])
        recent.add_all(["a1", "a3"])  # a1 refreshed, a2 is the oldest
        assert "a2" not in recent
        assert "a1" in recent
        assert "a3" in recent
        assert len(recent) == 2
