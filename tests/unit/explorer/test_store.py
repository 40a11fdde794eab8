"""The SQLite query store: idempotent applies, tombstones, retention (no broker needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from processor.explorer.backends import sqlite_dialect
from processor.explorer.rows import Decoder
from processor.explorer.sql import SqlStore
from processor.explorer.store import CallQuery
from tests.unit.explorer.records import ALERTS, EVENTS, STATE, alert, event, record, state

DECODER = Decoder(EVENTS, STATE, ALERTS)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    made = SqlStore(sqlite_dialect(tmp_path / "store.db"))
    await made.open()
    yield made
    await made.close()


class TestApply:
    async def test_applying_the_same_records_twice_stores_them_once(self, store: SqlStore) -> None:
        """A batch read again (e.g. after a crash before the offsets were known) adds nothing."""
        batch = [
            record(EVENTS, 0, event("c-1", 0), "c-1"),
            record(STATE, 0, state("c-1"), "c-1"),
            record(ALERTS, 0, alert("c-1", 0), "c-1"),
        ]
        await store.apply(DECODER.decode(batch))
        await store.apply(DECODER.decode(batch))
        rows = await store.get_call("c-1")
        assert rows is not None
        assert len(rows.events) == 1
        assert len(rows.alerts_json) == 1
        assert await store.offsets() == {(EVENTS, 0): 1, (STATE, 0): 1, (ALERTS, 0): 1}

    async def test_offsets_never_go_back(self, store: SqlStore) -> None:
        """An older batch applied late (a second explorer on the same database) cannot
        move the stored position backwards."""
        await store.apply(DECODER.decode([record(EVENTS, 9, event("c-1", 9), "c-1")]))
        await store.apply(DECODER.decode([record(EVENTS, 3, event("c-1", 3), "c-1")]))
        assert (await store.offsets())[(EVENTS, 0)] == 10

    async def test_an_undecodable_record_is_skipped_not_fatal(self, store: SqlStore) -> None:
        """A record that is not a call event is counted and passed over; its offset moves on."""
        broken = record(EVENTS, 0, None, "c-1")
        broken.value = b"{not json"
        batch = DECODER.decode([broken, record(EVENTS, 1, event("c-2", 1), "c-2")])
        assert batch.skipped == 1
        await store.apply(batch)
        assert (await store.offsets())[(EVENTS, 0)] == 2
        assert await store.get_call("c-2") is not None


class TestForgetting:
    async def test_a_tombstone_deletes_the_call_and_late_events_stay_out(
        self, store: SqlStore
    ) -> None:
        """After a tombstone the call, its events and alerts are gone, and an event of it
        read late from the events topic does not bring it back."""
        await store.apply(DECODER.decode([
            record(EVENTS, 0, event("c-1", 0), "c-1"),
            record(STATE, 0, state("c-1"), "c-1"),
            record(ALERTS, 0, alert("c-1", 0), "c-1"),
        ]))  # fmt: skip
        await store.apply(DECODER.decode([record(STATE, 1, None, "c-1")]))
        assert await store.get_call("c-1") is None
        await store.apply(DECODER.decode([record(EVENTS, 1, event("c-1", 1), "c-1")]))
        assert await store.get_call("c-1") is None

    async def test_a_new_state_after_a_tombstone_brings_the_call_back(
        self, store: SqlStore
    ) -> None:
        """A call that receives events again after it expired is shown again."""
        await store.apply(DECODER.decode([record(STATE, 0, state("c-1"), "c-1")]))
        await store.apply(DECODER.decode([record(STATE, 1, None, "c-1")]))
        await store.apply(DECODER.decode([
            record(STATE, 2, state("c-1", eventsSeen=2), "c-1"),
            record(EVENTS, 0, event("c-1", 5), "c-1"),
        ]))  # fmt: skip
        rows = await store.get_call("c-1")
        assert rows is not None
        assert len(rows.events) == 1

    async def test_retention_deletes_calls_silent_for_too_long(self, store: SqlStore) -> None:
        """Calls whose last event is older than the cutoff are deleted; newer ones stay."""
        await store.apply(DECODER.decode([
            record(STATE, 0, state("old", lastSeenMs=1_000), "old"),
            record(EVENTS, 0, event("old", 0), "old"),
            record(STATE, 1, state("new", lastSeenMs=9_000), "new"),
        ]))  # fmt: skip
        assert await store.expire(5_000) == 1
        assert await store.get_call("old") is None
        assert [c.call_id for c in await store.list_calls(CallQuery())] == ["new"]
