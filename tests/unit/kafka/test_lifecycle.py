"""Closing a client never waits out the 30 s TLS shutdown timeout."""

from __future__ import annotations

import asyncio
import time

import pytest

from processor.kafka.lifecycle import close_within


class TestCloseWithin:
    async def test_a_hanging_close_is_left_behind(self) -> None:
        """A close that would take 30 s returns to the caller after the bound, and
        still completes in the background."""
        finished = asyncio.Event()

        async def slow_close() -> None:
            await asyncio.sleep(0.5)
            finished.set()

        started = time.monotonic()
        await close_within(slow_close(), timeout_s=0.05)
        assert time.monotonic() - started < 0.4
        await asyncio.wait_for(finished.wait(), 2)

    async def test_a_quick_failure_is_raised(self) -> None:
        """A close that fails at once still reports its error."""

        async def broken_close() -> None:
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await close_within(broken_close())
