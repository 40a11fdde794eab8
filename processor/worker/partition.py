"""One input partition's share of the worker: its call store and its transactions.

``process`` runs records through the state machine and stages every output
(events, alerts, dead letters now; state and changelog once per touched call
at commit). ``commit`` writes them and the input offset in one transaction.
``sweep`` raises stalled-call alerts and expires finished calls, in
transactions too, so those timers survive restarts and rebalances.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import structlog

from processor import metrics
from processor.calls import (
    CallFinished,
    CallState,
    EmitEvent,
    RaiseAlert,
    Verdict,
    check_stalled,
    handle,
    is_expired,
)
from processor.contract import EventType
from processor.errors import ContractError
from processor.kafka.records import Record
from processor.kafka.transactions import PartitionTransactor, Sealed
from processor.outputs.alerts import alert_record, unreadable_alert_record
from processor.outputs.changelog import changelog_record, parse_changelog
from processor.outputs.dead_letters import DeadLetterReason, dlq_record
from processor.outputs.records import SourceRef, event_record, state_record
from processor.settings import Settings
from processor.worker.ingest import (
    ClaimedErrors,
    claimed_errors,
    dlq_reason,
    ingest,
    unreadable_alert,
)
from processor.worker.labels import LabelCache
from processor.worker.store import CallStore, status_key

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Prepared:
    """One partition's transaction, closed and ready to commit."""

    sealed: Sealed
    next_offset: int | None
    received: list[int]
    """Ingress receive times of its input records (for the processing-latency histogram)."""


class PartitionWorker:
    """State, staging and commits for one partition of the webhooks topic."""

    def __init__(
        self,
        settings: Settings,
        partition: int,
        transactor: PartitionTransactor,
        labels: LabelCache,
    ) -> None:
        self.partition = partition
        self.store = CallStore()
        self.next_offset: int | None = None
        self.last_record_ms: int | None = None
        self._settings = settings
        self._tx = transactor
        self._labels = labels
        self._input = settings.topic_webhooks
        self._events = settings.topic_call_events
        self._state = settings.topic_call_state
        self._alerts = settings.topic_call_alerts
        self._dlq = settings.topic_dlq
        self._changelog = settings.topic_changelog
        self._dirty: dict[str, CallState] = {}
        self._tombstones: set[str] = set()
        self._received: list[int] = []
        self._pending_alerts = 0
        self._stall_ms = int(settings.worker_stall_after_s * 1000)
        self._retention_ms = int(settings.worker_call_retention_s * 1000)
        self._open_retention_ms = int(settings.worker_open_call_retention_s * 1000)

    @property
    def staged(self) -> int:
        """Input records processed since the last commit."""
        return len(self._received)

    # --- restore ---------------------------------------------------------------
    def restore(self, records: Iterable[Record]) -> int:
        """Apply changelog records (latest wins; tombstones delete); return how many."""
        count = 0
        for record in records:
            key = record.key
            if key is None:
                continue
            if record.value is None:
                self.store.remove(key.decode())
            else:
                self.store.load(parse_changelog(record.value))
            count += 1
        return count

    # --- processing ------------------------------------------------------------
    def process(self, records: list[Record]) -> None:
        """Run records through the state machine and stage their outputs."""
        tx = self._tx
        store = self.store
        labels = self._labels
        counts: dict[tuple[EventType, Verdict], int] = {}
        for record in records:
            source = SourceRef(self._input, record.partition, record.offset)
            try:
                ingested = ingest(record)
            except ContractError as exc:
                self._dead_letter(record, source, dlq_reason(exc), exc.message)
                claim = claimed_errors(record)
                if claim is not None:
                    self._alert_unreadable(claim, record, source)
                continue
            envelope, event, flags = ingested.envelope, ingested.event, ingested.flags
            try:
                before = store.get(event.call_id)
                before_key = status_key(before) if before is not None else None
                state, effects = handle(before, event)
                store.put(state, before, before_key)
            except Exception as exc:  # a bug must not stop the partition: dead-letter it
                log.exception("record_processing_failed", call_id=event.call_id)
                self._dead_letter(record, source, DeadLetterReason.PROCESSING_ERROR, repr(exc))
                continue
            key = event.call_id.encode()
            for effect in effects:
                if type(effect) is EmitEvent:
                    tx.stage(self._events, key, event_record(effect, envelope, source, flags))
                    counted = (event.event_type, effect.verdict)
                    counts[counted] = counts.get(counted, 0) + 1
                elif type(effect) is RaiseAlert:
                    tx.stage(self._alerts, key, alert_record(effect, envelope, source))
                    self._alerted(effect)
                elif type(effect) is CallFinished:
                    labels.finished(effect)
            if event.has_errors:
                for code, phase in zip(event.error_codes, event.error_phases, strict=False):
                    labels.error(code, phase).inc()
            self._dirty[event.call_id] = state
            self._tombstones.discard(event.call_id)
            self._received.append(event.received_at_ms)
        labels.events(counts)
        if records:
            self.next_offset = records[-1].offset + 1
            self.last_record_ms = records[-1].timestamp

    def _dead_letter(
        self, record: Record, source: SourceRef, reason: DeadLetterReason, error: str
    ) -> None:
        now_ms = time.time_ns() // 1_000_000
        self._tx.stage(
            self._dlq,
            record.key or b"",
            dlq_record(
                reason=reason,
                error=error,
                source=source,
                key=record.key,
                value=record.value,
                headers=list(record.headers),
                failed_at_ms=now_ms,
            ),
            list(record.headers),
        )
        metrics.WORKER_DLQ.labels(reason).inc()
        log.warning(
            "record_dead_lettered",
            reason=reason,
            error=error,
            partition=record.partition,
            offset=record.offset,
        )
        self._received.append(record.timestamp)

    def _alert_unreadable(self, claim: ClaimedErrors, record: Record, source: SourceRef) -> None:
        """Alert on an event that reported errors nobody could read (it is dead-lettered)."""
        state = self.store.get(claim.call_id) if claim.call_id else None
        alert = unreadable_alert(claim, record, state)
        self._tx.stage(
            self._alerts,
            claim.call_id.encode(),
            unreadable_alert_record(alert, claim.event_type_raw, claim.errors_text, source),
        )
        self._alerted(alert)

    def _alerted(self, alert: RaiseAlert) -> None:
        self._labels.alert(alert)
        self._pending_alerts += 1
        log.error(
            "alert_raised",
            alert_id=alert.alert_id,
            kind=alert.kind.value,
            severity=alert.severity.value,
            call_id=alert.call_id,
            project_id=alert.project_id,
            event_type=alert.event_type.value if alert.event_type else None,
            error_codes=list(alert.error_codes),
            partition=self.partition,
        )

    # --- timers ------------------------------------------------------------------
    def sweep(self, now_ms: int) -> int:
        """Stage stalled-call alerts and expiry tombstones; return how many calls changed."""
        horizon = min(self._stall_ms, self._retention_ms, self._open_retention_ms)
        stalled: list[tuple[CallState, RaiseAlert]] = []
        expired: list[CallState] = []
        for state in self.store.oldest_first():
            if now_ms - state.last_seen_ms < horizon:
                break
            if is_expired(
                state, now_ms, self._retention_ms, open_retention_ms=self._open_retention_ms
            ):
                expired.append(state)
                continue
            alert = check_stalled(state, now_ms, self._stall_ms)
            if alert is not None:
                stalled.append((state, alert))
        for state, alert in stalled:
            key = state.call_id.encode()
            self._tx.stage(self._alerts, key, alert_record(alert, None, None))
            self._alerted(alert)
            self._dirty[state.call_id] = state
        for state in expired:
            self.store.remove(state.call_id)
            self._dirty.pop(state.call_id, None)
            self._tombstones.add(state.call_id)
        return len(stalled) + len(expired)

    async def close(self) -> None:
        """Drop staged work and close this partition's producer."""
        await self._tx.stop()

    # --- commit ------------------------------------------------------------------
    def has_work(self) -> bool:
        """Anything staged that a commit would write."""
        return bool(self._received or self._dirty or self._tombstones or self._tx.staged)

    async def commit(self, group_id: str) -> list[int]:
        """Stage latest states and the changelog, then commit with the input offset.

        Returns the ingress receive times of the records committed (for the
        processing-latency histogram).
        """
        prepared = self.prepare()
        await self.commit_prepared(prepared, group_id)
        return prepared.received

    def prepare(self) -> Prepared:
        """Close the work so far into a transaction: stage each touched call's state
        and changelog, and take the staged records. Later records go to the next one."""
        tx = self._tx
        for call_id, state in self._dirty.items():
            key = call_id.encode()
            tx.stage(self._state, key, state_record(state))
            tx.stage(self._changelog, key, changelog_record(state))
        for call_id in self._tombstones:
            key = call_id.encode()
            tx.stage(self._state, key, None)
            tx.stage(self._changelog, key, None)
        received, self._received = self._received, []
        self._dirty = {}
        self._tombstones = set()
        self._pending_alerts = 0
        return Prepared(tx.seal(), self.next_offset if received else None, received)

    async def commit_prepared(self, prepared: Prepared, group_id: str) -> None:
        """Commit a prepared transaction (after the previous one of this partition ended)."""
        await self._tx.commit_sealed(prepared.sealed, prepared.next_offset, group_id)
