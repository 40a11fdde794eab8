"""The worker over the real broker: lifecycles, every event type, alerts, DLQ."""

from __future__ import annotations

import asyncio

from processor.contract import EventType
from processor.settings import Settings
from tests.factories import make_envelope, make_error, to_bytes
from tests.integration.conftest import ReadTopic
from tests.integration.worker.conftest import decode, produce, running_worker

OUTBOUND = ["PENDING", "REQUESTED", "CALLING", "CLOSING", "COMPLETED"]
INBOUND = ["CONNECTING", "CALLING", "CLOSING", "COMPLETED"]


def _lifecycle(prefix: str, call_id: str, statuses: list[str]) -> list[bytes]:
    return [
        to_bytes(make_envelope(event_type=f"{prefix}_CALL_{s}", call_id=call_id)) for s in statuses
    ]


class TestLifecycles:
    async def test_outbound_and_inbound_calls_complete(
        self, worker_settings: Settings, read_topic: ReadTopic
    ) -> None:
        """A full outbound and a full inbound call: every event is emitted with verdict
        expected in order, the latest state is COMPLETED, and no alert is raised."""
        s = worker_settings
        bodies = _lifecycle("OUTBOUND", "out-1", OUTBOUND) + _lifecycle("INBOUND", "in-1", INBOUND)
        await produce(s, bodies)
        async with running_worker(s):
            events = decode(await read_topic(s.topic_call_events, 9))
        assert len(events) == 9
        by_call: dict[str, list[dict[str, object]]] = {}
        for event in events:
            by_call.setdefault(str(event["callId"]), []).append(event)
        assert [e["status"] for e in by_call["out-1"]] == OUTBOUND
        assert [e["status"] for e in by_call["in-1"]] == INBOUND
        assert {e["verdict"] for e in events} == {"EXPECTED"}
        assert by_call["out-1"][0]["previousStatus"] == "NEW"
        states = decode(await read_topic(s.topic_call_state, 2, timeout_s=10))
        latest = {st["callId"]: st for st in states}
        assert latest["out-1"]["outcome"] == "COMPLETED"
        assert latest["in-1"]["outcome"] == "COMPLETED"
        assert latest["out-1"]["finished"] is True
        assert await read_topic(s.topic_call_alerts, 1, timeout_s=2) == []

    async def test_every_event_type_flows_through(
        self, worker_settings: Settings, read_topic: ReadTopic
    ) -> None:
        """Each of the 18 event types (one call each) and an unknown one produce one
        normalized event; the unknown one is flagged, not dropped."""
        s = worker_settings
        types = [t.value for t in EventType if t is not EventType.UNKNOWN] + ["OUTBOUND_CALL_NEW"]
        bodies = [to_bytes(make_envelope(event_type=t, call_id=f"t-{t}")) for t in types]
        await produce(s, bodies)
        async with running_worker(s):
            events = decode(await read_topic(s.topic_call_events, len(types)))
        assert sorted(e["eventTypeRaw"] for e in events) == sorted(types)
        unknown = next(e for e in events if e["eventTypeRaw"] == "OUTBOUND_CALL_NEW")
        assert unknown["eventType"] == "UNKNOWN"
        assert unknown["verdict"] == "UNKNOWN_TYPE"
        assert "unknown_event_type" in unknown["flags"]


class TestAlerts:
    async def test_error_event_gives_exactly_one_alert_even_when_delivered_twice(
        self, worker_settings: Settings, read_topic: ReadTopic
    ) -> None:
        """An OUTBOUND_CALL_ERROR with errors[] (status CALLING) delivered twice raises one
        alert with the code and phase; an ERROR status without errors raises none."""
        s = worker_settings
        errored = to_bytes(
            make_envelope(
                event_type="OUTBOUND_CALL_ERROR",
                call_id="err-1",
                call_status="CALLING",
                errors=[make_error(code="NETWORK_ERROR", phase="CONNECTING")],
            )
        )
        quiet = to_bytes(make_envelope(event_type="INBOUND_CALL_ERROR", call_id="err-2", errors=[]))
        await produce(s, [errored, errored, quiet])
        async with running_worker(s):
            events = decode(await read_topic(s.topic_call_events, 3))
            await asyncio.sleep(0.5)
            alerts = decode(await read_topic(s.topic_call_alerts, 2, timeout_s=3))
        verdicts = [e["verdict"] for e in events if e["callId"] == "err-1"]
        assert len(verdicts) == 2
        assert verdicts[1] == "DUPLICATE"
        assert len(alerts) == 1
        [alert] = alerts
        assert alert["callId"] == "err-1"
        assert alert["kind"] == "ERRORED_EVENT"
        assert alert["severity"] == "critical"
        assert alert["errorCodes"] == ["NETWORK_ERROR"]
        assert alert["errors"][0]["phase"] == "CONNECTING"
        assert alert["callStatus"] == "CALLING"

    async def test_stalled_call_alert_fires_once_across_restarts(
        self, worker_settings: Settings, read_topic: ReadTopic
    ) -> None:
        """A call silent past the stall time gets one CALL_STALLED alert, and a restarted
        worker (state from the changelog) does not raise it again."""
        s = worker_settings.model_copy(update={"worker_stall_after_s": 1.0})
        await produce(s, _lifecycle("OUTBOUND", "stall-1", ["PENDING", "REQUESTED"]))
        async with running_worker(s):
            alerts = decode(await read_topic(s.topic_call_alerts, 1, timeout_s=15))
        assert [a["kind"] for a in alerts] == ["CALL_STALLED"]
        async with running_worker(s):
            await asyncio.sleep(2.0)
        alerts = decode(await read_topic(s.topic_call_alerts, 2, timeout_s=3))
        assert len(alerts) == 1


class TestDeadLetters:
    async def test_poison_record_goes_to_dlq_and_the_next_is_processed(
        self, worker_settings: Settings, read_topic: ReadTopic
    ) -> None:
        """A non-JSON record and one without callId land in the DLQ with their reason and
        exact bytes; the valid record after them is processed."""
        s = worker_settings
        good = to_bytes(make_envelope(call_id="after-poison"))
        await produce(
            s,
            [b"\xff{not json", to_bytes({"projectId": "p", "body": {"data": {}}}), good],
            key_of=lambda body: b"poison",
        )
        async with running_worker(s):
            events = decode(await read_topic(s.topic_call_events, 1))
            dead = decode(await read_topic(s.topic_dlq, 2))
        assert [e["callId"] for e in events] == ["after-poison"]
        assert sorted(d["reason"] for d in dead) == ["missing_call_id", "not_json"]
        import base64

        values = {base64.b64decode(d["valueBase64"]) for d in dead}
        assert b"\xff{not json" in values

    async def test_an_event_with_unreadable_errors_is_dead_lettered_and_alerted(
        self, worker_settings: Settings, read_topic: ReadTopic
    ) -> None:
        """An event whose body.errors is off-schema ("boom", ["boom"]) claims errors:
        it lands in the DLQ *and* raises one ERRORS_UNREADABLE alert naming the call,
        while an off-schema event with errors [] raises none."""
        s = worker_settings
        bodies = []
        for call_id, errors in (("u-1", "boom"), ("u-2", ["boom"]), ("u-3", [])):
            payload = make_envelope(event_type="OUTBOUND_CALL_ERROR", call_id=call_id)
            payload["body"]["errors"] = errors
            if call_id == "u-3":
                payload["body"]["data"]["callStatus"] = 42  # off-schema elsewhere
            bodies.append(to_bytes(payload))
        await produce(s, bodies)
        async with running_worker(s):
            dead = decode(await read_topic(s.topic_dlq, 3))
            alerts = decode(await read_topic(s.topic_call_alerts, 2))
        assert sorted(d["key"] for d in dead) == ["u-1", "u-2", "u-3"]
        assert {a["callId"]: a["kind"] for a in alerts} == {
            "u-1": "ERRORS_UNREADABLE",
            "u-2": "ERRORS_UNREADABLE",
        }
        assert all(a["severity"] == "critical" for a in alerts)  # *_CALL_ERROR events
        assert all(a["errorCodes"] == ["UNREADABLE_ERRORS"] for a in alerts)
        assert "boom" in alerts[0]["errors"][0]["message"]
        extra = decode(await read_topic(s.topic_call_alerts, 3, timeout_s=2))
        assert len(extra) == 2, "an event with errors [] must raise no alert"
