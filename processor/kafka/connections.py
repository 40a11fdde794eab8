"""Broker connections: capped exponential reconnect back-off and one log line per outage.

aiokafka reconnects to an unreachable broker on every request that needs it
(each produce, metadata refresh and heartbeat), with no back-off of its own
and an ERROR line per attempt: during an outage an ingress under load made
thousands of connects and log lines a second. Installed once when
:mod:`processor.kafka` is imported, this wraps aiokafka's connection step so
that, per broker address and process:

* after a failed connect, the next attempt waits ``FIRST_BACKOFF_S``, doubling
  up to ``MAX_BACKOFF_S``; callers asking meanwhile get "not ready" at once and
  go through their own retry paths (a request that cannot wait gets 503);
* ``kafka_connection_lost`` is logged once when a node becomes unreachable,
  ``kafka_still_unreachable`` at most every ``REPEAT_LOG_S`` with the attempt
  count, and ``kafka_connection_restored`` with the outage's duration;
* aiokafka's per-attempt connection errors (and the "node not ready" errors
  that the back-off answers with) are demoted to DEBUG.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka.client import AIOKafkaClient, ConnectionGroup

from processor import metrics

FIRST_BACKOFF_S = 0.1
MAX_BACKOFF_S = 5.0
REPEAT_LOG_S = 30.0

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class _Outage:
    since: float
    next_try: float
    backoff_s: float
    attempts: int
    logged_at: float


_outages: dict[Any, _Outage] = {}
_original_get_conn = AIOKafkaClient._get_conn


def _failed(node: Any, now: float) -> None:
    outage = _outages.get(node)
    if outage is None:
        _outages[node] = _Outage(now, now + FIRST_BACKOFF_S, FIRST_BACKOFF_S, 1, now)
        metrics.KAFKA_CONNECTION_FAILURES.inc()
        log.warning("kafka_connection_lost", node=str(node))
        return
    outage.attempts += 1
    outage.backoff_s = min(outage.backoff_s * 2, MAX_BACKOFF_S)
    outage.next_try = now + outage.backoff_s
    metrics.KAFKA_CONNECTION_FAILURES.inc()
    if now - outage.logged_at >= REPEAT_LOG_S:
        outage.logged_at = now
        log.warning(
            "kafka_still_unreachable",
            node=str(node),
            attempts=outage.attempts,
            down_s=round(now - outage.since, 1),
        )


def _restored(node: Any, now: float) -> None:
    outage = _outages.pop(node, None)
    if outage is not None:
        log.info(
            "kafka_connection_restored",
            node=str(node),
            attempts=outage.attempts,
            down_s=round(now - outage.since, 1),
        )


async def _get_conn(
    self: AIOKafkaClient,
    node_id: Any,
    *,
    group: Any = ConnectionGroup.DEFAULT,
    no_hint: bool = False,
) -> Any:
    existing = self._conns.get((node_id, group))
    if existing is not None and existing.connected():
        return existing
    key = _node_key(self, node_id)
    outage = _outages.get(key)
    if outage is not None and time.monotonic() < outage.next_try:
        return None  # backing off: no connect, no log line
    conn = await _original_get_conn(self, node_id, group=group, no_hint=no_hint)
    now = time.monotonic()
    if conn is None:
        _failed(key, now)
    elif outage is not None:
        _restored(key, now)  # a new connection, made after failures
    return conn


def _node_key(client: AIOKafkaClient, node_id: Any) -> Any:
    """The node's address: node ids repeat across clusters (every single-node cluster
    has a node 1), so one cluster's outage must not hold back another's clients."""
    broker = client.cluster.broker_metadata(node_id)
    if broker is None:
        return node_id
    return f"{broker.host}:{broker.port}"


class _DemoteConnectErrors(logging.Filter):
    """Drops aiokafka's per-attempt connection errors unless aiokafka logs at DEBUG."""

    _NOISE = (
        "Unable connect",
        "Unable to update metadata",
        "Unable to request metadata",
        "Marking the coordinator dead",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith(self._NOISE) or "NodeNotReadyError" in record.getMessage():
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def install() -> None:
    """Wrap aiokafka's connection step once per process (idempotent)."""
    if AIOKafkaClient._get_conn is not _get_conn:
        AIOKafkaClient._get_conn = _get_conn
        noise = _DemoteConnectErrors()
        for name in (
            "aiokafka",
            "aiokafka.consumer.group_coordinator",
            "aiokafka.consumer.fetcher",
            "aiokafka.producer.sender",
        ):
            logging.getLogger(name).addFilter(noise)
