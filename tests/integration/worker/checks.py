"""Checks shared by the exactly-once and fault tests: traffic, and what read_committed must show."""

from __future__ import annotations

import os
import random
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from processor.calls import CallState, handle
from processor.settings import Settings
from processor.worker.ingest import ingest
from tests.factories import make_envelope, make_error, to_bytes
from tests.integration.worker.conftest import decode
from tests.support.servers import free_port

OUTBOUND = ["PENDING", "REQUESTED", "CALLING", "CLOSING", "COMPLETED"]


def traffic(prefix: str, calls: int, rng: random.Random) -> list[bytes]:
    """Interleaved full lifecycles of ``calls`` calls, ~10% with an errored event."""
    pending = {f"{prefix}-{i}": list(OUTBOUND) for i in range(calls)}
    bodies: list[bytes] = []
    while pending:
        call_id = rng.choice(list(pending))
        status = pending[call_id].pop(0)
        errors = [make_error()] if status == "CALLING" and rng.random() < 0.1 else []
        payload = make_envelope(
            event_type=f"OUTBOUND_CALL_{status}", call_id=call_id, errors=errors
        )
        payload["body"]["text"] = f"{call_id} {status} {len(bodies)}"  # unique bodies
        bodies.append(to_bytes(payload))
        if not pending[call_id]:
            del pending[call_id]
    return bodies


def assert_exactly_once(inputs: list[Any], events: list[dict[str, Any]]) -> None:
    """Every input record appears exactly once among the committed call events."""
    sources = [(e["source"]["partition"], e["source"]["offset"]) for e in events]
    assert len(sources) == len(set(sources)), "an input produced two committed events"
    assert set(sources) == {(r.partition, r.offset) for r in inputs}


def expected_states(inputs: list[Any]) -> dict[str, CallState]:
    """Replay the pure state machine over the inputs in partition order."""
    states: dict[str, CallState] = {}
    for record in sorted(inputs, key=lambda r: (r.partition, r.offset)):
        event = ingest(record).event
        states[event.call_id], _ = handle(states.get(event.call_id), event)
    return states


def latest_by_key(records: list[Any]) -> dict[str, dict[str, Any]]:
    """Latest value per key, in offset order (what compaction keeps)."""
    latest: dict[str, dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        latest[record.key.decode()] = decode([record])[0]
    return latest


async def committed(admin: AIOKafkaAdminClient, settings: Settings) -> int:
    """Input records the worker group has committed so far."""
    offsets = await admin.list_consumer_group_offsets(settings.worker_group_id)
    return sum(m.offset for tp, m in offsets.items() if tp.topic == settings.topic_webhooks)


def worker_env(settings: Settings) -> dict[str, str]:
    """Environment for a ``processor worker`` subprocess with these settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump(mode="json").items():
        if name.startswith(("topic_", "worker_", "kafka_")) and value is not None:
            env[f"PROCESSOR_{name.upper()}"] = str(value)
    env["PROCESSOR_WORKER_METRICS_PORT"] = str(settings.worker_metrics_port or free_port())
    env["PROCESSOR_LOG_JSON"] = "true"
    return env
