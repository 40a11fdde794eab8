"""Connections and request heads are bounded before authentication, and early answers
reach clients that write the whole body before reading.

Raw sockets stand in for abusive clients; the ingress is the production server
(uvicorn with the guarded httptools protocol) on the shared broker.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import httpx
import orjson

from processor.settings import Settings
from tests.factories import make_envelope_bytes
from tests.integration.ingress.conftest import StartIngress, json_headers

PATH = "/webhooks/recho"


def _host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _head(body_length: int | None = None, extra: str = "") -> bytes:
    lines = [f"POST {PATH} HTTP/1.1", "Host: ingress", "Content-Type: application/json"]
    if body_length is not None:
        lines.append(f"Content-Length: {body_length}")
    return ("\r\n".join(lines) + "\r\n" + extra).encode()


async def _read_answer(reader: asyncio.StreamReader, timeout_s: float = 10.0) -> tuple[int, dict]:
    """Read one HTTP answer: status and JSON body (``{}`` if the server just closed)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout_s)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await asyncio.wait_for(reader.readexactly(length), timeout_s)
    return status, orjson.loads(body)


async def _closed_within(reader: asyncio.StreamReader, timeout_s: float) -> bool:
    """True if the server closed the connection (EOF or reset) within ``timeout_s``."""
    try:
        data = await asyncio.wait_for(reader.read(), timeout_s)
    except (ConnectionError, OSError):
        return True
    except TimeoutError:
        return False
    return data is not None


class TestHeaderBounds:
    async def test_oversized_and_too_many_headers_get_431(
        self, settings: Settings, start_ingress: StartIngress
    ) -> None:
        """A header growing without end is refused with 431 (the first megabytes of it
        are read and dropped, never buffered), as are 200 header fields; a 16 KiB header
        sent with its body in one write is served normally."""
        url = await start_ingress(settings)
        host, port = _host_port(url)

        reader, writer = await asyncio.open_connection(host, port)
        writer.write(_head(10, "X-Big: "))
        for _ in range(4):
            writer.write(b"a" * 1_048_576)
            await writer.drain()
        status, body = await _read_answer(reader)
        writer.close()
        assert status == 431
        assert body["error"] == "headers_too_large"

        reader, writer = await asyncio.open_connection(host, port)
        many = "".join(f"X-H{i}: v\r\n" for i in range(200))
        writer.write(_head(2, many + "\r\n{}"))
        status, body = await _read_answer(reader)
        writer.close()
        assert status == 431
        assert "header fields" in body["message"]

        async with httpx.AsyncClient() as client:
            fine = await client.post(
                url + PATH,
                content=make_envelope_bytes(),
                headers=json_headers(**{"x-large": "v" * 16384}),
            )
        assert fine.status_code == 202, fine.text

    async def test_malformed_request_gets_a_json_400(
        self, settings: Settings, start_ingress: StartIngress
    ) -> None:
        """A request the HTTP parser rejects is answered 400 in the JSON error format."""
        url = await start_ingress(settings)
        reader, writer = await asyncio.open_connection(*_host_port(url))
        writer.write(b"POST /webhooks/recho HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n")
        status, body = await _read_answer(reader)
        writer.close()
        assert status == 400
        assert body["error"] == "malformed_request"
        assert body["requestId"]


class TestTimeBounds:
    async def test_silent_slow_and_stalled_connections_are_closed(
        self, settings_factory: Callable[..., Settings], start_ingress: StartIngress
    ) -> None:
        """With 1 s bounds: a connection that never sends a byte is closed; headers that
        trickle in get 408; a body shorter than its Content-Length gets 408; an idle
        keep-alive connection is closed. None stays open for minutes."""
        from processor.kafka.admin import create_topics

        settings = settings_factory(
            ingress_header_timeout_s=1.0, ingress_body_timeout_s=1.0, ingress_keep_alive_s=1
        )
        await create_topics(settings)
        url = await start_ingress(settings)
        host, port = _host_port(url)

        silent_reader, silent = await asyncio.open_connection(host, port)

        slow_reader, slow = await asyncio.open_connection(host, port)

        async def trickle() -> None:
            for byte in _head(10):
                slow.write(bytes([byte]))
                await asyncio.sleep(0.2)

        trickling = asyncio.create_task(trickle())

        short_reader, short = await asyncio.open_connection(host, port)
        short.write(_head(1000, "\r\n") + b'{"partial": ')

        idle_reader, idle = await asyncio.open_connection(host, port)
        body = make_envelope_bytes()
        idle.write(_head(len(body), "\r\n") + body)
        status, _ = await _read_answer(idle_reader)
        assert status == 202

        started = time.monotonic()
        assert await _closed_within(silent_reader, 5)
        slow_status, slow_body = await _read_answer(slow_reader)
        assert (slow_status, slow_body["error"]) == (408, "request_timeout")
        short_status, short_body = await _read_answer(short_reader)
        assert (short_status, short_body["error"]) == (408, "request_timeout")
        assert await _closed_within(idle_reader, 5)
        assert time.monotonic() - started < 6
        trickling.cancel()
        for writer in (silent, slow, short, idle):
            writer.close()

    async def test_normal_clients_are_served_during_a_slowloris_of_500(
        self, settings_factory: Callable[..., Settings], start_ingress: StartIngress
    ) -> None:
        """500 connections sending a header line every 0.5 s never finish their head;
        meanwhile 100 ordinary webhooks all get 202, and every slowloris connection is
        cut (408) by the header timeout."""
        from processor.kafka.admin import create_topics

        settings = settings_factory(ingress_header_timeout_s=3.0)
        await create_topics(settings)
        url = await start_ingress(settings)
        host, port = _host_port(url)

        async def slowloris() -> bytes:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(_head(10))
            answer = asyncio.ensure_future(reader.read())
            try:
                for i in range(60):  # gives up after 30 s
                    if answer.done():
                        break
                    writer.write(f"X-Slow-{i}: 1\r\n".encode())
                    await asyncio.wait([answer], timeout=0.5)
                return answer.result() if answer.done() else b""
            except (ConnectionError, OSError):
                return b"reset"
            finally:
                answer.cancel()
                writer.close()

        attackers = [asyncio.create_task(slowloris()) for _ in range(500)]
        await asyncio.sleep(1.0)
        async with httpx.AsyncClient(timeout=10) as client:
            started = time.monotonic()
            responses = await asyncio.gather(
                *(
                    client.post(url + PATH, content=make_envelope_bytes(), headers=json_headers())
                    for _ in range(100)
                )
            )
            served_in = time.monotonic() - started
        assert [r.status_code for r in responses] == [202] * 100
        assert served_in < 10
        answers = await asyncio.gather(*attackers)
        assert all(a.startswith(b"HTTP/1.1 408") or a == b"reset" for a in answers)


class TestConnectionBound:
    async def test_connections_past_the_limit_get_a_fast_503(
        self, settings_factory: Callable[..., Settings], start_ingress: StartIngress
    ) -> None:
        """With room for 20 connections, 40 idle ones do not all stay: those past the
        limit are answered 503 (JSON, Retry-After) at once and closed; once the idle
        ones are gone, webhooks are served again."""
        from processor.kafka.admin import create_topics

        settings = settings_factory(ingress_max_connections=20)
        await create_topics(settings)
        url = await start_ingress(settings)
        host, port = _host_port(url)
        opened = [await asyncio.open_connection(host, port) for _ in range(40)]
        refused = 0
        for reader, _ in opened[20:]:
            status, body = await _read_answer(reader, timeout_s=2)
            assert (status, body["error"]) == (503, "overloaded")
            refused += 1
        assert refused == 20
        for _, writer in opened:
            writer.close()
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient() as client:
            response = await client.post(
                url + PATH, content=make_envelope_bytes(), headers=json_headers()
            )
        assert response.status_code == 202, response.text


def _urllib_post(url: str, data: bytes | Iterator[bytes]) -> tuple[int, dict]:
    """POST like Python's urllib: the whole body is written before the answer is read."""
    request = urllib.request.Request(  # noqa: S310 (an http:// test URL)
        url, data=data, headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (test URL)
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


class TestEarlyAnswerReachesTheClient:
    async def test_write_everything_then_read_clients_see_413(
        self, settings: Settings, start_ingress: StartIngress
    ) -> None:
        """urllib sending 1.1 MiB and 5 MiB bodies (Content-Length) and a 5 MiB chunked
        body (no Content-Length) reads a 413 JSON answer each time, not a reset."""
        url = await start_ingress(settings) + PATH
        for size in (1_153_434, 5 * 1_048_576):
            for _ in range(3):
                status, body = await asyncio.to_thread(_urllib_post, url, b"x" * size)
                assert (status, body["error"]) == (413, "body_too_large")

        def chunks() -> Iterator[bytes]:
            for _ in range(80):
                yield b"x" * 65536

        status, body = await asyncio.to_thread(_urllib_post, url, chunks())
        assert (status, body["error"]) == (413, "body_too_large")
