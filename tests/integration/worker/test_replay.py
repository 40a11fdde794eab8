"""Dead letters can be re-driven after a fix, selected by callId."""

from __future__ import annotations

from typing import Any

import pytest

from processor.calls import CallEvent, CallState
from processor.replay import HEADER_REPLAYED_FROM, ReplayFilter, replay_dlq
from processor.settings import Settings
from processor.worker import partition as partition_module
from tests.factories import make_envelope, to_bytes
from tests.integration.conftest import ReadTopic
from tests.integration.worker.conftest import decode, produce, running_worker


class TestReplayFromDlq:
    async def test_processing_failure_is_replayed_after_the_fix(
        self, worker_settings: Settings, read_topic: ReadTopic, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Events that failed in processing (a bug) land in the DLQ; after the fix,
        replaying one callId re-drives exactly its original bytes and headers, and the
        worker then processes it; the other dead letter stays where it is."""
        s = worker_settings
        real_handle = partition_module.handle

        def buggy(state: CallState | None, event: CallEvent) -> Any:
            if event.call_id.startswith("bug-"):
                raise RuntimeError("simulated bug")
            return real_handle(state, event)

        monkeypatch.setattr(partition_module, "handle", buggy)
        first = to_bytes(make_envelope(call_id="bug-1"))
        second = to_bytes(make_envelope(call_id="bug-2"))
        await produce(s, [first, second])
        async with running_worker(s):
            dead = decode(await read_topic(s.topic_dlq, 2))
        assert sorted(d["reason"] for d in dead) == ["processing_error", "processing_error"]

        monkeypatch.setattr(partition_module, "handle", real_handle)  # the fix
        report = await replay_dlq(s, ReplayFilter(call_id="bug-1"))
        assert (report.scanned, report.replayed) == (2, 1)
        inputs = await read_topic(s.topic_webhooks, 3)
        replayed = [r for r in inputs if HEADER_REPLAYED_FROM in dict(r.headers)]
        assert len(replayed) == 1
        assert replayed[0].value == first
        assert replayed[0].key == b"bug-1"
        assert "recho-received-at-ms" in dict(replayed[0].headers)
        async with running_worker(s):
            events = decode(await read_topic(s.topic_call_events, 1))
        assert [e["callId"] for e in events] == ["bug-1"]
