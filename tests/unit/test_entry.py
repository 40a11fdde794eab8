"""How a command's process runs: signals stop it, and are left as found afterwards."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from processor.entry import loop_factory, run_main, stop_event


async def _handles(sig: signal.Signals) -> bool:
    return asyncio.get_running_loop().remove_signal_handler(sig)


class TestStopEvent:
    def test_sigterm_sets_the_stop_event_and_the_handler_is_removed_after(self) -> None:
        """Without a caller's event, SIGTERM stops the run; once it ends, SIGTERM is no
        longer handled by the finished run."""

        async def main() -> tuple[bool, bool]:
            with stop_event(None) as stop:
                os.kill(os.getpid(), signal.SIGTERM)
                await asyncio.wait_for(stop.wait(), 5)
                stopped = stop.is_set()
            return stopped, await _handles(signal.SIGTERM)

        assert run_main(main()) == (True, False)

    def test_a_callers_event_leaves_the_signals_to_the_caller(self) -> None:
        """A caller that passes its own event (processor run, tests) keeps its signals:
        none is installed, and the caller's event is the one used."""

        async def main() -> tuple[bool, bool, bool]:
            mine = asyncio.Event()
            with stop_event(mine) as stop:
                handled = await _handles(signal.SIGTERM) or await _handles(signal.SIGINT)
            return stop is mine, handled, mine.is_set()

        assert run_main(main()) == (True, False, False)


class TestRunMain:
    def test_runs_on_uvloop_when_installed(self) -> None:
        """The command's coroutine runs on uvloop's loop (it is a dependency)."""

        async def loop_type() -> str:
            return type(asyncio.get_running_loop()).__module__

        factory = loop_factory()
        assert factory is not None
        assert run_main(loop_type()).startswith("uvloop")

    def test_an_import_error_inside_the_run_is_raised_once(self) -> None:
        """An ImportError raised by the command itself propagates; the command is not
        run a second time on another loop."""
        runs: list[int] = []

        async def failing() -> None:
            runs.append(1)
            raise ImportError("missing optional module")

        with pytest.raises(ImportError):
            run_main(failing())
        assert runs == [1]
