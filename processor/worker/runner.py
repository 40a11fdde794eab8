"""The worker process: consume webhooks, run each call's machine, commit exactly once.

Loop: fetch a batch (up to ``worker_batch_max_records`` or
``worker_batch_max_ms``), run it through each partition's
:class:`PartitionWorker`, close it into one transaction per partition, then
commit those in the background while the next batches are fetched and
processed. A partition's next transaction begins only after its previous one
ended, so the input offsets committed always match the outputs; partitions do
not wait for each other (a backlog is fetched a partition at a time, so each
batch's commit overlaps the next batches of other partitions).
Assignment fences the previous owner and restores the partition's state from
the changelog before its records are processed; revocation waits for the
running commit and drops the partition.
A fenced worker stops (another instance owns its partitions now).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from processor import metrics
from processor.errors import ConfigError, FencedError, KafkaError
from processor.kafka.admin import partition_count
from processor.kafka.consumer import InputConsumer
from processor.kafka.reader import read_to_end
from processor.kafka.records import Record
from processor.kafka.transactions import PartitionTransactor
from processor.settings import Settings
from processor.tally import HistogramTally
from processor.worker.gauges import Gauges
from processor.worker.heap import restoring
from processor.worker.labels import LabelCache
from processor.worker.partition import PartitionWorker, Prepared
from processor.worker.recovery import Recovery

log = structlog.get_logger(__name__)


class Worker:
    """One worker process's consumer, partitions and commit loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.partitions: dict[int, PartitionWorker] = {}
        self.joined = False
        self._labels = LabelCache()
        self._latency = HistogramTally(metrics.WORKER_PROCESSING_LATENCY)
        self._lock = asyncio.Lock()
        self._counts: dict[str, int] = {}
        self._consumer = InputConsumer(
            settings,
            settings.topic_webhooks,
            settings.worker_group_id,
            on_assigned=self._on_assigned,
            on_revoked=self._on_revoked,
        )
        self._last_sweep = 0.0
        self._gauges = Gauges()
        self._recovery = Recovery()
        self._failed: BaseException | None = None
        """What ended the worker inside an assignment callback (fencing, a bug)."""
        self._commits: dict[int, asyncio.Task[None]] = {}
        """Each partition's transaction in flight (at most one per partition)."""

    # --- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        """Check topics are co-partitioned, then join the group."""
        self._counts = await self._partition_counts()
        await self._consumer.start()

    async def stop(self) -> None:
        """Leave the group and close every partition's producer (bounded either way).

        A transaction already committing gets ``worker_drain_timeout_s`` to end;
        work not yet in one is not committed: the next owner starts from the last commit.
        """
        await self._drain_commit()
        await self._consumer.stop()
        await asyncio.gather(*(self._drop(p) for p in list(self.partitions)))
        self._recovery.clear()

    @property
    def ready(self) -> bool:
        """In the group, connected to its coordinator, and no partition waiting to recover."""
        return self.joined and self._consumer.connected and not self._recovery.pending

    async def run(self, stop: asyncio.Event) -> None:
        """Process until ``stop`` is set; raise FencedError if fenced.

        A step still running when ``stop`` is set (a commit waiting for an absent
        broker) gets ``worker_drain_timeout_s`` to finish, then is cancelled.
        """
        await self.start()
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                step = asyncio.create_task(self.step())
                await asyncio.wait({step, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not step.done():
                    await asyncio.wait({step}, timeout=self.settings.worker_drain_timeout_s)
                if not step.done():
                    log.warning("worker_step_abandoned", reason="drain timeout while stopping")
                    step.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await step
                    break
                step.result()
        finally:
            stopping.cancel()
            await self.stop()

    async def _partition_counts(self) -> dict[str, int]:
        s = self.settings
        topics = [s.topic_webhooks, *(t for t in s.all_topics() if t != s.topic_webhooks)]
        counts = {t: await partition_count(s, t) for t in topics}
        missing = [t for t, n in counts.items() if n == 0]
        if missing:
            raise ConfigError(f"topics missing: {missing}; run 'processor topics create'")
        inputs = counts[s.topic_webhooks]
        for topic in (s.topic_changelog,):
            if counts[topic] != inputs:
                raise ConfigError(
                    f"{topic} has {counts[topic]} partitions but {s.topic_webhooks} has "
                    f"{inputs}: the changelog must be co-partitioned with the input"
                )
        return counts

    # --- rebalance ---------------------------------------------------------------
    async def _on_assigned(self, partitions: list[int]) -> None:
        self.joined = True
        new = [p for p in partitions if p not in self.partitions]
        for partition in new:  # not fetched (and thrown away) while its state is restored
            self._consumer.pause(partition)
        results = await asyncio.gather(*(self._adopt(p) for p in new), return_exceptions=True)
        for partition, result in zip(new, results, strict=True):
            if isinstance(result, KafkaError) and not isinstance(result, FencedError):
                self._start_recovery(partition, result)
            elif isinstance(result, BaseException):
                # aiokafka logs and swallows a callback's exception: the loop raises it.
                self._failed = result
                raise result
            else:
                self._consumer.resume(partition)
        log.info("partitions_assigned", partitions=partitions)

    async def _on_revoked(self, partitions: list[int]) -> None:
        async with self._lock:  # wait for the running batch's commit
            if self._commits:  # their errors surface in the next step
                await asyncio.wait(list(self._commits.values()))
            for partition in partitions:
                await self._drop(partition)
                self._recovery.forget(partition)
        log.info("partitions_revoked", partitions=partitions)

    async def _adopt(self, partition: int) -> None:
        started = time.perf_counter()
        transactor = PartitionTransactor(self.settings, self.settings.topic_webhooks, partition)
        transactor.set_partition_counts(self._counts)
        await transactor.start()  # fences the previous owner, aborting its open transaction
        worker = PartitionWorker(self.settings, partition, transactor, self._labels)
        restored = 0
        try:
            with restoring():
                async for batch in read_to_end(
                    self.settings, self.settings.topic_changelog, [partition], role="restore"
                ):
                    restored += worker.restore(batch)
        except BaseException:  # the broker went away, or we are stopping: no leaked producer
            await asyncio.shield(transactor.stop())
            raise
        elapsed = time.perf_counter() - started
        metrics.WORKER_RESTORE_DURATION.observe(elapsed)
        metrics.WORKER_RESTORED_CALLS.inc(len(worker.store))
        self.partitions[partition] = worker
        log.info(
            "partition_restored",
            partition=partition,
            changelog_records=restored,
            calls=len(worker.store),
            seconds=round(elapsed, 3),
        )

    async def _drop(self, partition: int) -> None:
        worker = self.partitions.pop(partition, None)
        if worker is not None:
            await worker.close()
            metrics.WORKER_CONSUMER_LAG.labels(str(partition)).set(0)
            metrics.WORKER_CONSUMER_LAG_SECONDS.labels(str(partition)).set(0)

    # --- the loop ------------------------------------------------------------------
    async def step(self) -> None:
        """Fetch one batch, process it, commit it (and run due sweeps)."""
        if self._failed is not None:
            raise self._failed
        if self._recovery.due():
            async with self._lock:
                await self._finish_commits()
                await self._recover()
        batches = await self._fetch()
        async with self._lock:
            self._process(batches)
            self._labels.flush()
            now = time.monotonic()
            swept = now - self._last_sweep >= self.settings.worker_sweep_interval_s
            if swept:
                self._last_sweep = now
                now_ms = time.time_ns() // 1_000_000
                for worker in self.partitions.values():
                    worker.sweep(now_ms)
            # Closed now, before any later record can touch the states it stages.
            prepared = [(w, w.prepare()) for w in self.partitions.values() if w.has_work()]
            self._reap()
            for worker, _ in prepared:  # its previous transaction ends before this one begins
                await self._finish_commit(worker.partition)
            for worker, commit in prepared:
                # A partition dropped by a failed commit is restored from its last commit.
                if self.partitions.get(worker.partition) is worker:
                    self._commits[worker.partition] = asyncio.create_task(
                        self._commit(worker, commit)
                    )
            self._gauges.publish(self.partitions, self._consumer, swept=swept)

    def _reap(self) -> None:
        """Forget ended transactions; raise what ended the worker (fencing, a bug)."""
        for partition, task in list(self._commits.items()):
            if task.done():
                del self._commits[partition]
                task.result()

    async def _finish_commit(self, partition: int) -> None:
        """Wait for a partition's transaction in flight; raise what ended the worker."""
        task = self._commits.pop(partition, None)
        if task is not None:
            await task

    async def _finish_commits(self) -> None:
        """Wait for every transaction in flight; raise what ended the worker."""
        tasks, self._commits = list(self._commits.values()), {}
        if tasks:
            await asyncio.wait(tasks)
            for task in tasks:
                task.result()

    async def _drain_commit(self) -> None:
        """Let the transactions in flight end, within ``worker_drain_timeout_s``."""
        tasks, self._commits = list(self._commits.values()), {}
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.settings.worker_drain_timeout_s)
        if pending:
            log.warning("worker_commit_abandoned", reason="drain timeout while stopping")
            for task in pending:
                task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task  # stopping anyway: its outcome was logged where it happened

    async def _fetch(self) -> list[dict[int, list[Record]]]:
        """Fetches until ``worker_batch_max_records`` or ``worker_batch_max_ms`` is reached."""
        s = self.settings
        deadline = time.monotonic() + s.worker_batch_max_ms / 1000
        fetched = 0
        batches: list[dict[int, list[Record]]] = []
        while fetched < s.worker_batch_max_records:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0 and fetched:
                break
            got = await self._consumer.fetch(
                max(remaining_ms, 0 if fetched else s.worker_batch_max_ms),
                s.worker_batch_max_records - fetched,
            )
            if not got:
                break
            batches.append(got)
            fetched += sum(len(r) for r in got.values())
        return batches

    def _process(self, batches: list[dict[int, list[Record]]]) -> None:
        """Hand each partition's records to its worker; rewind those it cannot take yet."""
        rewound: set[int] = set()
        for got in batches:
            for partition, records in got.items():
                worker = self.partitions.get(partition)
                if worker is not None and partition not in rewound:
                    worker.process(records)
                elif partition in self._recovery:
                    continue  # paused; it restarts from its last commit
                elif partition not in rewound:
                    # Fetched before its state was restored (aiokafka fetches as soon
                    # as it is assigned) or after it was revoked: fetch it again later.
                    rewound.add(partition)
                    self._consumer.rewind(partition, records[0].offset)

    async def _commit(self, worker: PartitionWorker, commit: Prepared) -> None:
        """Commit one partition's transaction; a Kafka failure restarts that partition."""
        started = time.perf_counter()
        try:
            await worker.commit_prepared(commit, self.settings.worker_group_id)
        except FencedError as exc:
            metrics.WORKER_TRANSACTIONS.labels("fenced").inc()
            log.error("worker_fenced", partition=worker.partition, error=str(exc))
            raise
        except Exception as exc:
            metrics.WORKER_TRANSACTIONS.labels("aborted").inc()
            if not isinstance(exc, KafkaError):
                raise
            if self.partitions.get(worker.partition) is worker:
                await self._drop(worker.partition)
                self._start_recovery(worker.partition, exc)
            return
        metrics.WORKER_TRANSACTIONS.labels("committed").inc()
        metrics.WORKER_TRANSACTION_DURATION.observe(time.perf_counter() - started)
        metrics.WORKER_BATCH_RECORDS.observe(len(commit.received))
        now_ms = time.time_ns() // 1_000_000
        observe = self._latency.observe
        for received_ms in commit.received:
            observe(max(now_ms - received_ms, 0) / 1000)
        self._latency.flush()

    # --- recovery ----------------------------------------------------------------
    def _start_recovery(self, partition: int, error: Exception) -> None:
        """Stop processing a partition until it is restarted from its last commit."""
        self._consumer.pause(partition)
        if self._recovery.add(partition):
            log.warning("partition_recovering", partition=partition, error=str(error))

    async def _recover(self) -> None:
        """Restart paused partitions: new producer (fencing our own open transaction),
        state from the changelog, position from the committed offset."""
        assigned = set(self._consumer.assigned())
        for partition in self._recovery.take_due():
            if partition not in assigned:
                self._recovery.forget(partition)  # revoked meanwhile: the new owner restores it
                continue
            try:
                await self._adopt(partition)
                await self._consumer.seek_to_committed(partition)
            except FencedError:
                raise
            except KafkaError as exc:
                await self._drop(partition)
                self._recovery.failed(partition)
                log.debug("partition_recovery_retry", partition=partition, error=str(exc))
                continue
            self._recovery.done(partition)
            self._consumer.resume(partition)
            log.info("partition_recovered", partition=partition)
