"""The worker's CPU per event without a broker: ``python -m tests.bench.worker_cpu``.

Runs the bench stream of ``make bench-worker`` (the same simulator scenarios,
thousands of concurrent calls) through :class:`PartitionWorker` exactly as the
runner does: ``process`` per fetched chunk, then ``prepare`` (state and
changelog records of every touched call) and the build of each sealed batch
(what aiokafka's sender does before writing it), once per commit interval.
The transactor is the real one; only its producer is a stand-in that hands
out aiokafka batch builders, so nothing leaves the process.

It reports process CPU per 1,000 events (median of the repeats). This is pure
CPU, so it is far steadier on a shared machine than the end-to-end bench; it
does not count fetching, decoding and sending, which the end-to-end bench does.

``--digest`` prints a digest of every output record (topic, partition, key,
value, headers, in order) to check that a change leaves the outputs
byte-identical.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch

from processor.kafka.transactions import PartitionTransactor
from processor.logs import configure_logging
from processor.settings import Settings
from processor.worker.labels import LabelCache
from processor.worker.partition import PartitionWorker
from tests.bench.worker import interleaved_events

FIXED_NOW_MS = 1_764_547_200_000
PARTITIONS = 6
"""Partitions of every topic (the bench topic's count)."""


@dataclass(frozen=True, slots=True)
class FakeRecord:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class BatchOnlyProducer:
    """What the transactor asks of its producer while staging: empty batches."""

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(512 * 1024, 0, is_transactional=1)


def build_records(events: int, concurrent: int, seed: int) -> list[FakeRecord]:
    """One partition's share of the bench stream, as the consumer hands it over."""
    rng = random.Random(seed)
    now_ms = FIXED_NOW_MS  # fixed, so that the outputs (and their digest) are too
    sent_at = datetime.fromtimestamp(now_ms / 1000, UTC)
    out = []
    for offset, (call_id, body) in enumerate(interleaved_events(events, concurrent, rng, sent_at)):
        received = str(now_ms + offset // 30).encode()
        out.append(
            FakeRecord(
                "bench.webhooks", 0, offset, now_ms + offset // 30, call_id.encode(), body,
                [("recho-received-at-ms", received)],
            )
        )  # fmt: skip
    return out


def new_worker(settings: Settings) -> PartitionWorker:
    transactor = PartitionTransactor(settings, settings.topic_webhooks, 0)
    transactor.set_partition_counts(
        {
            t: PARTITIONS
            for t in (
                settings.topic_call_events,
                settings.topic_call_state,
                settings.topic_call_alerts,
                settings.topic_dlq,
                settings.topic_changelog,
            )
        }
    )
    transactor._producer = BatchOnlyProducer()  # type: ignore[assignment]
    return PartitionWorker(settings, 0, transactor, LabelCache())


def run(
    settings: Settings, records: list[FakeRecord], chunk: int, per_commit: int
) -> tuple[float, list[Any]]:
    """Process all records; return CPU seconds and the built batches."""
    worker = new_worker(settings)
    flush_labels = worker._labels.flush  # the runner flushes once per fetched batch
    built: list[Any] = []
    gc.collect()
    started = time.process_time()
    since_commit = 0
    for start in range(0, len(records), chunk):
        part = records[start : start + chunk]
        worker.process(part)  # type: ignore[arg-type]
        flush_labels()
        since_commit += len(part)
        if since_commit >= per_commit:
            since_commit = 0
            sealed = worker.prepare().sealed
            built.extend((t, p, b._build()) for t, p, b in sealed.batches)
    sealed = worker.prepare().sealed
    built.extend((t, p, b._build()) for t, p, b in sealed.batches)
    return time.process_time() - started, built


def digest(built: list[Any]) -> tuple[str, int]:
    h = hashlib.sha256()
    count = 0
    for topic, partition, buffer in built:
        batch = DefaultRecordBatch(bytes(buffer))
        for record in batch:
            count += 1
            h.update(repr((topic, partition, record.key, record.value, record.headers)).encode())
    return h.hexdigest(), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--concurrent", type=int, default=1_000)
    parser.add_argument("--chunk", type=int, default=500, help="records per process() call")
    parser.add_argument("--per-commit", type=int, default=3_000, help="records per transaction")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--digest", action="store_true")
    parser.add_argument("--profile", action="store_true", help="pyinstrument one run")
    args = parser.parse_args()
    # The worker logs JSON lines (alerts) to stderr; rendered as it does, written nowhere.
    stderr, sys.stderr = sys.stderr, open(os.devnull, "w")  # noqa: SIM115
    configure_logging("INFO", json=True)
    sys.stderr = stderr
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:1")
    records = build_records(args.events, args.concurrent, args.seed)
    if args.digest:
        _, built = run(settings, records, args.chunk, args.per_commit)
        value, count = digest(built)
        print(f"digest {value} records {count}")
        return
    if args.profile:
        from pyinstrument import Profiler  # a developer tool, not a dependency

        run(settings, records, args.chunk, args.per_commit)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        run(settings, records, args.chunk, args.per_commit)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        return
    run(settings, records, args.chunk, args.per_commit)  # warm up
    per_1k = []
    for _ in range(args.repeats):
        cpu_s, _built = run(settings, records, args.chunk, args.per_commit)
        per_1k.append(cpu_s * 1000 / (len(records) / 1000))
    print(
        f"events {len(records)}  CPU ms per 1k events: median {statistics.median(per_1k):.2f}"
        f"  min {min(per_1k):.2f}  max {max(per_1k):.2f}"
    )


if __name__ == "__main__":
    main()
