"""The alert as the notifier sees it, grouping of bursts, and memory of what was sent.

worker -> recho.call-alerts.v1 -> notifier: **grouping** -> sinks. Pure code
(no I/O, time is passed in) so the rules get fast unit tests.

- :func:`parse_alert` reads a call-alerts record tolerantly: only what the
  sinks need must be there, so a record that gains fields or enum values
  within its version still gets delivered.
- :class:`Grouper` turns a burst into one message: alerts that share a callId
  or an error code within ``window_s`` of a group's first alert join that
  group. Alertmanager gets every alert on its own (it groups by itself);
  webhook and Slack sinks get one message per group.
- :class:`RecentIds` remembers the alert ids a sink has taken, so an alert
  redelivered by Kafka (same ``alertId``) is not sent again.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

GROUP_MAX_ALERTS: Final = 500
"""Most alerts in one group; a full group is sent at once, a new one opens."""
RECENT_IDS_CAPACITY: Final = 100_000
"""Alert ids remembered per sink (about 10 MB): far more than one redelivery window."""


@dataclass(frozen=True, slots=True, eq=False)
class Alert:
    """One call-alerts record, with the fields the sinks use picked out."""

    alert_id: str
    kind: str
    severity: str
    call_id: str
    project_id: str
    direction: str
    event_type: str | None
    error_codes: tuple[str, ...]
    at_ms: int
    summary: str
    record: dict[str, Any]
    """The record as read, for sinks that forward it whole."""
    partition: int = -1
    """Where the record was read (-1 when it did not come from Kafka)."""
    offset: int = -1

    @property
    def code(self) -> str:
        """The error code the alert is grouped and labelled by: the first code, else its kind."""
        return self.error_codes[0] if self.error_codes else self.kind


def parse_alert(raw: bytes | None, partition: int = -1, offset: int = -1) -> Alert:
    """Read a call-alerts record (read at ``partition``/``offset``); ValueError if not one."""
    if raw is None:
        raise ValueError("empty record")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    codes = data.get("errorCodes") or []
    at_ms = data.get("atMs")
    if not isinstance(codes, list) or not isinstance(at_ms, int) or isinstance(at_ms, bool):
        raise ValueError("errorCodes must be a list and atMs an integer")
    return Alert(
        alert_id=_text(data, "alertId", required=True),
        kind=_text(data, "kind", required=True),
        severity=_text(data, "severity") or "warning",
        call_id=_text(data, "callId", required=True),
        project_id=_text(data, "projectId"),
        direction=_text(data, "direction"),
        event_type=_text(data, "eventType") or None,
        error_codes=tuple(str(code) for code in codes),
        at_ms=at_ms,
        summary=_text(data, "summary"),
        record=data,
        partition=partition,
        offset=offset,
    )


def _text(data: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"{key} must be a non-empty string")
    return value


@dataclass(slots=True, eq=False)
class AlertGroup:
    """Alerts sent as one message; ``key`` names what first tied them (call or code)."""

    key: str
    opened_at_s: float
    alerts: list[Alert] = field(default_factory=list)
    call_ids: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)


def idempotency_key(alerts: Sequence[Alert]) -> str:
    """The alert id of a single alert; for several, a digest of their sorted ids.

    The same alerts give the same key, so a receiver that deduplicates by
    ``Idempotency-Key`` drops a message it already took.
    """
    if len(alerts) == 1:
        return alerts[0].alert_id
    ids = "\n".join(sorted(alert.alert_id for alert in alerts))
    return "group-" + hashlib.sha256(ids.encode()).hexdigest()[:32]


class Grouper:
    """Open groups of alerts, each sent ``window_s`` after its first alert (or when full)."""

    def __init__(self, window_s: float, max_alerts: int = GROUP_MAX_ALERTS) -> None:
        self._window_s = window_s
        self._max_alerts = max_alerts
        self._groups: list[AlertGroup] = []
        self._by_call: dict[str, AlertGroup] = {}
        self._by_code: dict[str, AlertGroup] = {}

    def __len__(self) -> int:
        """Alerts waiting in open groups."""
        return sum(len(group.alerts) for group in self._groups)

    def add(self, alert: Alert, now_s: float) -> None:
        """Put an alert in the open group of its call, else of its code, else a new one."""
        group = self._by_call.get(alert.call_id) or self._by_code.get(alert.code)
        if group is None or len(group.alerts) >= self._max_alerts:
            group = AlertGroup(key=f"call:{alert.call_id}", opened_at_s=now_s)
            self._groups.append(group)
        group.alerts.append(alert)
        group.call_ids.add(alert.call_id)
        group.codes.add(alert.code)
        self._by_call[alert.call_id] = group
        self._by_code[alert.code] = group
        if len(group.call_ids) > 1:
            group.key = f"code:{alert.code}" if len(group.codes) == 1 else "mixed"

    def next_due_s(self) -> float | None:
        """When the oldest open group is due, or None if there is none."""
        if not self._groups:
            return None
        return min(self._due_at(group) for group in self._groups)

    def due(self, now_s: float) -> list[AlertGroup]:
        """Close and return the groups whose window has passed or that are full."""
        return self._close([g for g in self._groups if self._due_at(g) <= now_s])

    def drain(self) -> list[AlertGroup]:
        """Close and return every open group (at shutdown)."""
        return self._close(list(self._groups))

    def _due_at(self, group: AlertGroup) -> float:
        if len(group.alerts) >= self._max_alerts:
            return group.opened_at_s
        return group.opened_at_s + self._window_s

    def _close(self, closing: list[AlertGroup]) -> list[AlertGroup]:
        if not closing:
            return []
        gone = {id(group) for group in closing}
        self._groups = [g for g in self._groups if id(g) not in gone]
        self._by_call = {k: g for k, g in self._by_call.items() if id(g) not in gone}
        self._by_code = {k: g for k, g in self._by_code.items() if id(g) not in gone}
        return closing


class RecentIds:
    """A bounded memory of delivered alert ids, least recently seen forgotten first."""

    def __init__(self, capacity: int = RECENT_IDS_CAPACITY) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._ids

    def add_all(self, alert_ids: Iterable[str]) -> None:
        """Remember ids as delivered (most recent last)."""
        for alert_id in alert_ids:
            self._ids[alert_id] = None
            self._ids.move_to_end(alert_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)

    def fresh(self, alerts: Iterable[Alert]) -> tuple[list[Alert], int]:
        """The alerts not delivered yet (first of duplicates kept), and how many were dropped."""
        kept: list[Alert] = []
        seen: set[str] = set()
        dropped = 0
        for alert in alerts:
            if alert.alert_id in self._ids or alert.alert_id in seen:
                dropped += 1
                continue
            seen.add(alert.alert_id)
            kept.append(alert)
        return kept, dropped
