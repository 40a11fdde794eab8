"""uvicorn's httptools protocol with the bounds a public HTTP server needs.

Everything here happens before the app runs, so before authentication: the
request head is bounded in bytes and fields (431), in time from the
connection or the request's first byte (408), body bytes must keep coming
(408), idle keep-alive connections are closed, and a process holds at most
``ingress_max_connections`` (a new one past it gets 503 and is closed).

An answer sent before the client finished sending (413 on a large
Content-Length, 431, 408, 503) is followed by a *lingering close*, as Apache
and nginx do: the response is flushed and the write side shut, then whatever
the client still sends is read and thrown away, for at most
``ingress_linger_s`` and ``ingress_linger_max_bytes``. A client that writes the
whole body before reading (Python's urllib) then reads the answer instead of a
connection reset. The body is never buffered.

Timeouts are checked by one sweep per server over its connections (a few
times a second), not by a timer per request: the hot path only bumps
counters. Parser errors are answered in the ingress's JSON error format.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from processor import metrics
from processor.ingress.limits import HttpLimits, Phase
from processor.ingress.request import new_request_id
from processor.settings import Settings


class _RejectedError(Exception):
    """Raised from a parser callback to stop parsing; the answer is on the protocol."""


class _LingeringTransport:
    """The transport a request cycle sees: its ``close`` lingers while the body is unread.

    It also sends a response's head and body in one write: uvicorn writes them
    separately, and each write to a socket is a system call (the profile's
    largest item after the RSA verification). The head is held until the body
    comes, the response completes, or the connection closes.
    """

    __slots__ = (
        "_head",
        "_head_seen",
        "_protocol",
        "_transport",
        "get_extra_info",
        "is_closing",
    )

    def __init__(self, protocol: GuardedHttpToolsProtocol, transport: asyncio.Transport) -> None:
        self._protocol = protocol
        self._transport = transport
        self._head: bytes | None = None
        self._head_seen = False
        self.is_closing = transport.is_closing
        self.get_extra_info = transport.get_extra_info

    def write(self, data: bytes) -> None:
        cycle = self._protocol.cycle
        if not self._head_seen and cycle is not None and cycle.response_started:
            # The first write after the response started is its head (a 100 Continue
            # is written before the response starts, and goes out at once).
            self._head_seen = True
            self._head = data
            return
        head, self._head = self._head, None
        self._transport.write(data if head is None else head + data)

    def flush(self) -> None:
        """Send a held head (a response without body bytes); ready for the next response."""
        head, self._head = self._head, None
        self._head_seen = False
        if head is not None:
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        if self._protocol.phase is Phase.BODY:
            self._protocol.linger()
        else:
            self._transport.close()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol plus header, time and connection bounds; see the module doc."""

    limits: ClassVar[HttpLimits]
    _sweep: ClassVar[asyncio.TimerHandle | None] = None

    phase: Phase = Phase.HEAD
    _phase_started = 0.0
    _head_bytes = 0
    _reads = 0
    _reads_seen = -1
    _discarded = 0
    _rejection: tuple[int, str, str] | None = None

    # --- connection --------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._lingering = _LingeringTransport(self, transport)
        self._phase_started = self.loop.time()
        self._schedule_sweep()
        if len(self.connections) > self.limits.max_connections:
            metrics.INGRESS_REQUESTS.labels("connection", "503").inc()
            self.answer_and_close(
                503, "overloaded", "too many open connections; retry later", retry_after=True
            )

    def data_received(self, data: bytes) -> None:
        phase = self.phase
        if phase is Phase.LINGER:
            self._discard(len(data))
            return
        self._reads += 1
        if phase <= Phase.HEAD:
            self._head_bytes += len(data)
        elif phase is Phase.DISCARD:
            self._discard(len(data))
            if self.transport.is_closing():
                return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # no protocol upgrades here; the request is answered as plain HTTP
        except httptools.HttpParserError as exc:
            status, error, message = self._rejection or (
                400,
                "malformed_request",
                f"the request is not valid HTTP/1.1: {_parser_reason(exc)}",
            )
            metrics.INGRESS_REQUESTS.labels("http", str(status)).inc()
            self.answer_and_close(status, error, message)
            return
        if self.phase is Phase.HEAD and self._head_bytes > self.limits.max_header_bytes:
            self._too_large_head()

    # --- parser callbacks ----------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.phase is Phase.IDLE:
            self.phase = Phase.HEAD
            self._phase_started = self.loop.time()

    def on_headers_complete(self) -> None:
        headers = self.headers
        if len(headers) > self.limits.max_headers:
            self._rejection = (
                431,
                "headers_too_large",
                f"more than {self.limits.max_headers} header fields",
            )
            raise _RejectedError
        # The reads so far may hold body bytes after the head: count exactly, but
        # only when they could be over the bound (never for ordinary requests).
        if self._head_bytes > self.limits.max_header_bytes:
            size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in headers)
            if size > self.limits.max_header_bytes:
                self._rejection = self._head_rejection()
                raise _RejectedError
        super().on_headers_complete()
        self.phase = Phase.BODY
        self._head_bytes = 0
        self._reads_seen = -1
        self.cycle.transport = self._lingering  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self.phase is Phase.BODY:
            self.phase = Phase.APP
        elif self.phase is Phase.DISCARD:
            self.phase = Phase.IDLE
            self._phase_started = self.loop.time()

    def on_response_complete(self) -> None:
        self._lingering.flush()
        super().on_response_complete()
        if self.phase is Phase.BODY:
            # Answered before the body was read (413): read on and drop it, bounded.
            self.phase = Phase.DISCARD
            self._discarded = 0
        elif self.phase is Phase.APP:
            self.phase = Phase.IDLE
        self._phase_started = self.loop.time()

    # --- early answers -------------------------------------------------------
    def _head_rejection(self) -> tuple[int, str, str]:
        return (
            431,
            "headers_too_large",
            f"the request line and headers exceed {self.limits.max_header_bytes} bytes",
        )

    def _too_large_head(self) -> None:
        status, error, message = self._head_rejection()
        metrics.INGRESS_REQUESTS.labels("http", str(status)).inc()
        self.answer_and_close(status, error, message)

    def answer_and_close(
        self, status: int, error: str, message: str, *, retry_after: bool = False
    ) -> None:
        """Send a JSON error with ``connection: close``, then close lingering."""
        if self.transport.is_closing():
            return
        body = orjson.dumps({"error": error, "message": message, "requestId": new_request_id()})
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        if retry_after:
            head.append(b"retry-after: 1\r\n")
        head += [
            b"content-type: application/json\r\ncontent-length: ",
            str(len(body)).encode(),
            b"\r\nconnection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(head))
        if self.cycle is not None and not self.cycle.response_complete:
            # The app's answer, if it ever comes, has nowhere to go.
            self.cycle.response_complete = True
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.linger()

    def linger(self) -> None:
        """Shut the write side and read-and-drop what the client still sends, bounded."""
        self.phase = Phase.LINGER
        self._phase_started = self.loop.time()
        self._discarded = 0
        self._unset_keepalive_if_required()
        if self.limits.linger_s <= 0 or not self.transport.can_write_eof():
            self.transport.close()
            return
        self.flow.resume_reading()
        self.transport.write_eof()

    def _discard(self, size: int) -> None:
        self._discarded += size
        if self._discarded > self.limits.linger_max_bytes:
            self.transport.close()

    # --- timeouts ------------------------------------------------------------
    def _schedule_sweep(self) -> None:
        cls = type(self)
        if cls._sweep is None:
            connections = self.connections
            cls._sweep = self.loop.call_later(
                self.limits.sweep_interval_s, cls._sweep_all, self.loop, connections
            )

    @classmethod
    def _sweep_all(cls, loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
        cls._sweep = None
        now = loop.time()
        for protocol in list(connections):
            if isinstance(protocol, GuardedHttpToolsProtocol):
                protocol.check_timeouts(now)
        if connections:
            cls._sweep = loop.call_later(
                cls.limits.sweep_interval_s, cls._sweep_all, loop, connections
            )

    def check_timeouts(self, now: float) -> None:
        """Close (or answer 408 to) a connection that ran out of time in its phase."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        limits = self.limits
        phase = self.phase
        elapsed = now - self._phase_started
        if phase is Phase.HEAD and elapsed > limits.header_timeout_s:
            if self._head_bytes == 0 and self._reads == 0:
                transport.close()  # never sent a byte: nothing to answer
                return
            metrics.INGRESS_REQUESTS.labels("http", "408").inc()
            self.answer_and_close(
                408,
                "request_timeout",
                f"the request line and headers did not arrive within {limits.header_timeout_s:g} s",
            )
        elif phase is Phase.BODY:
            if self._reads != self._reads_seen:  # bytes came since the last sweep
                self._reads_seen = self._reads
                self._phase_started = now
            elif elapsed > limits.body_timeout_s:
                metrics.INGRESS_REQUESTS.labels("http", "408").inc()
                if self.cycle is not None and self.cycle.response_started:
                    transport.close()
                    return
                self.answer_and_close(
                    408,
                    "request_timeout",
                    f"no body bytes arrived for {limits.body_timeout_s:g} s",
                )
        elif (
            (phase is Phase.IDLE and elapsed > limits.keep_alive_s)
            or (phase is Phase.LINGER and elapsed > limits.linger_s)
            or (phase is Phase.DISCARD and elapsed > max(limits.linger_s, limits.body_timeout_s))
        ):
            transport.close()


def _parser_reason(exc: Exception) -> str:
    """httptools' reason without its internal error-code prefix."""
    text = str(exc) or type(exc).__name__
    return text.split(": ", 1)[-1] if text.startswith("HPE_") else text


def protocol_class(settings: Settings) -> type[GuardedHttpToolsProtocol]:
    """A protocol class bound to these limits (one per server: it holds the sweep timer)."""
    return type(
        "IngressHttpProtocol",
        (GuardedHttpToolsProtocol,),
        {"limits": HttpLimits.from_settings(settings), "_sweep": None},
    )
