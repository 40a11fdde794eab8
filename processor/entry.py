"""How every command's process runs: its event loop, its stop signals.

cli -> **entry** -> a command's ``run_*`` coroutine. :func:`run_main` runs a command's
coroutine on uvloop when it is installed (plain asyncio otherwise); :func:`stop_event`
gives a long-running process its ``stop`` event, set by SIGTERM and SIGINT, unless the
caller passed one of its own (``processor run``, tests), which then owns the signals.
Handlers are removed when the process's run ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Final, TypeVar, cast

T = TypeVar("T")

STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed; None (asyncio's default) otherwise."""
    try:
        import uvloop
    except ImportError:
        return None
    return cast(Callable[[], asyncio.AbstractEventLoop], uvloop.new_event_loop)


def run_main(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion in a new event loop (uvloop if installed)."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


@contextlib.contextmanager
def on_signals(handler: Callable[[], None]) -> Iterator[None]:
    """Call ``handler`` on SIGTERM and SIGINT inside the block; restore them after.

    Where the loop cannot handle signals (not the main thread, Windows), nothing is
    installed.
    """
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, handler)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        handled.append(sig)
    try:
        yield
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


@contextlib.contextmanager
def stop_event(stop: asyncio.Event | None) -> Iterator[asyncio.Event]:
    """``stop`` if given (its owner handles the signals); else one SIGTERM/SIGINT set."""
    if stop is not None:
        yield stop
        return
    own = asyncio.Event()
    with on_signals(own.set):
        yield own
