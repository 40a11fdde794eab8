"""The Kafka client's own CPU per record: aiokafka (the project's) vs confluent-kafka.

Answers "what would librdkafka save on the worker's hot path?" with CPU per record,
measured in one process per run, for the two halves of the worker's Kafka traffic:

* ``consume``: read a preloaded topic (6 partitions) to its end, read_committed, in
  chunks of 2,000 records, touching every record's key, value, headers, offset and
  timestamp (what the worker reads). aiokafka through :func:`processor.kafka.consumer.
  new_consumer` (the worker's options: 4 MiB per partition, 32 MiB per fetch) and
  ``getmany(max_records=2000)`` on uvloop; confluent-kafka through
  ``Consumer.consume(num_messages=2000)`` with the same fetch sizes.
* ``produce``: the worker's exactly-once write pattern. Per input event, one ~900 B
  record to the events topic and, for 85 % of events, one ~600 B record to the state
  or the changelog topic (1.85 records per event), each to its key's partition (Java's
  murmur2 choice), in transactions of 2,000 input events that also commit an input
  offset; 6 transactional ids (one per input partition) take turns. aiokafka drives
  the real :class:`processor.kafka.transactions.PartitionTransactor` (stage, seal,
  commit_sealed); confluent-kafka uses a transactional ``Producer`` per id
  (``begin_transaction``, ``produce`` per record to an explicit partition,
  ``send_offsets_to_transaction``, ``commit_transaction``) and reports how long its
  blocking calls block.

Each run prints one JSON line: total process CPU (``getrusage(RUSAGE_SELF)``, which
includes librdkafka's threads) and the main thread's CPU (``time.thread_time()``) per
record, and wall time. Set-up (connections, ``init_transactions``, the records' bytes)
is outside the measured span; the consumer's start (assign) and the producers' last
commit are inside it.

confluent-kafka is not a dependency of the project; run its side from a venv of its
own. From the repository root, against a broker of your own::

    .venv/bin/python -m tests.bench.client_cost setup --bootstrap 127.0.0.1:28092
    .venv/bin/python -m tests.bench.client_cost consume --client aiokafka --bootstrap ...
    .venv-rdk/bin/python -m tests.bench.client_cost consume --client confluent --bootstrap ...
    .venv/bin/python -m tests.bench.client_cost produce --client aiokafka --bootstrap ...
    .venv-rdk/bin/python -m tests.bench.client_cost produce --client confluent --bootstrap ...
    python -m tests.bench.client_cost summary results.jsonl   # medians, min, max

Options: ``--broker-pid PID`` adds the broker's CPU per record over the same span;
``--adapt`` wraps each confluent message in a Record-shaped object (as the worker would
need); ``--check-crcs`` and ``--linger-ms`` and ``--dr-only-error`` vary confluent's
settings. ``gil`` measures a commit's latency while the main thread runs Python: for
confluent, send_offsets + commit in a worker thread (``--switch-interval-ms`` sets
``sys.setswitchinterval``); for aiokafka, ``commit_sealed`` as a task while the loop runs
Python in ``--slice-ms`` slices between awaits.

where ``.venv-rdk`` is ``python3 -m venv .venv-rdk && .venv-rdk/bin/pip install
confluent-kafka==2.12.2 orjson aiokafka==0.14.0``. The confluent side imports nothing
of the project (aiokafka only for the same murmur2 partitioner).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

INPUT = "cc.input"
EVENTS = "cc.events"
STATE = "cc.state"
CHANGELOG = "cc.changelog"
PARTITIONS = 6
PARTITION_FETCH_BYTES = 4 * 1024 * 1024  # processor.kafka.consumer.PARTITION_FETCH_BYTES
FETCH_BYTES = 32 * 1024 * 1024  # processor.kafka.consumer.FETCH_BYTES
CHUNK = 2_000


BROKER_PID: int | None = None
"""The broker's process (``--broker-pid``): its CPU over the measured span is reported too."""


def broker_cpu() -> float:
    if BROKER_PID is None:
        return 0.0
    import os

    with open(f"/proc/{BROKER_PID}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_now() -> tuple[float, float, float, float]:
    """(process CPU s, main-thread CPU s, wall s, broker CPU s)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, time.thread_time(), time.perf_counter(), broker_cpu()


def spent(start: tuple[float, float, float, float], records: int, **extra: Any) -> dict[str, Any]:
    end = cpu_now()
    total, main, wall, broker = (b - a for a, b in zip(start, end, strict=True))
    result = {
        "records": records,
        "total_us": round(total * 1e6 / records, 3),
        "main_us": round(main * 1e6 / records, 3),
        "wall_s": round(wall, 3),
        "records_per_s": round(records / wall),
    }
    if BROKER_PID is not None:
        result["broker_us"] = round(broker * 1e6 / records, 3)
    return result | extra


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each of this process's threads by name (Linux; 10 ms ticks)."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    by_name: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        name = "main" if tid == str(os.getpid()) else name.rstrip("0123456789")
        by_name[name] = by_name.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return by_name


def threads_us(before: dict[str, float], records: int) -> dict[str, float]:
    after = thread_cpu()
    return {
        name: round((after[name] - before.get(name, 0.0)) * 1e6 / records, 2)
        for name in sorted(after)
        if after[name] - before.get(name, 0.0) > 0
    }


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # the worker runs on uvloop (processor/entry.py)
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


# --- setup -------------------------------------------------------------------------


async def setup(bootstrap: str, records: int) -> dict[str, Any]:
    """Create the topics and preload the input like the ingress does (idempotent, acks=all)."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from tests.bench.worker import interleaved_events

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in (INPUT, EVENTS, STATE, CHANGELOG) if t not in existing]
        if wanted:
            await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in wanted])
    finally:
        await admin.close()
    if INPUT in existing:
        return {"preloaded": 0, "note": f"{INPUT} exists; left as it is"}
    events = interleaved_events(records, 1_000, random.Random(7))
    sizes = sorted(len(body) for _, body in events)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20,
        max_batch_size=512 * 1024, enable_idempotence=True,
    )  # fmt: skip
    await producer.start()
    try:
        pending = []
        for call_id, body in events:
            now = str(time.time_ns() // 1_000_000).encode()
            pending.append(
                await producer.send(
                    INPUT, body, key=call_id.encode(), headers=[("recho-received-at-ms", now)]
                )
            )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return {
        "preloaded": len(events),
        "value_bytes_p5_p50_p95": [sizes[len(sizes) * q // 100] for q in (5, 50, 95)],
    }


# --- consume -----------------------------------------------------------------------


def touch_aiokafka(records: list[Any]) -> int:
    n = 0
    for r in records:
        _ = (r.key, r.value, r.headers, r.offset, r.timestamp)
        n += 1
    return n


async def consume_aiokafka(bootstrap: str, expected: int) -> dict[str, Any]:
    from aiokafka import TopicPartition

    from processor.kafka.consumer import new_consumer
    from processor.settings import Settings

    consumer = new_consumer(Settings(kafka_bootstrap_servers=bootstrap), "client-cost")
    await consumer.start()
    try:
        await consumer.topics()  # metadata loaded before the measured span
        start = cpu_now()
        consumer.assign([TopicPartition(INPUT, p) for p in range(PARTITIONS)])
        seen = calls = 0
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=CHUNK)
            calls += 1
            for records in batches.values():
                seen += touch_aiokafka(records)
        return spent(start, seen, calls=calls)
    finally:
        await consumer.stop()


@dataclass(frozen=True, slots=True)
class Adapted:
    """A confluent Message as processor.kafka.records.Record (attributes, not methods)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def consume_confluent(
    bootstrap: str, expected: int, adapt: bool, check_crcs: bool
) -> dict[str, Any]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition  # type: ignore[import-not-found,unused-ignore]

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"client-cost-{uuid.uuid4().hex[:8]}",  # required; never joined
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "max.partition.fetch.bytes": PARTITION_FETCH_BYTES,
            "fetch.max.bytes": FETCH_BYTES,
            "check.crcs": check_crcs,  # librdkafka's default is false; aiokafka's is true
        }
    )
    try:
        consumer.list_topics(INPUT, timeout=10)  # connected before the measured span
        threads = thread_cpu()
        start = cpu_now()
        consumer.assign([TopicPartition(INPUT, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        seen = calls = 0
        in_consume = 0.0
        while seen < expected:
            t0 = time.perf_counter()
            messages = consumer.consume(num_messages=CHUNK, timeout=1.0)
            in_consume += time.perf_counter() - t0
            calls += 1
            for m in messages:
                if m.error() is not None:
                    raise RuntimeError(m.error())
                if adapt:  # what the worker would need: its Record shape
                    r = Adapted(
                        m.topic(), m.partition(), m.offset(), m.timestamp()[1],
                        m.key(), m.value(), m.headers() or [],
                    )  # fmt: skip
                    _ = (r.key, r.value, r.headers, r.offset, r.timestamp)
                else:
                    _ = (m.key(), m.value(), m.headers(), m.offset(), m.timestamp())
                seen += 1
        return spent(
            start, seen, calls=calls, in_consume_s=round(in_consume, 3),
            threads_us=threads_us(threads, seen),
        )  # fmt: skip
    finally:
        consumer.close()


# --- produce -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Out:
    topic: str
    partition: int
    key: bytes
    value: bytes


def output_records(events: int, seed: int) -> list[list[Out]]:
    """Per input event its output records: 1 event (~900 B), 0.85 state or changelog (~600 B)."""
    from aiokafka.partitioner import murmur2

    rng = random.Random(seed)
    calls = [f"c-bench-{i:07d}".encode() for i in range(1_000)]
    partition = {k: (murmur2(k) & 0x7FFFFFFF) % PARTITIONS for k in calls}
    out = []
    for i in range(events):
        key = rng.choice(calls)
        records = [Out(EVENTS, partition[key], key, rng.randbytes(450).hex().encode())]
        if i % 20 < 17:  # 85 %
            topic = STATE if i % 2 else CHANGELOG
            records.append(Out(topic, partition[key], key, rng.randbytes(300).hex().encode()))
        out.append(records)
    return out


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1e3, 2),
        "p90_ms": round(ordered[int(len(ordered) * 0.9)] * 1e3, 2),
        "max_ms": round(ordered[-1] * 1e3, 2),
    }


class _BatchOnly:
    """A producer that only hands out empty batches (as tests/bench/worker_cpu.py's)."""

    def create_batch(self) -> Any:
        from aiokafka.producer.message_accumulator import BatchBuilder

        return BatchBuilder(512 * 1024, 0, is_transactional=1)


async def produce_aiokafka(
    bootstrap: str, transactions: int, per_txn: int, seed: int
) -> dict[str, Any]:
    from processor.kafka.transactions import PartitionTransactor
    from processor.settings import Settings

    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        worker_transactional_id_prefix=f"client-cost-{uuid.uuid4().hex[:8]}",
    )
    group = f"client-cost-{uuid.uuid4().hex[:8]}"
    txs = [PartitionTransactor(settings, INPUT, p) for p in range(PARTITIONS)]
    for tx in txs:
        tx.set_partition_counts({t: PARTITIONS for t in (EVENTS, STATE, CHANGELOG)})
    await asyncio.gather(*(tx.start() for tx in txs))
    plan = output_records(transactions * per_txn, seed)
    try:
        commits: list[float] = []
        stage_cpu = 0.0
        records = 0
        offsets = [0] * PARTITIONS
        start = cpu_now()
        for n in range(transactions):
            p = n % PARTITIONS
            tx = txs[p]
            stage_start = time.thread_time()
            for event in plan[n * per_txn : (n + 1) * per_txn]:
                for r in event:
                    tx.stage(r.topic, r.key, r.value)
                    records += 1
            stage_cpu += time.thread_time() - stage_start
            offsets[p] += per_txn
            began = time.perf_counter()
            await tx.commit_sealed(tx.seal(), offsets[p], group)
            commits.append(time.perf_counter() - began)
        result = spent(
            start, records, events=transactions * per_txn,
            stage_main_us=round(stage_cpu * 1e6 / records, 3),
            commit_wall=quantiles(commits),
        )  # fmt: skip
    finally:
        await asyncio.gather(*(tx.stop() for tx in txs))
    # What the worker_cpu harness already counts: staging plus building the batches
    # (aiokafka's sender builds them when it sends; the harness builds them itself).
    offline = PartitionTransactor(settings, INPUT, 0)
    offline.set_partition_counts({t: PARTITIONS for t in (EVENTS, STATE, CHANGELOG)})
    offline._producer = _BatchOnly()
    build_start = time.thread_time()
    for n in range(transactions):
        for event in plan[n * per_txn : (n + 1) * per_txn]:
            for r in event:
                offline.stage(r.topic, r.key, r.value)
        for _, _, batch in offline.seal().batches:
            batch._build()
    result["offline_stage_build_main_us"] = round(
        (time.thread_time() - build_start) * 1e6 / records, 3
    )
    return result


def produce_confluent(
    bootstrap: str,
    transactions: int,
    per_txn: int,
    seed: int,
    dr_only_error: bool,
    linger_ms: float,
) -> dict[str, Any]:
    from confluent_kafka import Consumer, Producer, TopicPartition  # type: ignore[import-not-found,unused-ignore]

    prefix = f"client-cost-{uuid.uuid4().hex[:8]}"
    group = f"client-cost-{uuid.uuid4().hex[:8]}"
    meta_consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    group_metadata = meta_consumer.consumer_group_metadata()
    producers = [
        Producer(
            {
                "bootstrap.servers": bootstrap,
                "transactional.id": f"{prefix}-{INPUT}-{p}",
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": linger_ms,  # 5: as the worker's transactional producers
                "batch.size": 512 * 1024,
                "message.max.bytes": 8 * 1024 * 1024,
                "transaction.timeout.ms": 60_000,
                # commit_transaction serves the delivery reports (in the calling thread,
                # holding the GIL); only failures need reporting, and a failure fails
                # the commit anyway
                "delivery.report.only.error": dr_only_error,
            }
        )
        for p in range(PARTITIONS)
    ]
    for producer in producers:
        producer.init_transactions(30)
    plan = output_records(transactions * per_txn, seed)
    try:
        blocked: dict[str, list[float]] = {"begin": [], "send_offsets": [], "commit": []}
        commit_main_cpu = 0.0
        records = 0
        offsets = [0] * PARTITIONS
        threads = thread_cpu()
        start = cpu_now()
        for n in range(transactions):
            p = n % PARTITIONS
            producer = producers[p]
            t0 = time.perf_counter()
            producer.begin_transaction()
            blocked["begin"].append(time.perf_counter() - t0)
            produce: Callable[..., None] = producer.produce
            for event in plan[n * per_txn : (n + 1) * per_txn]:
                for r in event:
                    produce(r.topic, r.value, r.key, partition=r.partition)
                    records += 1
            offsets[p] += per_txn
            t0 = time.perf_counter()
            producer.send_offsets_to_transaction(
                [TopicPartition(INPUT, p, offsets[p])], group_metadata, 30
            )
            blocked["send_offsets"].append(time.perf_counter() - t0)
            t0, c0 = time.perf_counter(), time.thread_time()
            producer.commit_transaction(30)
            commit_main_cpu += time.thread_time() - c0
            blocked["commit"].append(time.perf_counter() - t0)
        result = spent(
            start, records, events=transactions * per_txn,
            blocked={name: quantiles(values) for name, values in blocked.items()},
            commit_main_us_per_txn=round(commit_main_cpu * 1e6 / transactions, 1),
            dr_only_error=dr_only_error, threads_us=threads_us(threads, records),
        )  # fmt: skip
    finally:
        for producer in producers:
            producer.flush(10)
        meta_consumer.close()
    return result


def spin(until: Callable[[], bool]) -> tuple[int, float]:
    """Pure-Python work on the main thread (the GIL) until ``until()``: (loops, seconds)."""
    loops = 0
    began = time.perf_counter()
    while not until():
        for _ in range(200):
            loops += 1
    return loops, time.perf_counter() - began


async def gil_aiokafka(
    bootstrap: str, transactions: int, per_txn: int, seed: int, slice_ms: float
) -> dict[str, Any]:
    """aiokafka's commit latency while the loop runs Python work between awaits.

    The counterpart of :func:`gil_confluent`: ``commit_sealed`` runs as a task while the
    main coroutine spins a pure-Python loop in slices of ``slice_ms`` (the worker
    processes a fetched chunk without yielding), yielding to the loop after each.
    """
    from processor.kafka.transactions import PartitionTransactor
    from processor.settings import Settings

    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        worker_transactional_id_prefix=f"client-cost-{uuid.uuid4().hex[:8]}",
    )
    group = f"client-cost-{uuid.uuid4().hex[:8]}"
    txs = [PartitionTransactor(settings, INPUT, p) for p in range(PARTITIONS)]
    for tx in txs:
        tx.set_partition_counts({t: PARTITIONS for t in (EVENTS, STATE, CHANGELOG)})
    await asyncio.gather(*(tx.start() for tx in txs))
    plan = output_records(transactions * per_txn, seed)
    walls: list[float] = []
    turns = [0]
    try:
        for n in range(transactions):
            p = n % PARTITIONS
            tx = txs[p]
            for event in plan[n * per_txn : (n + 1) * per_txn]:
                for r in event:
                    tx.stage(r.topic, r.key, r.value)
            commit = asyncio.create_task(
                tx.commit_sealed(tx.seal(), (n // PARTITIONS + 1) * per_txn, group)
            )
            began = time.perf_counter()
            while not commit.done():
                spin(_after(slice_ms / 1e3))
                await asyncio.sleep(0)
                turns[-1] += 1
            walls.append(time.perf_counter() - began)
            turns.append(0)
            await commit
    finally:
        await asyncio.gather(*(tx.stop() for tx in txs))
    return {
        "slice_ms": slice_ms,
        "commit_wall": quantiles(walls),
        "loop_turns_per_commit_median": statistics.median(turns[:-1]),
    }


def _after(seconds: float) -> Callable[[], bool]:
    deadline = time.perf_counter() + seconds
    return lambda: time.perf_counter() > deadline


def gil_confluent(
    bootstrap: str, transactions: int, per_txn: int, seed: int, dr_only_error: bool
) -> dict[str, Any]:
    """How much does a commit in an executor thread slow Python work on the main thread?

    Per transaction: produce on the main thread, then send_offsets_to_transaction and
    commit_transaction in a worker thread (as an asyncio worker would run them) while
    the main thread spins a pure-Python loop until they are done. The spin rate during
    the commits, against a baseline spin, shows how much of the time the calling thread
    holds the GIL.
    """
    from concurrent.futures import ThreadPoolExecutor

    from confluent_kafka import Consumer, Producer, TopicPartition  # type: ignore[import-not-found,unused-ignore]

    prefix = f"client-cost-{uuid.uuid4().hex[:8]}"
    group = f"client-cost-{uuid.uuid4().hex[:8]}"
    meta_consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    group_metadata = meta_consumer.consumer_group_metadata()
    producers = [
        Producer(
            {
                "bootstrap.servers": bootstrap,
                "transactional.id": f"{prefix}-{INPUT}-{p}",
                "linger.ms": 5,
                "batch.size": 512 * 1024,
                "transaction.timeout.ms": 60_000,
                "delivery.report.only.error": dr_only_error,
            }
        )
        for p in range(PARTITIONS)
    ]
    for producer in producers:
        producer.init_transactions(30)
    plan = output_records(transactions * per_txn, seed)
    pool = ThreadPoolExecutor(1)

    def finish(producer: Any, p: int, offset: int) -> float:
        c0 = time.thread_time()
        producer.send_offsets_to_transaction([TopicPartition(INPUT, p, offset)], group_metadata, 30)
        producer.commit_transaction(30)
        return time.thread_time() - c0

    def switches() -> tuple[int, int]:
        """(voluntary, involuntary) context switches of the main thread so far."""
        import threading

        with open(f"/proc/self/task/{threading.get_native_id()}/status") as f:
            fields = dict(line.split(":", 1) for line in f if "ctxt_switches" in line)
        return int(fields["voluntary_ctxt_switches"]), int(fields["nonvoluntary_ctxt_switches"])

    during = {"loops": 0, "wall": 0.0, "cpu": 0.0, "vol": 0, "invol": 0}
    idle = {"loops": 0, "wall": 0.0, "cpu": 0.0, "vol": 0, "invol": 0}
    thread_cpu_s = 0.0
    walls: list[float] = []
    per_commit_handoffs: list[float] = []

    def measured(into: dict[str, Any], until: Callable[[], bool]) -> None:
        v0, i0 = switches()
        c0 = time.thread_time()
        got, seconds = spin(until)
        into["cpu"] += time.thread_time() - c0
        v1, i1 = switches()
        into["loops"] += got
        into["wall"] += seconds
        into["vol"] += v1 - v0
        into["invol"] += i1 - i0

    for n in range(transactions):
        p = n % PARTITIONS
        producer = producers[p]
        producer.begin_transaction()
        for event in plan[n * per_txn : (n + 1) * per_txn]:
            for r in event:
                producer.produce(r.topic, r.value, r.key, partition=r.partition)
        future = pool.submit(finish, producer, p, (n // PARTITIONS + 1) * per_txn)
        began, handoffs = time.perf_counter(), during["vol"]
        measured(during, future.done)
        walls.append(time.perf_counter() - began)
        per_commit_handoffs.append(during["vol"] - handoffs)
        thread_cpu_s += future.result()
        # the same Python work with no commit in flight, right after (same machine state)
        measured(idle, _after(during["wall"] / (n + 1)))
    pool.shutdown()
    meta_consumer.close()

    def rates(d: dict[str, Any]) -> dict[str, Any]:
        return {
            "loops_per_s": round(d["loops"] / d["wall"]),
            "main_on_cpu_share": round(d["cpu"] / d["wall"], 3),
            "voluntary_switches_per_s": round(d["vol"] / d["wall"]),
            "involuntary_switches_per_s": round(d["invol"] / d["wall"]),
        }

    return {
        "during_commit": rates(during),
        "no_commit": rates(idle),
        "main_share_during_commit": round(
            (during["loops"] / during["wall"]) / (idle["loops"] / idle["wall"]), 3
        ),
        "commit_wall_ms_mean": round(during["wall"] * 1e3 / transactions, 2),
        "commit_wall": quantiles(walls),
        "main_gil_handoffs_per_commit_median": statistics.median(per_commit_handoffs),
        "switch_interval_ms": sys.getswitchinterval() * 1e3,
        "commit_thread_cpu_ms_mean": round(thread_cpu_s * 1e3 / transactions, 2),
    }


# --- summary -----------------------------------------------------------------------


def flatten(row: dict[str, Any], prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    for name, value in row.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{name}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[prefix + name] = value
    return flat


def summary(path: str) -> None:
    """Median [min-max] over the runs of every number, per (mode, client)."""
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                flat = flatten(row)
                if "stage_main_us" in flat:  # aiokafka: what the harness does not count
                    flat["beyond_stage_us"] = flat["total_us"] - flat["stage_main_us"]
                runs.setdefault((row["mode"], row["client"]), []).append(flat)
    for (mode, client), rows in sorted(runs.items()):
        print(f"{mode} {client} (runs: {len(rows)})")
        for name in rows[0]:
            values = [r[name] for r in rows if name in r]
            print(
                f"    {name:44} {statistics.median(values):>12.3f}"
                f"  [{min(values):.3f} - {max(values):.3f}]"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["setup", "consume", "produce", "gil", "summary"])
    parser.add_argument("path", nargs="?", help="summary: the JSON lines of the runs")
    parser.add_argument("--client", choices=["aiokafka", "confluent"], default="aiokafka")
    parser.add_argument("--bootstrap", default="127.0.0.1:28092")
    parser.add_argument("--records", type=int, default=200_000, help="input records")
    parser.add_argument("--transactions", type=int, default=36)
    parser.add_argument("--per-txn", type=int, default=2_000, help="input events per transaction")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--switch-interval-ms", type=float, help="gil: sys.setswitchinterval (default 5 ms)"
    )
    parser.add_argument(
        "--linger-ms", type=float, default=5.0, help="confluent produce: linger.ms (5 as ours)"
    )
    parser.add_argument("--broker-pid", type=int, help="report this broker's CPU per record too")
    parser.add_argument(
        "--slice-ms", type=float, default=50.0, help="gil, aiokafka: Python work between awaits"
    )
    parser.add_argument(
        "--check-crcs", action="store_true", help="confluent consume: check.crcs (as aiokafka)"
    )
    parser.add_argument(
        "--adapt", action="store_true", help="confluent consume: wrap in a Record-shaped object"
    )
    parser.add_argument(
        "--dr-only-error", action="store_true", help="confluent: delivery.report.only.error"
    )
    args = parser.parse_args()
    global BROKER_PID
    BROKER_PID = args.broker_pid
    result: dict[str, Any]
    if args.mode == "summary":
        summary(args.path)
        return
    if args.mode == "setup":
        result = new_loop().run_until_complete(setup(args.bootstrap, args.records))
    elif args.mode == "consume" and args.client == "aiokafka":
        result = new_loop().run_until_complete(consume_aiokafka(args.bootstrap, args.records))
    elif args.mode == "consume":
        result = consume_confluent(args.bootstrap, args.records, args.adapt, args.check_crcs)
    elif args.mode == "gil" and args.client == "aiokafka":
        result = new_loop().run_until_complete(
            gil_aiokafka(args.bootstrap, args.transactions, args.per_txn, args.seed, args.slice_ms)
        )
        args.client += f"-slice{args.slice_ms}ms"
    elif args.mode == "gil":
        if args.switch_interval_ms is not None:
            sys.setswitchinterval(args.switch_interval_ms / 1e3)
        result = gil_confluent(
            args.bootstrap, args.transactions, args.per_txn, args.seed, args.dr_only_error
        )
    elif args.client == "aiokafka":
        result = new_loop().run_until_complete(
            produce_aiokafka(args.bootstrap, args.transactions, args.per_txn, args.seed)
        )
    else:
        result = produce_confluent(
            args.bootstrap, args.transactions, args.per_txn, args.seed, args.dr_only_error,
            args.linger_ms,
        )  # fmt: skip
        args.client += f"-linger{args.linger_ms:g}ms" if args.linger_ms != 5 else ""
    client = args.client + ("-dr-only-error" if args.dr_only_error else "")
    client += "-adapted" if args.adapt else ""
    client += "-crcs" if args.check_crcs else ""
    client += f"-switch{args.switch_interval_ms}ms" if args.switch_interval_ms else ""
    print(json.dumps({"mode": args.mode, "client": client, **result}), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
