"""Keeping Python's cyclic garbage collector off the restored call store.

A restored store holds up to millions of small objects that live for hours and
form no reference cycles (plain call states, freed by reference counting when
a call expires). The cyclic collector scans every tracked object on each full
collection: with 600,000 restored calls one took ~0.25 s, with 1,000,000
~0.8 s, and the worker does nothing else meanwhile. Those collections also
run over and over while the store is being loaded (each time the long-lived
objects have grown by a quarter), ~17% of a restore's time.

So a restore runs with the collector paused, and what is alive at its end is
frozen (``gc.freeze``): later full collections skip it. Objects created after
the restore are collected as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


class _Pause:
    """Restores in progress (several partitions restore at once)."""

    depth = 0
    resume = False


@contextmanager
def restoring() -> Iterator[None]:
    """Pause the cyclic collector while call states are loaded; freeze them after.

    Nested and concurrent uses (partitions restored side by side) share one
    pause: the collector comes back, as it was, when the last one ends.
    """
    if _Pause.depth == 0:
        _Pause.resume = gc.isenabled()
        gc.disable()
    _Pause.depth += 1
    try:
        yield
    finally:
        _Pause.depth -= 1
        if _Pause.depth == 0:
            # Not collected first: that would scan the whole new store once more.
            gc.freeze()
            if _Pause.resume:
                gc.enable()
