"""The one :class:`~processor.explorer.store.Store` implementation, over DB-API drivers.

SQLite (stdlib ``sqlite3``) and PostgreSQL (``psycopg`` 3) run the same SQL;
statements are written with ``?`` placeholders and a :class:`Dialect` rewrites
them and supplies the rest of the differences. Both drivers are synchronous
here on purpose: each connection lives on its own thread (one writer, a few
readers), so a slow query never blocks the event loop and the code path is
one. SQLite in WAL mode lets readers run while the writer commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from functools import partial
from typing import Any, TypeVar

from processor.explorer.exceptions import StoreError
from processor.explorer.rows import AlertRow, Batch, ErrorRow, EventRow, Position, StateRow
from processor.explorer.schema import CREATE_MIGRATIONS_TABLE, MIGRATIONS, render
from processor.explorer.sql_reads import SUMMARY_COLUMNS, read_stats, summary_of, where_clause
from processor.explorer.store import CallQuery, CallRows, CallSummary, StatsRows

T = TypeVar("T")
# DB-API connections and cursors: sqlite3's and psycopg's differ in types but
# not in the calls made here (cursor, execute, executemany, fetch*, commit).
Connection = Any
Cursor = Any

_EVENT_COLUMNS = (
    "call_id, src_partition, src_offset, at_ms, event_type, event_type_raw, call_status, "
    "verdict, previous_status, status, has_errors, errors_json, flags_json"
)
_STATE_COLUMNS = tuple(f.name for f in fields(StateRow))
# dataclasses' astuple deep-copies every value: attrgetter is several times faster here.
_EVENT_VALUES = operator.attrgetter(*(f.name for f in fields(EventRow)))
_ERROR_VALUES = operator.attrgetter(*(f.name for f in fields(ErrorRow)))
_ALERT_VALUES = operator.attrgetter(*(f.name for f in fields(AlertRow)))
_STATE_VALUES = operator.attrgetter(*_STATE_COLUMNS)
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the databases."""

    name: str
    connect_writer: Callable[[], Connection]
    connect_reader: Callable[[], Connection]
    errors: tuple[type[Exception], ...]
    begin_write: str
    begin_read: str
    greatest: str  # the two-argument maximum function
    placeholder: str = "?"

    def sql(self, text: str) -> str:
        """``text`` with this dialect's placeholders."""
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)


class SqlStore:
    """SQLite or PostgreSQL query store; every method runs on a database thread."""

    def __init__(self, dialect: Dialect, readers: int = 4) -> None:
        self.kind = dialect.name
        self._d = dialect
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="explorer-writer")
        self._reader_pool = ThreadPoolExecutor(readers, thread_name_prefix="explorer-reader")
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._lock = threading.Lock()

    # --- threads and connections ----------------------------------------------

    def _connection(self, writer: bool) -> Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._d.connect_writer() if writer else self._d.connect_reader()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    async def _write(self, work: Callable[[Cursor], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._writer_pool, self._in_transaction, work, True
        )

    async def _read(self, work: Callable[[Cursor], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._reader_pool, self._in_transaction, work, False
        )

    def _in_transaction(self, work: Callable[[Cursor], T], writer: bool) -> T:
        # Connections are in autocommit mode; transactions are explicit statements,
        # the same for both drivers.
        try:
            conn = self._connection(writer)
            cur = conn.cursor()
            cur.execute(self._d.begin_write if writer else self._d.begin_read)
            try:
                result = work(cur)
            except BaseException:
                with contextlib.suppress(*self._d.errors):
                    cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
            return result
        except self._d.errors as exc:
            self._local.conn = None  # reconnect next time: the connection may be broken
            raise StoreError(f"{self.kind} store: {exc}") from exc

    def _x(self, cur: Cursor, text: str, params: Sequence[Any] = ()) -> Cursor:
        cur.execute(self._d.sql(text), params)
        return cur

    def _many(self, cur: Cursor, text: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            cur.executemany(self._d.sql(text), rows)

    # --- lifecycle ------------------------------------------------------------

    async def open(self) -> None:
        """Connect and apply missing migrations, each in its own transaction."""
        await self._write(lambda cur: self._x(cur, CREATE_MIGRATIONS_TABLE))
        done = set(
            await self._write(
                lambda cur: [r[0] for r in self._x(cur, "SELECT version FROM schema_migrations")]
            )
        )
        for migration in MIGRATIONS:
            if migration.version in done:
                continue

            def migrate(cur: Cursor, m: Any = migration) -> None:
                for statement in m.statements:
                    cur.execute(render(statement, self._d.name))
                self._x(
                    cur,
                    "INSERT INTO schema_migrations (version, description, applied_at_ms) "
                    "VALUES (?, ?, ?)",
                    (m.version, m.description, int(time.time() * 1000)),
                )

            await self._write(migrate)

    async def close(self) -> None:
        """Close every connection and stop the threads."""

        def close_all() -> None:
            with self._lock:
                for conn in self._connections:
                    with contextlib.suppress(*self._d.errors):  # already broken: nothing to do
                        conn.close()
                self._connections.clear()

        self._writer_pool.shutdown(wait=True)
        self._reader_pool.shutdown(wait=True)
        await asyncio.to_thread(close_all)

    # --- writes ---------------------------------------------------------------

    async def offsets(self) -> dict[Position, int]:
        """Next offset per (topic, partition)."""
        rows = await self._write(
            lambda cur: self._x(
                cur, "SELECT topic, kafka_partition, next_offset FROM consumer_offsets"
            ).fetchall()
        )
        return {(topic, int(partition)): int(offset) for topic, partition, offset in rows}

    async def apply(self, batch: Batch) -> None:
        """Rows and offsets of ``batch`` in one transaction."""
        await self._write(lambda cur: self._apply(cur, batch))

    def _forgotten(self, cur: Cursor, call_ids: set[str]) -> set[str]:
        ids = sorted(call_ids)
        found: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT call_id FROM forgotten WHERE call_id IN ({marks})"  # noqa: S608 (only placeholders)
            found.update(r[0] for r in self._x(cur, sql, chunk).fetchall())
        return found

    def _apply(self, cur: Cursor, batch: Batch) -> None:
        touched = {e.call_id for e in batch.events} | {a.call_id for a in batch.alerts}
        touched |= {c for c, s in batch.states.items() if s is not None}
        forgotten: set[str] = set()
        if touched and self._x(cur, "SELECT 1 FROM forgotten LIMIT 1").fetchone():
            forgotten = self._forgotten(cur, touched)
        back = {c for c, s in batch.states.items() if s is not None and c in forgotten}
        if back:  # a new state after the tombstone: the call is alive again
            self._many(cur, "DELETE FROM forgotten WHERE call_id = ?", [(c,) for c in back])
            forgotten -= back
        self._many(
            cur,
            f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "  # noqa: S608
            "ON CONFLICT DO NOTHING",
            (_EVENT_VALUES(e) for e in batch.events if e.call_id not in forgotten),
        )
        self._many(
            cur,
            "INSERT INTO event_errors (call_id, src_partition, src_offset, position, code, "
            "phase, at_ms) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (_ERROR_VALUES(e) for e in batch.errors if e.call_id not in forgotten),
        )
        self._many(
            cur,
            "INSERT INTO alerts (alert_id, call_id, kind, severity, at_ms, src_partition, "
            "src_offset, alert_json) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (_ALERT_VALUES(a) for a in batch.alerts if a.call_id not in forgotten),
        )
        updates = ", ".join(f"{c} = excluded.{c}" for c in _STATE_COLUMNS[1:])
        self._many(
            cur,
            f"INSERT INTO calls ({', '.join(_STATE_COLUMNS)}) "  # noqa: S608 (column names)
            f"VALUES ({', '.join('?' * len(_STATE_COLUMNS))}) "
            f"ON CONFLICT (call_id) DO UPDATE SET {updates} "
            # Never go back in time (two explorers sharing one PostgreSQL database).
            "WHERE excluded.events_seen >= calls.events_seen "
            "AND excluded.last_seen_ms >= calls.last_seen_ms",
            (_STATE_VALUES(s) for s in batch.states.values() if s is not None),
        )
        gone = [(c,) for c, s in batch.states.items() if s is None]
        if gone:
            self._delete_calls(cur, gone)
            now_ms = int(time.time() * 1000)
            self._many(
                cur,
                "INSERT INTO forgotten (call_id, at_ms) VALUES (?, ?) "
                "ON CONFLICT (call_id) DO UPDATE SET at_ms = excluded.at_ms",
                [(c, now_ms) for (c,) in gone],
            )
        self._many(
            cur,
            "INSERT INTO consumer_offsets (topic, kafka_partition, next_offset) VALUES (?,?,?) "  # noqa: S608 (a function name)
            "ON CONFLICT (topic, kafka_partition) DO UPDATE SET next_offset = "
            f"{self._d.greatest}(consumer_offsets.next_offset, excluded.next_offset)",
            [(t, p, o) for (t, p), o in batch.offsets.items()],
        )

    def _delete_calls(self, cur: Cursor, call_ids: list[tuple[str]]) -> None:
        for table in ("events", "event_errors", "alerts", "calls"):
            self._many(cur, f"DELETE FROM {table} WHERE call_id = ?", call_ids)  # noqa: S608

    async def expire(self, before_ms: int) -> int:
        """Delete calls whose last event is older than ``before_ms`` (in rounds)."""

        def expire_round(cur: Cursor) -> int:
            rows = self._x(
                cur,
                "SELECT call_id FROM calls WHERE last_seen_ms < ? LIMIT 5000",
                (before_ms,),
            ).fetchall()
            self._delete_calls(cur, [(r[0],) for r in rows])
            self._x(cur, "DELETE FROM forgotten WHERE at_ms < ?", (before_ms,))
            return len(rows)

        total = 0
        while (deleted := await self._write(expire_round)) > 0:
            total += deleted
        return total

    # --- reads ----------------------------------------------------------------

    async def get_call(self, call_id: str) -> CallRows | None:
        """State, events in call order, alerts in time order."""

        def read(cur: Cursor) -> CallRows | None:
            state = self._x(
                cur, "SELECT state_json FROM calls WHERE call_id = ?", (call_id,)
            ).fetchone()
            events = [
                EventRow(*row)
                for row in self._x(
                    cur,
                    f"SELECT {_EVENT_COLUMNS} FROM events WHERE call_id = ? "  # noqa: S608
                    "ORDER BY src_partition, src_offset",
                    (call_id,),
                ).fetchall()
            ]
            alerts = [
                row[0]
                for row in self._x(
                    cur,
                    "SELECT alert_json FROM alerts WHERE call_id = ? ORDER BY at_ms, alert_id",
                    (call_id,),
                ).fetchall()
            ]
            if state is None and not events:
                return None
            return CallRows(state[0] if state else None, events, alerts)

        return await self._read(read)

    async def list_calls(self, query: CallQuery) -> list[CallSummary]:
        """Newest first (by first event), after the cursor, at most ``query.limit``."""
        where, params = where_clause(query)
        sql = (
            f"SELECT {SUMMARY_COLUMNS} FROM calls c {where} "  # noqa: S608 (built from constants)
            "ORDER BY first_seen_ms DESC, call_id DESC LIMIT ?"
        )
        rows = await self._read(lambda cur: self._x(cur, sql, [*params, query.limit]).fetchall())
        return [summary_of(r) for r in rows]

    async def stats(self, since_ms: int) -> StatsRows:
        """Outcomes, error codes and unexpected transitions since ``since_ms``; answer time."""
        return await self._read(lambda cur: read_stats(partial(self._x, cur), since_ms))
