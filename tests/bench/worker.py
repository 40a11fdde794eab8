"""``make bench-worker``: one worker process end to end with exactly-once on.

Same run, same broker, same topic:
  - preload N realistic events (thousands of concurrent calls, full lifecycles, ~10% of
    calls with errors) into a fresh webhooks topic;
  - raw aiokafka consume-only throughput of that topic (the client's limit);
  - Kafka's ConsumerPerformance on it (the broker's limit);
  - ``processor worker`` from the beginning: events/s until its committed offsets reach
    the end, and its peak RSS; then a read_committed count of its call-events records
    must equal the inputs (offsets alone would also reach the end with inputs skipped),
    and the same for each Quix Streams reference;
  - then paced live traffic through the same worker (events spread evenly over each
    second) for the latency a user sees: ingress receive time -> the event's output
    record visible to a read_committed reader, measured here per record, beside the
    worker's own processing-latency histogram;
  - the restore of 1,000,000 calls' state from a changelog, memory per call, and how long
    a full garbage collection stalls the process afterwards (restored states are frozen).

The broker is ``KAFKA_BOOTSTRAP_SERVERS`` (else ``PROCESSOR_KAFKA_BOOTSTRAP_SERVERS``,
else 127.0.0.1:9092), so a bench can run on a broker of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from processor.calls import CallState
from processor.contract import Direction
from processor.kafka import partition_for
from processor.kafka.admin import create_topics
from processor.kafka.reader import read_to_end
from processor.local.processes import settings_env
from processor.outputs.changelog import changelog_record
from processor.settings import Settings
from processor.simulate.envelopes import envelope_bytes
from processor.simulate.outcomes import SimulatedOutcome, parse_mix
from processor.simulate.scenarios import plan_call
from processor.worker.heap import restoring
from processor.worker.partition import PartitionWorker

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
MIX = (
    "completed=40,no_response=13,busy=5,unreachable=4,expired=2,canceled=2,max_attempts=3,"
    "outbound_error=5,completed_with_errors=3,inbound_completed=19,"
    "inbound_concurrency_limit=2,inbound_error=2"
)
PROJECT = "6f1d2c3e-8a4b-4c5d-9e0f-1a2b3c4d5e6f"


def interleaved_events(
    total: int, concurrent: int, rng: random.Random, sent_at: datetime | None = None
) -> list[tuple[str, bytes]]:
    """(callId, body) pairs: ``concurrent`` calls in progress at once, each in its order."""
    mix = parse_mix(MIX)
    outcomes = list(mix)
    weights = [mix[o] for o in outcomes]
    sent_at = sent_at or datetime.now(UTC)
    active: list[tuple[str, list[Any]]] = []
    out: list[tuple[str, bytes]] = []
    serial = 0
    while len(out) < total:
        while len(active) < concurrent:
            serial += 1
            outcome = rng.choices(outcomes, weights)[0]
            prefix = "i" if outcome.value.startswith("inbound") else "c"
            call_id = f"{prefix}-bench-{serial:07d}"
            active.append((call_id, plan_call(SimulatedOutcome(outcome), call_id, rng)))
        index = rng.randrange(len(active))
        call_id, plan = active[index]
        out.append((call_id, envelope_bytes(plan.pop(0), call_id, PROJECT, sent_at=sent_at)))
        if not plan:
            active[index] = active[-1]
            active.pop()
    return out


async def preload(settings: Settings, events: list[tuple[str, bytes]], received_at: bool) -> None:
    """Write events to the webhooks topic like the ingress does, batched for speed."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=20,
        max_batch_size=512 * 1024, enable_idempotence=True,
    )  # fmt: skip
    await producer.start()
    try:
        pending = []
        for call_id, body in events:
            now = str(time.time_ns() // 1_000_000).encode()
            headers = [("recho-received-at-ms", now)] if received_at else []
            pending.append(
                await producer.send(
                    settings.topic_webhooks, body, key=call_id.encode(), headers=headers
                )
            )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def paced_send(settings: Settings, events: list[tuple[str, bytes]], rate: int) -> None:
    """Send events at ``rate``/s, evenly (a slice every 10 ms), stamped like the ingress."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=1,
        enable_idempotence=True,
    )  # fmt: skip
    await producer.start()
    try:
        started = time.perf_counter()
        sent = 0
        pending = []
        while sent < len(events):
            due = min(len(events), int((time.perf_counter() - started) * rate) + 1)
            for call_id, body in events[sent:due]:
                now = str(time.time_ns() // 1_000_000).encode()
                pending.append(
                    await producer.send(
                        settings.topic_webhooks, body, key=call_id.encode(),
                        headers=[("recho-received-at-ms", now)],
                    )
                )  # fmt: skip
            sent = due
            await asyncio.sleep(0.01)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def visible_latencies(
    settings: Settings, expected: int, ready: asyncio.Event, timeout_s: float
) -> list[float]:
    """Per event record: ms from its ``receivedAtMs`` to a read_committed reader seeing it.

    Reads the worker's call-events topic from its current end, so only the
    paced events count.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
        isolation_level="read_committed", fetch_max_wait_ms=5,
    )  # fmt: skip
    await consumer.start()
    latencies: list[float] = []
    try:
        tps = [
            TopicPartition(settings.topic_call_events, p) for p in range(settings.topic_partitions)
        ]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        ready.set()
        deadline = time.monotonic() + timeout_s
        while len(latencies) < expected and time.monotonic() < deadline:
            got = await consumer.getmany(timeout_ms=50, max_records=5000)
            now_ms = time.time_ns() / 1_000_000
            for records in got.values():
                for record in records:
                    received = json.loads(record.value)["receivedAtMs"]
                    latencies.append(now_ms - received)
        return latencies
    finally:
        await consumer.stop()


async def committed_records(settings: Settings, topic: str) -> int:
    """How many records of ``topic`` a read_committed reader sees (up to the stable end)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
        isolation_level="read_committed", enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=32 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)  # the last stable offsets, for read_committed
        seen = 0
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            got = await consumer.getmany(timeout_ms=500, max_records=20_000)
            seen += sum(len(records) for records in got.values())
        return seen
    finally:
        await consumer.stop()


async def check_outputs(settings: Settings, topic: str, expected: int, system: str) -> int:
    """How many committed event records a system wrote for ``expected`` inputs.

    Committed input offsets alone would also reach the end if inputs were skipped;
    every event of the bench stream yields exactly one call-events record. The
    worker's count must match (the bench fails otherwise). A reference's is reported
    when short: in the last round it runs after the paced traffic, so the topic holds
    more than ``expected`` inputs and it goes on past them.
    """
    seen = await committed_records(settings, topic)
    if seen != expected and (system == "worker" or seen < expected):
        message = f"{system}: {seen:,} committed event records for {expected:,} inputs"
        if system == "worker":
            raise RuntimeError(message)
        print(f"  {message}")
    return seen


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def raw_consume(settings: Settings, count: int) -> float:
    """Records/s of a plain aiokafka consumer reading ``count`` records (read_committed)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
        isolation_level="read_committed", auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=32 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    try:
        tps = [TopicPartition(settings.topic_webhooks, p) for p in range(settings.topic_partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen = 0
        started = time.perf_counter()
        while seen < count:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                seen += len(records)
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def consumer_perf(settings: Settings, count: int) -> float:
    """Kafka's ConsumerPerformance messages/s on the topic."""
    command = [
        "bash", str(KAFKA_SH), "class", "org.apache.kafka.tools.ConsumerPerformance",
        "--bootstrap-server", settings.kafka_bootstrap_servers,
        "--topic", settings.topic_webhooks, "--messages", str(count),
        "--timeout", "60000",
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    row = out.strip().splitlines()[-1].split(",")
    return float(row[5])  # nMsg.sec


async def committed_total(
    settings: Settings, admin: AIOKafkaAdminClient, group: str | None = None
) -> int:
    """Sum of a group's (default: the worker's) committed offsets on the webhooks topic."""
    offsets = await admin.list_consumer_group_offsets(group or settings.worker_group_id)
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == settings.topic_webhooks)


async def until_committed(
    settings: Settings, proc: subprocess.Popen[bytes], count: int, group: str, log: Path
) -> dict[str, float]:
    """Poll a group's committed input offsets until ``count``; the rates a user sees.

    ``events_per_s`` counts from process start to the last commit (start-up,
    group join and restore included, as a user waiting for a backlog sees it);
    ``steady_events_per_s`` from the first commit on (the processing rate alone).
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    started = time.perf_counter()
    first: tuple[float, int] | None = None
    cpu_before = _cpu_s(proc.pid)
    try:
        done = 0
        while done < count:
            await asyncio.sleep(0.1)
            if proc.poll() is not None:
                raise RuntimeError(f"process exited; see {log}")
            done = await committed_total(settings, admin, group)
            if first is None and done > 0:
                first = (time.perf_counter(), done)
        finished = time.perf_counter()
        cpu = _cpu_s(proc.pid) - cpu_before
    finally:
        await admin.close()
    assert first is not None
    return {
        "events_per_s": done / (finished - started),
        "steady_events_per_s": (done - first[1]) / max(finished - first[0], 1e-9),
        "cpu_ms_per_1k": cpu * 1000 / done * 1000,
    }


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


BENCH_PYTHON = REPO / ".venv-bench" / "bin" / "python"
PACED_S = 15
"""Seconds of paced live traffic for the latency figures."""


async def bench_quix(
    settings: Settings, count: int, commit_s: float, log: Path
) -> dict[str, float]:
    """Quix Streams, exactly-once, over the same preloaded topic (see quix_reference.py)."""
    run = uuid.uuid4().hex[:6]
    group = f"quix-{run}"
    state_dir = REPO / ".bench" / f"quix-state-{run}"
    command = [
        str(BENCH_PYTHON), str(REPO / "tests" / "bench" / "quix_reference.py"),
        settings.kafka_bootstrap_servers, settings.topic_webhooks,
        f"{settings.topic_call_events}.quix-{run}", f"{settings.topic_call_alerts}.quix-{run}",
        group, str(state_dir), str(commit_s),
    ]  # fmt: skip
    with log.open("ab") as handle:
        proc = subprocess.Popen(command, stdout=handle, stderr=handle)
        try:
            result = await until_committed(settings, proc, count, group, log)
            outputs = f"{settings.topic_call_events}.quix-{run}"
            result["event_records"] = await check_outputs(settings, outputs, count, "quix")
            return result
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


def histogram(url: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts of a histogram from a /metrics endpoint."""
    text = httpx.get(url, timeout=5).text
    buckets: dict[float, float] = {}
    for match in re.finditer(rf'^{name}_bucket{{le="([^"]+)"}} ([\d.e+]+)$', text, re.M):
        buckets[float(match.group(1))] = float(match.group(2))
    return buckets


def quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The bucket upper bound holding quantile ``q`` of the observations in between."""
    bounds = sorted(after)
    deltas = [after[b] - before.get(b, 0.0) for b in bounds]
    total = deltas[-1]
    for bound, cumulative in zip(bounds, deltas, strict=True):
        if cumulative >= q * total:
            return bound
    return float("inf")


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def bench_worker(
    settings: Settings, count: int, paced_rate: int, log: Path, *, live: bool
) -> dict[str, float]:
    """Run the worker over the preloaded topic; with ``live``, then under paced traffic."""
    env = {**os.environ, **settings_env(settings), "PROCESSOR_LOG_LEVEL": "WARNING"}
    handle = log.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "processor", "worker"], env=env, stdout=handle, stderr=handle
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    metrics_url = f"http://127.0.0.1:{settings.worker_metrics_port}/metrics"
    try:
        result = await until_committed(settings, proc, count, settings.worker_group_id, log)
        result["event_records"] = await check_outputs(
            settings, settings.topic_call_events, count, "worker"
        )
        result["peak_rss_backlog_mb"] = peak_rss_mb(proc.pid)
        if not live:
            return result
        before = histogram(metrics_url, "recho_worker_processing_latency_seconds")
        rng = random.Random(5)
        events = interleaved_events(paced_rate * PACED_S, 2000, rng)
        ready = asyncio.Event()
        reader = asyncio.create_task(visible_latencies(settings, len(events), ready, PACED_S + 60))
        await ready.wait()
        cpu_before = _cpu_s(proc.pid)
        await paced_send(settings, events, paced_rate)
        target = count + len(events)
        while await committed_total(settings, admin) < target:  # noqa: ASYNC110 (polls Kafka)
            await asyncio.sleep(0.25)
        cpu = _cpu_s(proc.pid) - cpu_before
        latencies = await reader
        after = histogram(metrics_url, "recho_worker_processing_latency_seconds")
        result.update(
            peak_rss_mb=peak_rss_mb(proc.pid),
            live_p50_s=quantile(before, after, 0.50),
            live_p99_s=quantile(before, after, 0.99),
            visible_events=len(latencies),
            visible_p50_ms=percentile(latencies, 0.50),
            visible_p99_ms=percentile(latencies, 0.99),
            visible_max_ms=max(latencies),
            paced_cpu_ms_per_1k=cpu * 1000 / len(events) * 1000,
            paced_rate=paced_rate,
        )
        return result
    finally:
        await admin.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        handle.close()


def round_settings(settings: Settings, run: str, n: int) -> Settings:
    """Fresh outputs, changelog, group and transactional ids; the same preloaded input."""
    update: dict[str, Any] = {
        f"topic_{t}": f"benchw-{run}-r{n}.{t}"
        for t in ("call_events", "call_state", "call_alerts", "dlq", "changelog")
    }
    update["worker_group_id"] = f"benchw-{run}-r{n}"
    update["worker_transactional_id_prefix"] = f"benchw-{run}-r{n}"
    return settings.model_copy(update=update)


def fake_state(i: int, now_ms: int) -> CallState:
    """A realistic mid-call state: four statuses of history, one error code."""
    state = CallState(
        call_id=f"c-restore-{i:08d}", project_id=PROJECT, direction=Direction.OUTBOUND,
        first_seen_ms=now_ms - 60_000, last_seen_ms=now_ms,
    )  # fmt: skip
    from processor.calls import CallEvent, handle
    from processor.contract import CallStatus, EventType

    for step, (etype, status) in enumerate(
        [
            (EventType.OUTBOUND_CALL_PENDING, CallStatus.PENDING),
            (EventType.OUTBOUND_CALL_REQUESTED, CallStatus.REQUESTED),
            (EventType.OUTBOUND_CALL_CALLING, CallStatus.CALLING),
        ]
    ):
        event = CallEvent(
            call_id=state.call_id, event_type=etype, event_type_raw=etype.value,
            call_status=status, call_status_raw=status.value, has_errors=step == 2,
            error_codes=("NETWORK_ERROR",) if step == 2 else (),
            error_phases=("CALLING",) if step == 2 else (),
            received_at_ms=now_ms - 60_000 + step * 1000, body_hash=f"{i:056x}{step:08x}",
            project_id=PROJECT,
        )  # fmt: skip
        state, _ = handle(state if step else None, event)
    return state


async def bench_restore(settings: Settings, calls: int) -> dict[str, float]:
    """Write ``calls`` states to a fresh changelog, then time restoring them all."""
    now_ms = time.time_ns() // 1_000_000
    template = [changelog_record(fake_state(i, now_ms)) for i in range(1000)]
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=20,
        max_batch_size=512 * 1024,
    )  # fmt: skip
    await producer.start()
    partitions = settings.topic_partitions
    try:
        batches: dict[int, Any] = {}
        futures = []
        for i in range(calls):
            key = f"c-restore-{i:08d}".encode()
            value = template[i % 1000].replace(b"c-restore-%08d" % (i % 1000), key)
            p = partition_for(key, partitions)
            batch = batches.get(p) or producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                futures.append(
                    await producer.send_batch(batch, settings.topic_changelog, partition=p)
                )
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
            batches[p] = batch
        for p, batch in batches.items():
            futures.append(await producer.send_batch(batch, settings.topic_changelog, partition=p))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    workers = [PartitionWorker(settings, p, None, None) for p in range(partitions)]  # type: ignore[arg-type]
    with restoring():  # as the worker restores: collector paused, the states frozen after
        async for records in read_to_end(settings, settings.topic_changelog):
            workers[records[0].partition].restore(records)
    elapsed = time.perf_counter() - started
    restored = sum(len(w.store) for w in workers)
    collect_started = time.perf_counter()
    gc.collect()  # the pause a full collection would cause in the worker from now on
    full_collection_s = time.perf_counter() - collect_started
    gc.unfreeze()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "calls": restored,
        "restore_s": elapsed,
        "full_collection_s": full_collection_s,
        "bytes_per_call": (rss_after - rss_before) * 1024 * 1024 / max(restored, 1),
        "estimate_bytes_per_call": sum(w.store.estimated_bytes() for w in workers)
        / max(restored, 1),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    names = {
        f"topic_{n}": f"benchw-{run}.{n}"
        for n in ("webhooks", "call_events", "call_state", "call_alerts", "dlq", "changelog")
    }
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker = {"kafka_bootstrap_servers": bootstrap} if bootstrap else {}
    settings = Settings(
        **names, **broker, worker_group_id=f"benchw-{run}",
        worker_transactional_id_prefix=f"benchw-{run}", worker_metrics_port=19101,
    )  # fmt: skip
    await create_topics(settings)
    rng = random.Random(1)
    print(f"preloading {args.events:,} events ({args.concurrent:,} concurrent calls) ...")
    events = interleaved_events(args.events, args.concurrent, rng)
    calls = len({c for c, _ in events})
    errored = sum(1 for _, b in events if b'"errors":[{' in b)
    await preload(settings, events, True)
    print(f"  {calls:,} calls, {errored:,} errored events ({100 * errored / len(events):.1f}%)")
    results: dict[str, Any] = {"events": args.events, "calls": calls}
    raw = [await raw_consume(settings, args.events) for _ in range(args.repeats)]
    perf = [consumer_perf(settings, args.events) for _ in range(args.repeats)]
    results["raw_aiokafka_per_s"] = sorted(raw)[len(raw) // 2]
    results["consumer_perf_per_s"] = sorted(perf)[len(perf) // 2]
    print(f"raw aiokafka {raw}, ConsumerPerformance {perf}")
    log = REPO / ".bench" / "worker.log"
    log.parent.mkdir(exist_ok=True)
    quix = BENCH_PYTHON.exists() and not args.no_quix
    rounds: list[dict[str, Any]] = []
    for n in range(args.repeats):  # interleaved: each round runs every system once
        round_: dict[str, Any] = {}
        ws = round_settings(settings, run, n)
        await create_topics(ws)
        last = n == args.repeats - 1
        round_["worker"] = await bench_worker(ws, args.events, args.paced_rate, log, live=last)
        if quix:
            round_["quix"] = await bench_quix(settings, args.events, 5.0, log)
            round_["quix_100ms"] = await bench_quix(settings, args.events, 0.1, log)
        print(f"round {n + 1}: {round_}")
        rounds.append(round_)
    results["rounds"] = rounds
    results["worker"] = {**rounds[-1]["worker"], **_medians(rounds, "worker")}
    if quix:
        results["quix"] = _medians(rounds, "quix")
        results["quix_100ms"] = _medians(rounds, "quix_100ms")
        results["ratios"] = [
            r["worker"]["events_per_s"] / r["quix"]["events_per_s"] for r in rounds
        ]
    restore_settings = settings.model_copy(
        update={"topic_changelog": f"benchw-{run}.restore", "topic_webhooks": f"benchw-{run}.r"}
    )
    await create_topics(restore_settings)
    results["restore"] = await bench_restore(restore_settings, args.restore_calls)
    print(f"restore: {results['restore']}")
    return results


def _medians(rounds: list[dict[str, Any]], system: str) -> dict[str, float]:
    keys = ("events_per_s", "steady_events_per_s", "cpu_ms_per_1k")
    return {k: sorted(r[system][k] for r in rounds)[len(rounds) // 2] for k in keys}


def report(results: dict[str, Any]) -> None:
    """Print the README table."""
    w, r = results["worker"], results["restore"]
    raw, perf = results["raw_aiokafka_per_s"], results["consumer_perf_per_s"]
    print()
    print("| measure | value | floor |")
    print("|---|---:|---:|")
    events, rate = results["events"], w["events_per_s"]
    steady, cpu = w["steady_events_per_s"], w["cpu_ms_per_1k"]
    label = f"worker, exactly-once, events/s ({events:,} preloaded; start to last commit)"
    print(f"| {label} | {rate:,.0f} | ≥ 10,000 |")
    print(f"| worker, from its first commit on, events/s | {steady:,.0f} | |")
    print(f"| worker CPU per 1k events | {cpu:.0f} ms | |")
    peers = (
        ("quix", "Quix Streams 3.28, exactly-once, defaults (5 s commits)"),
        ("quix_100ms", "Quix Streams 3.28, exactly-once, 100 ms commits"),
    )
    for name, text in peers:
        if name in results:
            q = results[name]
            figure = f"{q['events_per_s']:,.0f} (CPU {q['cpu_ms_per_1k']:.0f} ms per 1k)"
            print(f"| {text}, events/s | {figure} | |")
    if "ratios" in results:
        ratios = ", ".join(f"{x:.2f}" for x in results["ratios"])
        print(f"| worker / Quix exactly-once (defaults), per round | {ratios} | ≥ 2 |")
    print(f"| raw aiokafka consume-only, records/s | {raw:,.0f} | |")
    print(f"| Kafka ConsumerPerformance, records/s | {perf:,.0f} | |")
    print(f"| worker / raw aiokafka | {w['events_per_s'] / raw:.0%} | ≥ 40% |")
    rate = w["paced_rate"]
    p50, p99, top = w["visible_p50_ms"], w["visible_p99_ms"], w["visible_max_ms"]
    label = f"received -> output visible to a read_committed reader, p50 / p99 / max at {rate:,}/s"
    print(f"| {label} | {p50:.0f} / {p99:.0f} / {top:.0f} ms | p99 ≤ 150 ms |")
    p50, p99 = w["live_p50_s"] * 1000, w["live_p99_s"] * 1000
    label = f"worker's processing-latency histogram p50 / p99 at {rate:,}/s (bucket bound)"
    print(f"| {label} | {p50:.0f} ms / {p99:.0f} ms | |")
    print(f"| worker CPU per 1k events at {rate:,}/s | {w['paced_cpu_ms_per_1k']:.0f} ms | |")
    print(f"| worker peak RSS | {w['peak_rss_mb']:.0f} MiB | |")
    print(f"| restore of {r['calls']:,} calls | {r['restore_s']:.1f} s | ≤ 60 s |")
    label = "a full garbage collection after the restore (the worker stalls that long)"
    print(f"| {label} | {r['full_collection_s'] * 1000:.0f} ms | |")
    print(
        f"| memory per restored call (RSS growth / calls) | {r['bytes_per_call']:.0f} B | ≤ 1 KB |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--concurrent", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--paced-rate", type=int, default=2_000)
    parser.add_argument("--restore-calls", type=int, default=1_000_000)
    parser.add_argument("--no-quix", action="store_true", help="skip the Quix reference")
    parser.add_argument("--output", type=Path, default=REPO / ".bench" / "worker.json")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    report(results)
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
