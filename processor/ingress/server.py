"""Serve the ingress: one uvicorn process, or N sharing one listening socket.

uvloop and httptools are used when installed. On SIGTERM a process turns
unready, answers 503 to anything new, lets in-flight requests finish, then
flushes its producer. With ``--workers N`` (N > 1) the parent binds one
listening socket per process on the same port (``SO_REUSEPORT``), starts N
processes, forwards SIGTERM/SIGINT and waits; their metrics are merged by
prometheus_client's multiprocess mode.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
from types import FrameType
from typing import Any

import uvicorn
from prometheus_client import multiprocess

from processor.errors import ConfigError
from processor.http.metrics_endpoint import MULTIPROC_ENV
from processor.ingress.app import IngressApp
from processor.ingress.auth import Authenticator
from processor.ingress.protocol import protocol_class
from processor.kafka import Publisher
from processor.logs import configure_logging, get_logger
from processor.settings import Settings

log = get_logger(__name__)


def create_app(settings: Settings, *, freeze_heap: bool = False) -> IngressApp:
    """The ingress app with its publisher and authenticator (fails on bad auth config).

    ``freeze_heap``: freeze the process's startup heap once Kafka is connected
    (processor/ingress/heap.py); for the process that serves the app.
    """
    publisher = Publisher(settings, size_topic=settings.topic_webhooks)
    return IngressApp(
        settings, publisher, Authenticator.from_settings(settings), freeze_heap=freeze_heap
    )


class _DrainingServer(uvicorn.Server):
    """uvicorn, but the app turns unready the moment the exit signal arrives."""

    def __init__(self, config: uvicorn.Config, app: IngressApp) -> None:
        super().__init__(config)
        self._ingress = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._ingress.draining = True
        super().handle_exit(sig, frame)


def uvicorn_config(settings: Settings, app: IngressApp) -> uvicorn.Config:
    """How the ingress runs on uvicorn (also used by the tests that serve it in-process)."""
    return uvicorn.Config(
        app,
        host=settings.ingress_host,
        port=settings.ingress_port,
        loop="auto",
        http=protocol_class(settings),  # httptools with header, time and connection bounds
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # client addresses are not used; skip the middleware
        server_header=False,
        log_level="warning",
        log_config=None,  # uvicorn's records go through the process's structlog formatter
        backlog=4096,
        timeout_keep_alive=settings.ingress_keep_alive_s,
        timeout_graceful_shutdown=int(settings.ingress_drain_timeout_s) + 1,
        **_https_options(settings),
    )


def _https_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's TLS options when the ingress serves HTTPS itself (both files set)."""
    cert, key = settings.ingress_ssl_cert_file, settings.ingress_ssl_key_file
    if cert is None and key is None:
        return {}
    if cert is None or key is None:
        raise ConfigError(
            "HTTPS needs both PROCESSOR_INGRESS_SSL_CERT_FILE and PROCESSOR_INGRESS_SSL_KEY_FILE"
        )
    password = settings.ingress_ssl_key_password
    return {
        "ssl_certfile": str(cert),
        "ssl_keyfile": str(key),
        "ssl_keyfile_password": password.get_secret_value() if password else None,
    }


def _serve_one(settings: Settings, sock: socket.socket | None) -> None:
    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings, freeze_heap=True)
    server = _DrainingServer(uvicorn_config(settings, app), app)
    # uvicorn re-raises the exit signal after its graceful shutdown, into the
    # handler that was installed before it; a no-op there makes a drained
    # SIGTERM exit 0 (SIGINT still ends as KeyboardInterrupt).
    signal.signal(signal.SIGTERM, lambda sig, frame: None)
    server.run(sockets=[sock] if sock is not None else None)


def serve(settings: Settings) -> int:
    """Run the ingress until SIGTERM/SIGINT; return an exit code."""
    create_app(settings)  # fail fast on bad auth configuration, before binding
    if settings.ingress_workers == 1:
        log.info("ingress_serving", port=settings.ingress_port, path=settings.ingress_path)
        _serve_one(settings, None)
        return 0
    return _serve_many(settings)


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on one address, one per worker process (SO_REUSEPORT).

    The kernel spreads new connections over them by a hash of the address pair.
    With one shared socket instead, whichever worker was awake accepted a whole
    burst: the 64 connections of a paced bench run went 64/0, 57/7 or 52/12 to
    the two workers, and the busy one's event loop (more requests per turn, fewer
    CPU slices) set the latency: paced p50 7.8-10.9 ms against 5.6-6.0 ms with
    the connections split 39/25, 32/32, 37/27 here. Port 0 binds the first socket
    to a free port and the others to the same one.
    """
    sockets: list[socket.socket] = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        port = sock.getsockname()[1]
        sock.listen(4096)
        sockets.append(sock)
    return sockets


def _serve_many(settings: Settings) -> int:
    metrics_dir = tempfile.mkdtemp(prefix="recho-ingress-metrics-")
    os.environ[MULTIPROC_ENV] = metrics_dir  # children inherit it; prometheus_client reads it
    sockets = listening_sockets(
        settings.ingress_host, settings.ingress_port, settings.ingress_workers
    )
    port = sockets[0].getsockname()[1]
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_serve_one, args=(settings, sock), name=f"ingress-{i}")
        for i, sock in enumerate(sockets)
    ]
    for child in children:
        child.start()
    # Each child holds its own socket now (multiprocessing passed it a duplicate). Closing
    # the parent's copies lets a socket die with its process: the kernel then stops sending
    # new connections to a worker that is gone.
    for sock in sockets:
        sock.close()
    log.info("ingress_serving", port=port, workers=len(children), path=settings.ingress_path)

    def forward(sig: int, frame: FrameType | None) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = 0
    for child in children:
        child.join()
        if child.pid is not None:
            multiprocess.mark_process_dead(child.pid)  # type: ignore[no-untyped-call]
        code = code or (child.exitcode or 0)
    shutil.rmtree(metrics_dir, ignore_errors=True)
    return code
