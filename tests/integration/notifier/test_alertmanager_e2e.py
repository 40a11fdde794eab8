"""The notifier against a real Alertmanager, a real broker and a recording webhook.

ingress -> Kafka -> worker -> recho.call-alerts.v1 -> notifier -> Alertmanager:
an errored webhook becomes an active Alertmanager alert; redelivered alerts
do not add alerts; committed progress means a restart neither loses nor
re-sends deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from processor.metrics import NOTIFIER_REGISTRY
from processor.notifier.command import run_notifier
from processor.settings import Settings
from tests.factories import PROJECT_ID, make_envelope, make_error, to_bytes
from tests.integration.conftest import ReadTopic
from tests.integration.ingress.conftest import StartIngress, json_headers
from tests.integration.notifier.conftest import (
    FAST,
    am_alerts,
    fresh_alert,
    publish_alerts,
    running_notifier,
    wait_for,
)
from tests.integration.worker.conftest import running_worker
from tests.support.servers import RecordingServer, free_port


def metric(name: str, **labels: str) -> float:
    return NOTIFIER_REGISTRY.get_sample_value(name, labels) or 0.0


@contextlib.asynccontextmanager
async def notifier_command(settings: Settings) -> AsyncIterator[None]:
    """``processor notifier``'s coroutine (signals, ops endpoint) running until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_notifier(settings, stop, FAST))
    try:
        yield
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 60) == 0


def alert_ids(server: RecordingServer) -> list[str]:
    """Alert ids of every webhook message received, in order."""
    return [a["alertId"] for body in server.bodies() for a in body["alerts"]]


class TestAlertmanagerEndToEnd:
    async def test_errored_webhook_becomes_an_active_alert(
        self,
        worker_settings: Settings,
        alertmanager: str,
        start_ingress: StartIngress,
        http: httpx.AsyncClient,
        read_topic: ReadTopic,
    ) -> None:
        """An OUTBOUND_CALL_ERROR posted to the ingress shows up in Alertmanager's API as an
        active RechoCallErrored alert with the scheme's labels and the call in annotations."""
        s = worker_settings.model_copy(
            update={
                "notifier_alertmanager_url": alertmanager,
                "notifier_group_window_s": 0.0,
                "notifier_metrics_port": 0,
            }
        )
        base = await start_ingress(s)
        call_id = f"e2e-{uuid.uuid4().hex[:10]}"
        body = to_bytes(
            make_envelope(
                event_type="OUTBOUND_CALL_ERROR",
                call_id=call_id,
                call_status="CALLING",
                errors=[make_error()],
            )
        )

        async def active() -> dict[str, Any] | None:
            for alert in await am_alerts(alertmanager, project_id=PROJECT_ID):
                found = alert["annotations"].get("call_id") == call_id
                if found and alert["status"]["state"] == "active":
                    return alert
            return None

        async with running_worker(s), notifier_command(s):
            response = await http.post(
                f"{base}{s.ingress_path}", content=body, headers=json_headers()
            )
            assert response.status_code == 202
            alert = await wait_for(active, 60, 0.2)

        (record,) = [orjson.loads(r.value) for r in await read_topic(s.topic_call_alerts, 1)]
        assert alert["labels"] == {
            "alertname": "RechoCallErrored",
            "severity": "critical",
            "project_id": PROJECT_ID,
            "error_code": "NETWORK_ERROR",
            "event_type": "OUTBOUND_CALL_ERROR",
            "direction": "OUTBOUND",
            "alert_id": record["alertId"],
        }
        assert alert["annotations"]["summary"] == record["summary"]
        assert call_id in alert["annotations"]["summary"]
        assert alert["annotations"]["error_codes"] == "NETWORK_ERROR"
        assert alert["annotations"]["call_status"] == "CALLING"
        assert alert["receivers"]  # routed by deploy/alertmanager/alertmanager.yml
        assert {r["name"] for r in alert["receivers"]} == {"recho-critical"}

    async def test_redelivered_alert_stays_one_alert(
        self, settings: Settings, alertmanager: str
    ) -> None:
        """The same alert read again by a second notifier (a new group, so from the start)
        is posted again, and Alertmanager still holds exactly one alert for its alert_id."""
        record = fresh_alert("SIP_503")
        await publish_alerts(settings, [record])
        first = settings.model_copy(update={"notifier_alertmanager_url": alertmanager})

        async def posted() -> list[dict[str, Any]]:
            return await am_alerts(alertmanager, alert_id=record["alertId"])

        async with running_notifier(first):
            (before,) = await wait_for(posted)
        delivered = metric(
            "recho_notifier_deliveries_total", sink="alertmanager", result="delivered"
        )
        second = first.model_copy(update={"notifier_group_id": f"{first.notifier_group_id}-2"})

        async def reposted() -> bool:
            now = metric("recho_notifier_deliveries_total", sink="alertmanager", result="delivered")
            return now >= delivered + 1

        async with running_notifier(second):
            await wait_for(reposted)
        after = await am_alerts(alertmanager, alert_id=record["alertId"])
        assert len(after) == 1
        assert after[0]["fingerprint"] == before["fingerprint"]
        assert after[0]["startsAt"] == before["startsAt"]


class TestCommittedProgress:
    async def test_restart_resends_nothing(self, settings: Settings) -> None:
        """After the notifier delivered and stopped, a restart with the same group sends
        nothing again, and then delivers only what is new."""
        async with RecordingServer() as sink:
            s = settings.model_copy(
                update={"notifier_webhook_url": sink.url, "notifier_group_window_s": 0.0}
            )
            records = [fresh_alert(code) for code in ("NETWORK_ERROR", "SIP_486", "TIMEOUT")]
            await publish_alerts(s, records)

            async def all_sent() -> bool:
                return len(alert_ids(sink)) >= 3

            async with running_notifier(s):
                await wait_for(all_sent)
            assert sorted(alert_ids(sink)) == sorted(r["alertId"] for r in records)
            requests = len(sink.received)

            newer = fresh_alert("NETWORK_ERROR")
            async with running_notifier(s):
                await asyncio.sleep(2)  # several fetches: nothing may come again
                assert len(sink.received) == requests
                await publish_alerts(s, [newer])

                async def newer_sent() -> bool:
                    return len(sink.received) > requests

                await wait_for(newer_sent)
                await asyncio.sleep(0.5)
            assert alert_ids(sink)[3:] == [newer["alertId"]]
            assert sink.received[-1].headers["idempotency-key"] == newer["alertId"]

    async def test_open_groups_are_sent_at_shutdown(self, settings: Settings) -> None:
        """A burst of one error code becomes one grouped message; stopping inside the group
        window sends it before the offsets are committed, so a restart re-sends nothing."""
        async with RecordingServer() as sink:
            s = settings.model_copy(
                update={"notifier_webhook_url": sink.url, "notifier_group_window_s": 300.0}
            )
            records = [fresh_alert("CARRIER_REJECTED") for _ in range(4)]
            consumed = metric("recho_notifier_alerts_consumed_total")

            async def read_all() -> bool:
                return metric("recho_notifier_alerts_consumed_total") >= consumed + 4

            async with running_notifier(s):
                await publish_alerts(s, records)
                await wait_for(read_all)
                assert sink.received == []  # the window is still open
            (message,) = sink.received
            assert message.body["count"] == 4
            assert message.headers["idempotency-key"].startswith("group-")
            assert sorted(alert_ids(sink)) == sorted(r["alertId"] for r in records)

            async with running_notifier(s):
                await asyncio.sleep(2)
            assert len(sink.received) == 1

    async def test_undelivered_alert_comes_back_after_restart(self, settings: Settings) -> None:
        """A notifier stopped while its sink keeps failing commits nothing past the alert;
        the next start delivers it (at-least-once)."""
        async with RecordingServer() as sink:
            sink.fail_first = 10**9
            s = settings.model_copy(
                update={"notifier_webhook_url": sink.url, "notifier_group_window_s": 0.0}
            )
            record = fresh_alert("NETWORK_ERROR")
            await publish_alerts(s, [record])

            async def retrying() -> bool:
                return len(sink.received) >= 2

            async with running_notifier(s):
                await wait_for(retrying)
            sink.fail_first = len(sink.received)  # the sink recovers

            async def delivered() -> bool:
                return len(sink.received) > sink.fail_first

            async with running_notifier(s):
                await wait_for(delivered)
            assert sink.received[-1].body["alerts"][0]["alertId"] == record["alertId"]


class TestProcess:
    async def test_notifier_process_serves_ops_and_stops_on_sigterm(
        self, settings: Settings, http: httpx.AsyncClient
    ) -> None:
        """The notifier as its own process (uvloop, signals): it delivers, answers /readyz
        and /metrics on its port, and exits 0 on SIGTERM."""
        async with RecordingServer() as sink:
            port = free_port()
            env = {
                **os.environ,
                "PROCESSOR_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
                "PROCESSOR_TOPIC_CALL_ALERTS": settings.topic_call_alerts,
                "PROCESSOR_NOTIFIER_GROUP_ID": settings.notifier_group_id,
                "PROCESSOR_NOTIFIER_WEBHOOK_URL": sink.url,
                "PROCESSOR_NOTIFIER_GROUP_WINDOW_S": "0",
                "PROCESSOR_NOTIFIER_METRICS_PORT": str(port),
            }
            code = (
                "import sys; from processor.notifier import command; "
                "from processor.settings import Settings; sys.exit(command(Settings()))"
            )
            process = subprocess.Popen([sys.executable, "-c", code], env=env)
            try:
                ops = f"http://127.0.0.1:{port}"

                async def ready() -> bool:
                    with contextlib.suppress(httpx.TransportError):
                        return (await http.get(f"{ops}/readyz")).status_code == 200
                    return False

                await wait_for(ready, 60, 0.2)
                record = fresh_alert("NETWORK_ERROR")
                await publish_alerts(settings, [record])

                async def sent() -> bool:
                    return alert_ids(sink) == [record["alertId"]]

                await wait_for(sent)

                async def counted() -> bool:
                    # counted once the sink's answer is back, a moment after it received
                    text = (await http.get(f"{ops}/metrics")).text
                    return (
                        'recho_notifier_deliveries_total{result="delivered",sink="webhook"}' in text
                    )

                await wait_for(counted)
                process.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(process.wait, 30) == 0
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
