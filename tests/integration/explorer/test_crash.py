"""kill -9 the explorer mid-stream and restart it: nothing missing, nothing doubled."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

from processor.local.processes import settings_env
from processor.settings import Settings
from tests.integration.conftest import ReadTopic
from tests.integration.explorer.conftest import ExplorerSettings, eventually
from tests.integration.worker.checks import traffic
from tests.integration.worker.conftest import decode, produce, running_worker


def _query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    if settings.explorer_postgres_dsn is not None:
        with psycopg.connect(settings.explorer_postgres_dsn.get_secret_value()) as conn:
            return list(conn.execute(sql).fetchall())
    if not settings.explorer_db_path.exists():
        return []
    conn = sqlite3.connect(f"file:{settings.explorer_db_path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []  # not migrated yet
    finally:
        conn.close()


def _stored_events(settings: Settings) -> int:
    try:
        rows = _query(settings, "SELECT COUNT(*) FROM events")
    except psycopg.errors.UndefinedTable:
        return 0
    return int(rows[0][0]) if rows else 0


class TestCrash:
    async def test_kill_9_mid_stream_then_restart_loses_and_doubles_nothing(
        self, explorer_settings: ExplorerSettings, read_topic: ReadTopic, tmp_path: Path
    ) -> None:
        """SIGKILL the explorer while it applies small batches, start it again: the store
        then holds every emitted event and alert exactly once per call, and every call."""
        s = explorer_settings(explorer_batch_max_records=50)
        bodies = traffic("crash", 600, random.Random(3))
        async with running_worker(s):
            await produce(s, bodies)
            emitted = decode(await read_topic(s.topic_call_events, len(bodies), timeout_s=90))
        errored = sum(1 for e in emitted if e["hasErrors"])
        alerts = decode(await read_topic(s.topic_call_alerts, errored, timeout_s=30))
        env = {**os.environ, **settings_env(s), "PROCESSOR_LOG_JSON": "true"}
        command = [sys.executable, "-m", "processor", "explorer"]
        log = (tmp_path / "explorer.log").open("wb")
        try:
            first = subprocess.Popen(command, env=env, stdout=log, stderr=log)
            try:
                while _stored_events(s) == 0:
                    assert first.poll() is None, (tmp_path / "explorer.log").read_text()[-2000:]
                    await asyncio.sleep(0.01)
                first.send_signal(signal.SIGKILL)
                first.wait(10)
            finally:
                if first.poll() is None:
                    first.kill()
            stored_at_kill = _stored_events(s)
            assert 0 < stored_at_kill < len(emitted), "the kill must land mid-stream"
            second = subprocess.Popen(command, env=env, stdout=log, stderr=log)
            try:

                async def caught_up() -> bool:
                    return _stored_events(s) >= len(emitted)

                await eventually(caught_up, timeout_s=120, what="every event stored")
                await asyncio.sleep(1)  # anything doubled would show up by now
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(30)
        finally:
            log.close()
        per_call = Counter(e["callId"] for e in emitted)
        stored = dict(_query(s, "SELECT call_id, COUNT(*) FROM events GROUP BY call_id"))
        assert stored == dict(per_call)
        stored_alerts = {r[0] for r in _query(s, "SELECT alert_id FROM alerts")}
        assert stored_alerts == {a["alertId"] for a in alerts}
        calls = {r[0] for r in _query(s, "SELECT call_id FROM calls")}
        assert calls == set(per_call)
