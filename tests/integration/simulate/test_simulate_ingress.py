"""The simulator against a real ingress and broker: what it sends lands in Kafka, in call order."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from processor.contract.headers import HEADER_AUTH_MODE
from processor.settings import AuthMode, Settings
from processor.simulate import DeliveryResult, SentEvent, ensure_key_pair, simulate
from tests.integration.conftest import ReadTopic
from tests.integration.ingress.conftest import StartIngress

CALLS = 50


class TestSimulateAgainstIngress:
    """simulate() -> ingress (RSA-SHA256) -> the webhooks topic."""

    async def test_signed_traffic_lands_in_kafka_in_call_order(
        self,
        settings: Settings,
        start_ingress: StartIngress,
        read_topic: ReadTopic,
        tmp_path: Path,
    ) -> None:
        """50 simulated calls, signed with a generated key the ingress is told to trust:
        every event is accepted, is in the webhooks topic byte for byte under its callId,
        and each call's events are in the order the simulator sent them."""
        keys = tmp_path / "keys"
        simulator = Settings.model_validate(
            {
                **settings.model_dump(),
                "auth_mode": AuthMode.SIGNATURE_RSA_SHA256,
                "simulate_key_dir": keys,
                "simulate_calls": CALLS,
                "simulate_concurrent_calls": 25,
                "simulate_rate_per_s": 2000,
                "simulate_time_scale": 0.002,
                "simulate_seed": 7,
            }
        )
        ensure_key_pair(simulator)
        ingress = Settings.model_validate({**simulator.model_dump(), "auth_public_keys_dir": keys})
        base_url = await start_ingress(ingress)
        target = Settings.model_validate(
            {**simulator.model_dump(), "simulate_target_url": base_url + ingress.ingress_path}
        )

        sent: list[SentEvent] = []
        report = await simulate(target, on_delivery=sent.append)

        assert report.calls_started == CALLS
        assert sum(report.calls_finished.values()) == CALLS
        assert report.rejected == 0
        assert report.sent == report.accepted == len(sent)
        assert all(e.delivery.result is DeliveryResult.ACCEPTED for e in sent)
        assert len(report.sent_by_type) > 5

        records = await read_topic(settings.topic_webhooks, len(sent), timeout_s=60)
        assert len(records) == len(sent)
        in_topic: dict[str, list[bytes]] = defaultdict(list)
        for record in records:
            in_topic[record.key.decode()].append(record.value)
            assert dict(record.headers)[HEADER_AUTH_MODE] == b"SIGNATURE_RSA_SHA256"
        sent_by_call: dict[str, list[bytes]] = defaultdict(list)
        for event in sent:
            sent_by_call[event.call_id].append(event.body)
        assert in_topic == sent_by_call
