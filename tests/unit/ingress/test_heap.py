"""The startup heap is frozen: full collections no longer walk it."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from processor.ingress.heap import freeze_startup_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Give the frozen objects back to the collector after the test."""
    yield
    gc.unfreeze()


class _Cycle:
    """A container that refers to itself: only the cycle collector frees it."""

    def __init__(self) -> None:
        self.me = self


def _tracked(target: object) -> bool:
    return any(found is target for found in gc.get_objects())


@pytest.mark.usefixtures("unfrozen")
class TestFreezeStartupHeap:
    def test_live_objects_leave_the_collected_generations(self) -> None:
        """An object alive at the freeze is no longer among the collected ones."""
        kept = {"built": ["at", "startup"]}
        assert _tracked(kept)
        frozen = freeze_startup_heap()
        assert frozen == gc.get_freeze_count() > 0
        assert not _tracked(kept)

    def test_startup_garbage_is_collected_not_frozen(self) -> None:
        """Garbage made before the freeze is freed by it, never kept for good."""
        gc.disable()
        try:
            garbage = weakref.ref(_Cycle())  # unreachable at once; only a collection frees it
            assert garbage() is not None
            freeze_startup_heap()
        finally:
            gc.enable()
        assert gc.get_freeze_count() > 0
        assert garbage() is None
