"""An ingress served in-process on a free port, and an HTTP client for it."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from processor.ingress.server import _DrainingServer, create_app, uvicorn_config
from processor.settings import Settings
from tests.support.servers import free_port


class _EmbeddedDrainingServer(_DrainingServer):
    """The ingress server without signal capture: pytest keeps its own handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


StartIngress = Callable[[Settings], Awaitable[str]]


@pytest.fixture
async def start_ingress() -> AsyncIterator[StartIngress]:
    """Start ingress servers in this event loop; each returns its base URL."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(settings: Settings) -> str:
        port = free_port()
        settings = settings.model_copy(update={"ingress_port": port})
        app = create_app(settings)
        config = uvicorn_config(settings, app)
        server = _EmbeddedDrainingServer(config, app)
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    if (await client.get(f"{url}/readyz")).status_code == 200:
                        return url
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError("ingress did not become ready")

    yield start
    for server, _ in servers:
        server.should_exit = True
    await asyncio.gather(*(task for _, task in servers), return_exceptions=True)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client with generous connection limits."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def rsa_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three RSA key pairs made by openssl (an independent signer): a, b and c."""
    folder = tmp_path_factory.mktemp("keys")
    keys: dict[str, Path] = {}
    for name in ("a", "b", "c"):
        private = folder / f"{name}.key"
        public = folder / f"{name}.pem"
        subprocess.run(
            ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", str(private)],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            ["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)],
            check=True,
            capture_output=True,
        )
        keys[f"{name}_private"] = private
        keys[f"{name}_public"] = public
    return keys


def openssl_sign(private_key: Path, timestamp: str, body: bytes, workdir: Path) -> str:
    """Sign ``<timestamp>.<body>`` with openssl dgst -sha256 -sign; return base64."""
    message = workdir / "message.bin"
    message.write_bytes(timestamp.encode() + b"." + body)
    signature = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", str(private_key), str(message)],
        check=True,
        capture_output=True,
    ).stdout
    encoded = subprocess.run(
        ["openssl", "base64", "-A"], input=signature, check=True, capture_output=True
    ).stdout
    return encoded.decode().strip()


def json_headers(**extra: Any) -> dict[str, str]:
    """Content-Type JSON plus any extra headers."""
    return {"content-type": "application/json", **{k: str(v) for k, v in extra.items()}}
