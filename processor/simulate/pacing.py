"""When the simulator's attempts may happen: one rate for the whole run, and stopping.

simulate: runner -> **pacing** -> sender. The sender asks its :class:`Pacing` before every
attempt and for every wait; the runner's :class:`Pacer` takes a token of the run's rate
(every attempt, first tries and retries alike) and cuts every wait short on stop.
"""

from __future__ import annotations

import asyncio
import math
from typing import Final, Protocol


class Pacing(Protocol):
    """The runner's say over when attempts happen (rate limit, stop)."""

    async def before_attempt(self) -> bool:
        """Wait for this attempt's turn; True if the run is stopping (then do not send)."""
        ...

    async def pause(self, delay_s: float) -> bool:
        """Wait ``delay_s``; True if the run is stopping (possibly cut short)."""
        ...


class _Unpaced:
    async def before_attempt(self) -> bool:
        return False

    async def pause(self, delay_s: float) -> bool:
        await asyncio.sleep(delay_s)
        return False


UNPACED: Final[Pacing] = _Unpaced()
"""No rate limit and plain sleeps."""


class RateLimiter:
    """A token bucket as a schedule (GCRA): each caller learns how long to wait for its turn."""

    def __init__(self, rate_per_s: float, burst: float = 1.0) -> None:
        self._interval = 1.0 / rate_per_s
        self._tolerance = max(0.0, burst - 1.0) * self._interval
        self._next_at = -math.inf

    def reserve(self, now: float) -> float:
        """Take the next slot; return the seconds to wait before using it (0 if free now)."""
        due = max(self._next_at, now)
        self._next_at = due + self._interval
        return max(0.0, due - self._tolerance - now)


class Pacer:
    """The pacing of one run: a token of the global rate per attempt; :meth:`stop` wakes
    every sleeper at once and lets nothing more be sent."""

    def __init__(self, rate_per_s: float, burst: float = 1.0) -> None:
        self._limiter = RateLimiter(rate_per_s, burst=burst)
        self._sleepers: set[asyncio.Future[bool]] = set()
        self.stopping = False

    def stop(self) -> None:
        """From now on nothing waits and nothing is sent."""
        self.stopping = True
        for sleeper in self._sleepers:
            if not sleeper.done():
                sleeper.set_result(True)

    async def before_attempt(self) -> bool:
        """wait for a token of the global rate; True if stopping."""
        if self.stopping:
            return True
        delay = self._limiter.reserve(asyncio.get_running_loop().time())
        return await self.pause(delay) if delay > 0 else False

    async def pause(self, delay_s: float) -> bool:
        """sleep ``delay_s`` unless stopped first; True if stopping."""
        if self.stopping:
            return True
        if delay_s <= 0:
            return False
        loop = asyncio.get_running_loop()
        # A future per sleeper (not an asyncio.Event) so that stop() wakes all of them and a
        # finished sleep leaves no waiter behind: calls sleep between all their events.
        sleeper: asyncio.Future[bool] = loop.create_future()
        wake = loop.call_later(delay_s, _resolve, sleeper)
        self._sleepers.add(sleeper)
        try:
            return await sleeper
        finally:
            wake.cancel()
            self._sleepers.discard(sleeper)


def _resolve(sleeper: asyncio.Future[bool]) -> None:
    if not sleeper.done():
        sleeper.set_result(False)
