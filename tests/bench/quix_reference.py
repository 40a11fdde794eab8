"""The Quix Streams reference for ``make bench-worker``: the same job, written the Quix way.

Run in its own environment (``.venv-bench``; Quix Streams and confluent-kafka
are not dependencies of the project) as::

    python tests/bench/quix_reference.py BOOTSTRAP INPUT EVENTS ALERTS GROUP STATE_DIR COMMIT_S

An honest equivalent of the worker's core: exactly-once processing, state per
callId (status, events seen, body hashes seen, in Quix's default RocksDB
store), one normalized event record per input and one alert per errored one,
both keyed by callId. It does less than the worker (no changelog of our own
beyond Quix's, no compacted state topic, no DLQ, no metrics), which favours it.
``COMMIT_S`` is Quix's commit interval (its default is 5 s).
"""

from __future__ import annotations

import hashlib
import sys
from typing import Any

import orjson
from quixstreams import Application, State


def main() -> None:
    bootstrap, source, events, alerts, group, state_dir, commit_s = sys.argv[1:8]
    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        processing_guarantee="exactly-once",
        commit_interval=float(commit_s),
        state_dir=state_dir,
        loglevel="WARNING",
        auto_create_topics=True,
        use_changelog_topics=True,
    )
    inputs = app.topic(source, key_deserializer="bytes", value_deserializer="bytes")
    events_topic = app.topic(events, key_serializer="bytes", value_serializer="bytes")
    alerts_topic = app.topic(alerts, key_serializer="bytes", value_serializer="bytes")

    def handle(value: bytes, key: bytes, timestamp: int, headers: Any, state: State) -> dict:
        envelope = orjson.loads(value)
        body = envelope["body"]
        status = body["data"].get("callStatus")
        digest = hashlib.sha256(value).hexdigest()
        seen: list[str] = state.get("seen", [])
        duplicate = digest in seen
        previous = state.get("status", "NEW")
        if not duplicate:
            state.set("status", status)
            state.set("events", state.get("events", 0) + 1)
            state.set("seen", [*seen[-7:], digest])
        errors = body.get("errors") or []
        return {
            "callId": key.decode(),
            "eventType": envelope["eventType"],
            "previousStatus": previous,
            "status": status,
            "verdict": "DUPLICATE" if duplicate else "EXPECTED",
            "hasErrors": bool(errors),
            "errorCodes": [e.get("code") for e in errors],
            "atMs": timestamp,
            "alert": bool(errors) and not duplicate,
        }

    sdf = app.dataframe(inputs)
    sdf = sdf.apply(handle, stateful=True, metadata=True)
    alerted = sdf[sdf["alert"]]
    # The message key (the callId) carries over to both outputs.
    alerted.apply(lambda v: orjson.dumps({"kind": "ERRORED_EVENT", **v})).to_topic(alerts_topic)
    sdf.apply(orjson.dumps).to_topic(events_topic)
    app.run()


if __name__ == "__main__":
    main()
