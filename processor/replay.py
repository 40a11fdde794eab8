"""``processor replay --from-dlq``: re-drive dead-lettered webhooks after a fix.

Reads the DLQ from the beginning to its current end, picks the records that
match (all, one callId, a time range of failure), and writes each original
body with its original key and headers back to the webhooks topic, plus a
``recho-replayed-from`` header naming the DLQ position. The worker processes
them as new input; a body it already handled is recognised as a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from processor.kafka import Publisher
from processor.kafka.reader import read_to_end
from processor.outputs import DeadLetter, parse_dlq_record
from processor.settings import Settings

log = structlog.get_logger(__name__)

HEADER_REPLAYED_FROM = "recho-replayed-from"


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """Which dead letters to replay; None fields match everything."""

    call_id: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    reason: str | None = None

    def matches(self, letter: DeadLetter) -> bool:
        """True if the dead letter is selected."""
        if (
            self.call_id is not None
            and (letter.key or b"").decode(errors="replace") != self.call_id
        ):
            return False
        if self.since_ms is not None and letter.failed_at_ms < self.since_ms:
            return False
        if self.until_ms is not None and letter.failed_at_ms > self.until_ms:
            return False
        return self.reason is None or letter.reason == self.reason


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What a replay did."""

    scanned: int
    replayed: int
    skipped_unreadable: int


async def replay_dlq(
    settings: Settings, selection: ReplayFilter, *, dry_run: bool = False
) -> ReplayReport:
    """Replay the selected DLQ records to the webhooks topic."""
    publisher = Publisher(settings, role="replay")
    if not dry_run:
        await publisher.start()
    scanned = replayed = unreadable = 0
    try:
        async for batch in read_to_end(settings, settings.topic_dlq, role="replay"):
            for record in batch:
                scanned += 1
                if record.value is None:
                    continue
                try:
                    letter = parse_dlq_record(record.value)
                except ValueError:
                    unreadable += 1
                    continue
                if letter.value is None or not selection.matches(letter):
                    continue
                if not dry_run:
                    headers = [(k, v) for k, v in letter.headers if v is not None]
                    origin = f"{settings.topic_dlq}/{record.partition}/{record.offset}"
                    headers.append((HEADER_REPLAYED_FROM, origin.encode()))
                    await publisher.publish(
                        settings.topic_webhooks, letter.key or b"", letter.value, headers
                    )
                replayed += 1
    finally:
        if not dry_run:
            await publisher.stop()
    log.info("dlq_replayed", scanned=scanned, replayed=replayed, unreadable=unreadable)
    return ReplayReport(scanned, replayed, unreadable)
