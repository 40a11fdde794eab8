"""``make bench-explorer``: how fast the explorer stores, and how fast it answers.

  1. apply rate into SQLite: N call events (each with the call-state record the worker
     writes with it, an alert for ~9% of them) decoded and applied in store transactions
     of 5,000 records, as the materialiser does; Kafka excluded (its consume limit is in
     ``make bench-worker``);
  2. the same records through Kafka: produced to fresh topics, then a Materializer
     reading them from the beginning until its stored offsets reach the end;
  3. ``GET /calls/{callId}`` latency over HTTP (uvicorn, keep-alive) with 1,000,000 calls
     stored (3 events and a state each), random call ids: p50 / p99 / max.

Goals: apply >= 20,000 events/s; GET /calls/{id} p99 <= 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from processor.explorer.backends import sqlite_dialect
from processor.explorer.command import Explorer
from processor.explorer.rows import Decoder
from processor.explorer.sql import SqlStore
from processor.explorer.store import CallQuery
from processor.kafka.admin import create_topics
from processor.settings import Settings
from tests.unit.explorer.records import FakeRecord, alert, event, state

EVENTS, STATE, ALERTS = "events", "state", "alerts"
STEPS = ("PENDING", "REQUESTED", "CALLING")
ERROR = {"code": "NETWORK_ERROR", "message": "reset", "timestamp": None, "where": "x",
         "phase": "CONNECTING", "stacktrace": ""}  # fmt: skip


def call_records(index: int, rng: random.Random) -> list[tuple[str, str, bytes]]:
    """(topic, callId, value) of one call's 3 events, its states and maybe an alert."""
    call_id = f"bench-{index:08d}"
    out: list[tuple[str, str, bytes]] = []
    base = 1_780_000_000_000 + index * 10
    previous = "NEW"
    for step, status in enumerate(STEPS):
        offset = index * 3 + step
        errored = status == "CALLING" and rng.random() < 0.09
        value = event(
            call_id,
            offset,
            eventType=f"OUTBOUND_CALL_{status}",
            callStatus=status,
            previousStatus=previous,
            status=status,
            receivedAtMs=base + step,
            hasErrors=errored,
            errors=[ERROR] if errored else [],
        )
        out.append((EVENTS, call_id, orjson.dumps(value)))
        snapshot = state(call_id, status=status, eventsSeen=step + 1, firstSeenMs=base,
                         lastSeenMs=base + step, finished=False, outcome=None)  # fmt: skip
        out.append((STATE, call_id, orjson.dumps(snapshot)))
        if errored:
            out.append((ALERTS, call_id, orjson.dumps(alert(call_id, offset, uuid.uuid4().hex))))
        previous = status
    return out


def explorer_durations() -> list[float]:
    """Upper bucket bounds of the server-side GET /calls/{id} durations observed so far."""
    from processor import metrics

    values: list[float] = []
    for sample_family in metrics.EXPLORER_QUERY_DURATION.collect():
        previous = 0.0
        for sample in sample_family.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("route") == "call":
                bound = float(sample.labels["le"])
                values += [bound] * int(sample.value - previous)
                previous = sample.value
    return values


def fake(records: list[tuple[str, str, bytes]], start: int) -> list[FakeRecord]:
    return [
        FakeRecord(topic, 0, start + i, key.encode(), value)
        for i, (topic, key, value) in enumerate(records)
    ]


async def apply_rate(calls: int, folder: Path) -> tuple[float, float, int]:
    """Events/s and records/s of decode + apply into a fresh SQLite file."""
    rng = random.Random(1)
    records: list[tuple[str, str, bytes]] = []
    for index in range(calls):
        records += call_records(index, rng)
    store = SqlStore(sqlite_dialect(folder / "apply.db"))
    await store.open()
    decoder = Decoder(EVENTS, STATE, ALERTS)
    events = sum(1 for topic, _, _ in records if topic == EVENTS)
    started = time.perf_counter()
    for start in range(0, len(records), 5000):
        await store.apply(decoder.decode(fake(records[start : start + 5000], start)))  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    await store.close()
    return events / elapsed, len(records) / elapsed, events


async def kafka_rate(settings: Settings, calls: int, folder: Path) -> float:
    """Events/s of a Materializer reading the records from Kafka into SQLite."""
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    s = settings.model_copy(
        update={
            "topic_call_events": f"{prefix}.events",
            "topic_call_state": f"{prefix}.state",
            "topic_call_alerts": f"{prefix}.alerts",
            "explorer_db_path": folder / "kafka.db",
            "explorer_port": 0,
        }
    )
    await create_topics(s)
    names = {EVENTS: s.topic_call_events, STATE: s.topic_call_state, ALERTS: s.topic_call_alerts}
    rng = random.Random(2)
    producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap_servers, linger_ms=20,
                                max_batch_size=1 << 20, compression_type=None)  # fmt: skip
    await producer.start()
    events = 0
    try:
        pending = []
        for index in range(calls):
            for topic, key, value in call_records(index, rng):
                events += topic == EVENTS
                pending.append(await producer.send(names[topic], value, key=key.encode()))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    explorer = Explorer(s)
    started = time.perf_counter()
    await explorer.start()
    try:
        while True:
            rows = await explorer.store.offsets()
            if sum(o for (t, _), o in rows.items() if t == s.topic_call_events) >= events:
                break
            await asyncio.sleep(0.05)
    finally:
        elapsed = time.perf_counter() - started
        await explorer.stop()
    return events / elapsed


async def fill(path: Path, calls: int) -> float:
    """Store ``calls`` calls (unless the file already holds them); seconds taken."""
    store = SqlStore(sqlite_dialect(path))
    await store.open()
    if len(await store.list_calls(CallQuery(limit=1, until_ms=1_780_000_000_000 + calls * 10))):
        stored = await store.get_call(f"bench-{calls - 1:08d}")
        if stored is not None:
            await store.close()
            return 0.0  # kept from an earlier run (--keep)
    decoder = Decoder(EVENTS, STATE, ALERTS)
    rng = random.Random(3)
    started = time.perf_counter()
    chunk: list[tuple[str, str, bytes]] = []
    position = 0
    for index in range(calls):
        chunk += call_records(index, rng)
        if len(chunk) >= 20000 or index == calls - 1:
            await store.apply(decoder.decode(fake(chunk, position)))  # type: ignore[arg-type]
            position += len(chunk)
            chunk = []
    elapsed = time.perf_counter() - started
    await store.close()
    return elapsed


async def lookup_latency(calls: int, folder: Path, requests: int) -> dict[str, Any]:
    """Fill a store with ``calls`` calls, serve it, time GET /calls/{id}."""
    path = folder / f"calls-{calls}.db"
    fill_s = await fill(path, calls)
    rng = random.Random(4)
    settings = Settings(explorer_db_path=path, explorer_port=0,
                        kafka_bootstrap_servers="127.0.0.1:1")  # fmt: skip
    explorer = Explorer(settings)
    await explorer.start(consume=False)  # serve only: nothing to consume here
    timings: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=explorer.url, timeout=10) as client:
            for _ in range(200):  # warm-up
                await client.get(f"/calls/bench-{rng.randrange(calls):08d}")
            for _ in range(requests):
                call_id = f"bench-{rng.randrange(calls):08d}"
                began = time.perf_counter()
                response = await client.get(f"/calls/{call_id}")
                timings.append(time.perf_counter() - began)
                assert response.status_code == 200, response.text
    finally:
        await explorer.stop()
    timings.sort()
    server = sorted(explorer_durations())
    return {
        "server_p99_ms": server[int(len(server) * 0.99) - 1] * 1000 if server else 0.0,
        "fill_s": fill_s,
        "db_mib": path.stat().st_size / 2**20,
        "p50_ms": statistics.median(timings) * 1000,
        "p99_ms": timings[int(len(timings) * 0.99) - 1] * 1000,
        "max_ms": timings[-1] * 1000,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apply-calls", type=int, default=70_000, help="calls (3 events each)")
    parser.add_argument("--lookup-calls", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--keep", type=Path, help="keep the filled store in this folder")
    parser.add_argument("--lookup-only", action="store_true", help="skip the apply runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-explorer-") as tmp:
        folder = Path(tmp)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
        if args.lookup_only:
            result = await lookup_latency(args.lookup_calls, args.keep or folder, args.requests)
            print(result)
            return
        events_s, records_s, events = await apply_rate(args.apply_calls, folder)
        print(f"apply into SQLite: {events:,} events, {events_s:,.0f} events/s "
              f"({records_s:,.0f} records/s incl. states and alerts); goal >= 20,000")  # fmt: skip
        kafka_s = await kafka_rate(Settings(kafka_bootstrap_servers=args.bootstrap),
                                   args.apply_calls, folder)  # fmt: skip
        print(f"through Kafka (materialiser from the beginning): {kafka_s:,.0f} events/s")
        result = await lookup_latency(args.lookup_calls, args.keep or folder, args.requests)
        print(f"{args.lookup_calls:,} calls stored in {result['fill_s']:.0f} s "
              f"({result['db_mib']:,.0f} MiB); GET /calls/{{id}} over HTTP, {args.requests:,} "
              f"requests: p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
              f"max {result['max_ms']:.2f} ms (server side p99 <= "
              f"{result['server_p99_ms']:.1f} ms, histogram bound); goal p99 <= 10 ms")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
