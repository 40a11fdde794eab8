"""The explorer over real worker outputs, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from processor.settings import Settings
from tests.factories import make_envelope, make_error, to_bytes
from tests.integration.conftest import ReadTopic
from tests.integration.explorer.conftest import (
    ExplorerSettings,
    eventually,
    explorer_client,
    get_json,
)
from tests.integration.worker.conftest import decode, produce, running_worker

OUTBOUND = ["PENDING", "REQUESTED", "CALLING", "CLOSING", "COMPLETED"]
NETWORK_ERROR = make_error(
    code="NETWORK_ERROR",
    phase="CONNECTING",
    message="Upstream socket reset",
    where="OutboundCallAdapter.connect",
)


def _event(call_id: str, status: str, errors: list[dict[str, Any]] | None = None) -> bytes:
    return to_bytes(
        make_envelope(event_type=f"OUTBOUND_CALL_{status}", call_id=call_id, errors=errors)
    )


def scenario() -> list[bytes]:
    """A clean call, an errored call, a call with a duplicate delivery, an odd step."""
    bodies = [_event("ok-1", s) for s in OUTBOUND]
    bodies += [
        _event("err-1", "PENDING"),
        _event("err-1", "REQUESTED"),
        _event("err-1", "ERROR", [NETWORK_ERROR]),
    ]
    dup = [_event("dup-1", s) for s in OUTBOUND]
    bodies += [*dup[:2], dup[1], *dup[2:]]  # REQUESTED delivered twice
    bodies += [_event("odd-1", s) for s in ("PENDING", "CALLING", "COMPLETED", "CALLING")]
    return bodies


async def _materialised(client: httpx.AsyncClient, call_id: str, events: int) -> bool:
    status, body = await get_json(client, f"/calls/{call_id}")
    return status == 200 and body["stateKnown"] and len(body["timeline"]) == events


async def _run_pipeline(settings: Settings, bodies: list[bytes], read_topic: ReadTopic) -> None:
    async with running_worker(settings):
        await produce(settings, bodies)
        await read_topic(settings.topic_call_events, len(bodies), timeout_s=60)


class TestTimeline:
    async def test_calls_appear_with_the_timeline_the_worker_emitted(
        self, explorer_settings: ExplorerSettings, read_topic: ReadTopic
    ) -> None:
        """Every call the worker processed can be looked up: its timeline lists each event
        in order with the verdict the worker gave it, the errored event carries its code,
        message, phase and where with the alert it raised, a duplicate delivery appears
        once marked DUPLICATE, and the outcome and attempts match the call state."""
        s = explorer_settings()
        bodies = scenario()
        await _run_pipeline(s, bodies, read_topic)
        emitted = decode(await read_topic(s.topic_call_events, len(bodies)))
        async with explorer_client(s) as client:
            for call_id in ("ok-1", "err-1", "dup-1", "odd-1"):
                expected = [e for e in emitted if e["callId"] == call_id]
                count = len(expected)
                await eventually(
                    lambda c=call_id, n=count: _materialised(client, c, n),
                    what=f"{call_id} materialised",
                )
                _, call = await get_json(client, f"/calls/{call_id}")
                steps = [(e["eventType"], e["verdict"], e["status"]) for e in call["timeline"]]
                assert steps == [(e["eventType"], e["verdict"], e["status"]) for e in expected]
            _, ok = await get_json(client, "/calls/ok-1")
            assert ok["outcome"] == "COMPLETED"
            assert ok["attempts"] == 1
            assert ok["durationMs"] is not None
            assert [e["verdict"] for e in ok["timeline"]] == ["EXPECTED"] * 5
            _, dup = await get_json(client, "/calls/dup-1")
            verdicts = [e["verdict"] for e in dup["timeline"]]
            assert verdicts.count("DUPLICATE") == 1
            assert len(verdicts) == 6
            _, err = await get_json(client, "/calls/err-1")
            errored = [e for e in err["timeline"] if e["hasErrors"]]
            assert len(errored) == 1
            assert errored[0]["errors"][0] == {
                "code": "NETWORK_ERROR",
                "message": "Upstream socket reset",
                "phase": "CONNECTING",
                "where": "OutboundCallAdapter.connect",
                "timestamp": NETWORK_ERROR["timestamp"],
            }
            await eventually(
                lambda: _has_alert(client, "err-1"), what="the alert of err-1 materialised"
            )
            _, err = await get_json(client, "/calls/err-1")
            errored = [e for e in err["timeline"] if e["hasErrors"]]
            assert [a["kind"] for a in errored[0]["alerts"]] == ["ERRORED_EVENT"]
            assert err["alerts"][0]["eventRef"] == errored[0]["eventRef"]
            _, odd = await get_json(client, "/calls/odd-1")
            marked = {e["verdict"] for e in odd["timeline"]} - {"EXPECTED"}
            assert marked, "the odd call's unexpected steps are marked"

    async def test_list_filters_pages_and_stats(
        self, explorer_settings: ExplorerSettings, read_topic: ReadTopic
    ) -> None:
        """The call list filters by outcome, errors, error code and verdict, pages through
        every call exactly once with the cursor, and /stats counts outcomes and codes;
        a bad parameter is a 400 naming it and an unknown call a 404."""
        s = explorer_settings()
        bodies = scenario()
        await _run_pipeline(s, bodies, read_topic)
        async with explorer_client(s) as client:

            async def all_there() -> bool:
                _, page = await get_json(client, "/calls?limit=10")
                return len(page["calls"]) == 4

            await eventually(all_there, what="4 calls listed")
            await eventually(lambda: _has_alert(client, "err-1"), what="alert stored")

            async def ids(query: str) -> set[str]:
                status, page = await get_json(client, f"/calls?{query}")
                assert status == 200, page
                return {c["callId"] for c in page["calls"]}

            assert await ids("hasErrors=true") == {"err-1"}
            assert await ids("errorCode=NETWORK_ERROR") == {"err-1"}
            duplicated = await ids("verdict=DUPLICATE")
            assert "dup-1" in duplicated
            assert "ok-1" not in duplicated
            assert "ok-1" in await ids("outcome=COMPLETED")
            assert "err-1" not in await ids("outcome=COMPLETED")
            assert await ids("projectId=nobody") == set()
            seen: list[str] = []
            cursor = ""
            while True:
                _, page = await get_json(client, f"/calls?limit=1{cursor}")
                seen += [c["callId"] for c in page["calls"]]
                if not page["nextCursor"]:
                    break
                cursor = f"&cursor={page['nextCursor']}"
            assert sorted(seen) == ["dup-1", "err-1", "odd-1", "ok-1"]
            status, stats = await get_json(client, "/stats?since=0")
            assert status == 200
            assert stats["calls"] == 4
            assert stats["byErrorCode"] == {"NETWORK_ERROR": 1}
            assert stats["byOutcome"]["COMPLETED"] >= 2
            assert stats["timeToAnswer"]["answered"] >= 1
            status, problem = await get_json(client, "/calls?outcome=SOMETIMES")
            assert (status, problem["field"]) == (400, "outcome")
            status, problem = await get_json(client, "/calls?limit=100000")
            assert (status, problem["field"]) == (400, "limit")
            status, problem = await get_json(client, "/stats?since=yesterday")
            assert (status, problem["field"]) == (400, "since")
            status, problem = await get_json(client, "/calls/never-seen")
            assert (status, problem["error"]) == (404, "not_found")


async def _has_alert(client: httpx.AsyncClient, call_id: str) -> bool:
    _, call = await get_json(client, f"/calls/{call_id}")
    return bool(call.get("alerts"))


class TestTombstone:
    async def test_a_tombstone_on_call_state_removes_the_call(
        self, explorer_settings: ExplorerSettings, read_topic: ReadTopic
    ) -> None:
        """When the worker expires a call (a tombstone on recho.call-state.v1), the
        explorer forgets it: its page is a 404 and it leaves the list; other calls stay."""
        s = explorer_settings()
        bodies = scenario()
        await _run_pipeline(s, bodies, read_topic)
        async with explorer_client(s) as client:
            await eventually(lambda: _materialised(client, "ok-1", 5), what="ok-1 stored")
            producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap_servers)
            await producer.start()
            try:
                await producer.send_and_wait(s.topic_call_state, None, key=b"ok-1")
            finally:
                await producer.stop()

            async def gone() -> bool:
                status, _ = await get_json(client, "/calls/ok-1")
                return status == 404

            await eventually(gone, what="ok-1 deleted")
            _, page = await get_json(client, "/calls")
            assert "ok-1" not in {c["callId"] for c in page["calls"]}
            status, _ = await get_json(client, "/calls/err-1")
            assert status == 200
