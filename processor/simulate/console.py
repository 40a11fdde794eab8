"""What a simulation shows while it runs and when it ends.

The simulator's output (scenarios -> runner -> sender, with this module watching the
runner). :class:`SimulationConsole` is the runner's progress hook: a rich live view of the
counts on a terminal, or one plain progress line every few seconds on stderr otherwise (logs,
CI). :func:`render_report` is the final summary: what was sent by eventType, how calls
ended, how the ingress answered, and request latency.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from processor.contract.enums import EventType
from processor.simulate.outcomes import SimulatedOutcome
from processor.simulate.report import SimulationReport

_PLAIN_WIDTH = 120


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _counts(counter: dict[str, int]) -> str:
    if not counter:
        return "none"
    return ", ".join(f"{key}: {value}" for key, value in sorted(counter.items()))


def progress_line(report: SimulationReport) -> str:
    """One line of live counts, for logs and pipes."""
    return (
        f"simulate {report.elapsed_s:6.1f}s  sent {report.sent} ({report.sent_per_s:.1f}/s)  "
        f"accepted {report.accepted}  retried {report.retried}  rejected {report.rejected}  "
        f"calls {report.calls_started} started, {report.calls_in_flight} in flight, "
        f"{sum(report.calls_finished.values())} finished  "
        f"p99 {_ms(report.latency.p99_s)}"
    )


def _headline(report: SimulationReport) -> Text:
    state = "running" if report.running else ("stopped" if report.stopped else "done")
    return Text.assemble(
        ("Recho simulator ", "bold"),
        f"-> {report.target_url} (auth {report.auth_mode}), {state} after "
        f"{report.elapsed_s:.1f} s: {report.sent} events sent, {report.sent_per_s:.1f}/s",
    )


def _types_table(report: SimulationReport) -> Table:
    table = Table(title="Events by type", title_justify="left")
    table.add_column("eventType")
    table.add_column("sent", justify="right")
    table.add_column("accepted", justify="right")
    known = [e.value for e in EventType if e is not EventType.UNKNOWN]
    names = known + sorted(set(report.sent_by_type) - set(known))
    for name in names:
        if name in report.sent_by_type:
            table.add_row(
                name, str(report.sent_by_type[name]), str(report.accepted_by_type.get(name, 0))
            )
    table.add_row("total", str(report.sent), str(report.accepted), style="bold")
    return table


def _calls_table(report: SimulationReport) -> Table:
    table = Table(title="Calls by outcome", title_justify="left")
    table.add_column("outcome")
    table.add_column("finished", justify="right")
    table.add_column("aborted", justify="right")
    for outcome in SimulatedOutcome:
        finished = report.calls_finished.get(outcome.value, 0)
        aborted = report.calls_aborted.get(outcome.value, 0)
        if finished or aborted:
            table.add_row(outcome.value, str(finished), str(aborted))
    table.add_row(
        "total",
        str(sum(report.calls_finished.values())),
        str(sum(report.calls_aborted.values())),
        style="bold",
    )
    return table


def _answers(report: SimulationReport) -> Text:
    latency = report.latency
    return Text(
        f"calls: {report.calls_started} started, {report.calls_in_flight} in flight, "
        f"{report.calls_interrupted} interrupted\n"
        f"answers: {_counts(report.responses_by_status)}  "
        f"({report.requests} requests, {report.retried} retries)\n"
        f"rejected events: {_counts(report.rejected_by_status)}\n"
        f"latency of accepted requests: p50 {_ms(latency.p50_s)}, p90 {_ms(latency.p90_s)}, "
        f"p99 {_ms(latency.p99_s)}, max {_ms(latency.max_s)} ({latency.count} requests)"
    )


def render_report(report: SimulationReport) -> RenderableType:
    """The summary: headline, events by type, calls by outcome, answers and latency."""
    return Group(_headline(report), _types_table(report), _calls_table(report), _answers(report))


class SimulationConsole:
    """Shows a simulation's progress; use as a context manager around the run."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        progress_stream: TextIO | None = None,
        live: bool | None = None,
        line_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream or sys.stdout
        self._progress_stream = progress_stream or sys.stderr
        self._live_wanted = self._stream.isatty() if live is None else live
        self._console = Console(
            file=self._stream, width=None if self._live_wanted else _PLAIN_WIDTH
        )
        self._line_interval_s = line_interval_s
        self._clock = clock
        self._last_line_at: float | None = None
        self._live: Live | None = None

    def __enter__(self) -> SimulationConsole:
        if self._live_wanted:
            self._live = Live(console=self._console, auto_refresh=False, transient=True)
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def update(self, report: SimulationReport) -> None:
        """Progress hook: redraw the live view, or print a line every ``line_interval_s``."""
        if self._live is not None:
            self._live.update(
                Group(_headline(report), _types_table(report), _answers(report)), refresh=True
            )
            return
        if not report.running:
            return
        now = self._clock()
        if self._last_line_at is None or now - self._last_line_at >= self._line_interval_s:
            self._last_line_at = now
            print(progress_line(report), file=self._progress_stream, flush=True)

    def note(self, message: str) -> None:
        """Tell the user something (e.g. that a stop was asked for)."""
        if self._live is not None:
            self._live.console.print(message)
        else:
            print(message, file=self._progress_stream, flush=True)

    def print_report(self, report: SimulationReport) -> None:
        """Print the final summary."""
        self._console.print(render_report(report))
