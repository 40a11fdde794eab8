"""A real PostgreSQL server, explorer settings for both stores, and the explorer in-process.

PostgreSQL comes from the Debian package (``postgresql``, installed by ``make
tools``): ``initdb`` and ``pg_ctl`` into a temporary folder on a free port,
stopped at the end of the session. PostgreSQL refuses to run as root, so as
root the server runs as the ``postgres`` user the package creates. Under
``CI=true`` a server that cannot start fails the test instead of skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from processor.explorer.command import Explorer
from processor.settings import Settings
from tests.integration.conftest import _in_ci
from tests.support.servers import free_port

STORES = ("sqlite", "postgres")


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


class PostgresServer:
    """A throwaway PostgreSQL cluster: ``dsn(database)`` for a fresh database."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="recho-explorer-pg-"))
        self.port = free_port()
        self.log = self.folder / "server.log"

    def start(self) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError("initdb/pg_ctl not found: install the postgresql package")
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        data = self.folder / "data"
        run = [initdb, "-D", str(data), "-U", "explorer", "--auth=trust", "-E", "UTF8"]
        subprocess.run(_as_postgres(run), check=True, capture_output=True, timeout=120)
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = [pg_ctl, "-D", str(data), "-l", str(self.log), "-o", options, "-w", "start"]
        subprocess.run(_as_postgres(start), check=True, capture_output=True, timeout=120)

    def stop(self) -> None:
        pg_ctl = _pg_bin("pg_ctl")
        if pg_ctl:
            stop = [pg_ctl, "-D", str(self.folder / "data"), "-m", "immediate", "stop"]
            subprocess.run(_as_postgres(stop), check=False, capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://explorer@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"t{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A running PostgreSQL server for the session."""
    server = PostgresServer()
    try:
        server.start()
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        log = server.log.read_text()[-2000:] if server.log.exists() else ""
        detail = getattr(exc, "stderr", b"") or b""
        reason = f"PostgreSQL could not start: {exc} {detail!r} {log}"
        server.stop()
        if _in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    try:
        yield server
    finally:
        server.stop()


ExplorerSettings = Callable[..., Settings]


@pytest.fixture(params=STORES)
def explorer_settings(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> ExplorerSettings:
    """Settings of an explorer on this test's topics with a fresh store of each kind."""
    overrides: dict[str, Any] = {"explorer_port": 0, "explorer_db_path": tmp_path / "x.db"}
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres")
        overrides["explorer_postgres_dsn"] = SecretStr(server.create_database())

    def make(**more: Any) -> Settings:
        return settings.model_copy(update={**overrides, **more})

    return make


@contextlib.asynccontextmanager
async def running_explorer(settings: Settings) -> AsyncIterator[Explorer]:
    """An explorer serving in this event loop until the block ends."""
    explorer = Explorer(settings)
    await explorer.start()
    try:
        yield explorer
    finally:
        await explorer.stop()


@contextlib.asynccontextmanager
async def explorer_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of an explorer running in this event loop until the block ends."""
    async with (
        running_explorer(settings) as explorer,
        httpx.AsyncClient(base_url=explorer.url, timeout=10) as client,
    ):
        yield client


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout_s: float = 60.0, what: str = "condition"
) -> None:
    """Wait until ``check`` is true, or fail naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def get_json(client: httpx.AsyncClient, url: str) -> tuple[int, Any]:
    """GET a URL; status and decoded JSON."""
    response = await client.get(url)
    return response.status_code, response.json()
