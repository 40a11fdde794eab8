"""The two query-store databases: SQLite (embedded, the default) and PostgreSQL.

Both give a :class:`~processor.explorer.sql.Dialect` to the one store
implementation. SQLite runs in WAL mode with ``synchronous=NORMAL``: a
committed transaction survives a killed process (it is in the WAL), and a
power cut can only lose the last transactions together with their offsets,
which are then read again from Kafka.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg

from processor.explorer.sql import Connection, Dialect, SqlStore
from processor.explorer.store import Store
from processor.settings import Settings

_BUSY_TIMEOUT_MS = 10000


def sqlite_dialect(path: Path) -> Dialect:
    """SQLite on one file; the folder is created if missing."""

    def connect(writer: bool) -> Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB of pages per connection
        conn.execute("PRAGMA mmap_size = 268435456")
        conn.execute("PRAGMA temp_store = MEMORY")
        if not writer:
            conn.execute("PRAGMA query_only = ON")
        return conn

    return Dialect(
        name="sqlite",
        connect_writer=lambda: connect(True),
        connect_reader=lambda: connect(False),
        errors=(sqlite3.Error,),
        begin_write="BEGIN IMMEDIATE",
        begin_read="BEGIN",
        greatest="MAX",
    )


def postgres_dialect(dsn: str) -> Dialect:
    """PostgreSQL through psycopg 3 (connections in autocommit; explicit transactions)."""

    def connect() -> Connection:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10)

    return Dialect(
        name="postgres",
        connect_writer=connect,
        connect_reader=connect,
        errors=(psycopg.Error,),
        begin_write="BEGIN",
        begin_read="BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        greatest="GREATEST",
        placeholder="%s",
    )


def open_store(settings: Settings) -> Store:
    """The store the settings ask for: PostgreSQL if a DSN is set, else the SQLite file."""
    if settings.explorer_postgres_dsn is not None:
        return SqlStore(postgres_dialect(settings.explorer_postgres_dsn.get_secret_value()))
    path = settings.explorer_db_path or settings.run_dir / "explorer.db"
    return SqlStore(sqlite_dialect(path))
