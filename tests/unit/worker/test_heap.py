"""The collector pause around a restore: restored states are frozen, the collector comes back.

These use the interpreter's real collector (no mock): what a restore leaves
behind is checked with ``gc.get_freeze_count`` and ``gc.isenabled``.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from processor.outputs.changelog import changelog_record, parse_changelog
from processor.worker.heap import restoring
from processor.worker.store import CallStore
from tests.unit.calls.events import E
from tests.unit.worker.test_store import deliver


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    """Each test starts and ends with nothing frozen and the collector on."""
    gc.unfreeze()
    gc.enable()
    yield
    gc.unfreeze()
    gc.enable()


def restored_store(calls: int) -> CallStore:
    """A store loaded from changelog bytes, as a restore loads it."""
    source = CallStore()
    for i in range(calls):
        deliver(source, f"c-{i}", E.OUTBOUND_CALL_PENDING)
    records = [changelog_record(state) for state in source.oldest_first()]
    store = CallStore()
    for raw in records:
        store.load(parse_changelog(raw))
    return store


def test_restored_states_are_frozen_and_the_collector_is_back() -> None:
    """After a restore, its states are out of the collector's reach; collection goes on."""
    with restoring():
        assert not gc.isenabled()
        store = restored_store(2_000)
    assert gc.isenabled()
    assert len(store) == 2_000
    # Full collections walk the generations; frozen states are in none of them.
    restored = {id(state) for state in store.oldest_first()}
    assert not restored & {id(o) for o in gc.get_objects()}
    assert gc.get_freeze_count() >= len(restored)


def test_a_failed_restore_still_gives_the_collector_back() -> None:
    """An error (the broker went away) ends the pause too."""
    with pytest.raises(RuntimeError), restoring():
        raise RuntimeError("broker away")
    assert gc.isenabled()


def test_a_collector_off_before_stays_off() -> None:
    """A process that turned the collector off itself keeps it off."""
    gc.disable()
    with restoring():
        pass
    assert not gc.isenabled()


async def test_partitions_restored_side_by_side_share_one_pause() -> None:
    """The collector stays paused until the last of several concurrent restores ends."""
    first_done = asyncio.Event()
    seen_after_first: list[bool] = []

    async def restore(wait_for_first: bool) -> None:
        with restoring():
            if wait_for_first:
                await first_done.wait()
                seen_after_first.append(gc.isenabled())
            else:
                await asyncio.sleep(0)
        if not wait_for_first:
            first_done.set()

    await asyncio.gather(restore(True), restore(False))
    assert seen_after_first == [False]  # still paused after the first one ended
    assert gc.isenabled()
