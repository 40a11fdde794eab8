"""A real Prometheus scraping the pipeline under simulated traffic (see conftest.py).

What an operator relies on: the series the dashboard and the rules read exist with
the values the traffic implies, the error-rate alert fires when errored calls flow
(and the alerts about outages stay quiet), and every panel of
deploy/grafana/dashboards/recho-pipeline.json shows data.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.observability.conftest import JOB, Observed, sample_value

REPO = Path(__file__).resolve().parents[3]
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "recho-pipeline.json"
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s"}
"""What Grafana would put in place of its interval variables (as in test_promtool.py)."""
LATENCY_LIMIT_S = 10.0


def _walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _walk(panel.get("panels", []))  # a collapsed row holds its panels


def _panel_queries() -> list[Any]:
    queries = []
    for panel in _walk(json.loads(DASHBOARD.read_text())["panels"]):
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            slug = re.sub(r"[^a-z0-9]+", "-", panel["title"].lower()).strip("-")
            queries.append(
                pytest.param(panel["title"], expr, id=f"{panel['id']}{target['refId']}-{slug}")
            )
    return queries


PANEL_QUERIES = _panel_queries()


def _values(result: list[dict[str, Any]]) -> list[float]:
    return [sample_value(sample) for sample in result]


def _by(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {sample["metric"].get(label, ""): sample_value(sample) for sample in result}


async def _single(observed: Observed, expr: str) -> float:
    result = await observed.query(expr)
    assert len(result) == 1, f"{expr}: {result}"
    return sample_value(result[0])


class TestScrapedSeries:
    async def test_ingress_target_is_up(self, observed: Observed) -> None:
        """The scrape job the rules ask about (recho-ingress) is up."""
        assert await _single(observed, f'up{{job="{JOB}"}}') == 1

    async def test_each_component_is_its_own_job(self, observed: Observed) -> None:
        """Worker families come only from the worker's job, notifier families only from the
        notifier's, ingress families only from the ingress's: no dashboard sum counts twice."""
        for component in ("ingress", "worker", "notifier"):
            jobs = await observed.query(f'count by (job) ({{__name__=~"recho_{component}_.*"}})')
            assert {sample["metric"]["job"] for sample in jobs} == {f"recho-{component}"}

    async def test_accepted_webhooks_match_the_simulator(self, observed: Observed) -> None:
        """Every 202 the simulator got is counted once, and nothing else is a 202."""
        accepted = observed.report.responses_by_status.get("202", 0)
        assert accepted >= 100, observed.report
        selector = 'recho_ingress_requests_total{route="webhook",status="202"}'
        assert await observed.increase(selector) == accepted == observed.local["accepted"]
        assert await observed.increase("recho_ingress_body_bytes_count") == accepted

    async def test_rejections_are_counted_by_status_and_reason(self, observed: Observed) -> None:
        """Wrong tokens count as 401 with an auth-failure reason, oversized bodies as 413."""
        noise = observed.noise
        assert noise.unauthorized > 0
        assert noise.too_large > 0
        webhook = 'recho_ingress_requests_total{route="webhook",status="%s"}'
        assert await observed.increase(webhook % "401") == noise.unauthorized
        assert await observed.increase(webhook % "413") == noise.too_large
        assert await observed.increase("recho_ingress_auth_failures_total") == noise.unauthorized

    async def test_every_accepted_webhook_is_processed_once(self, observed: Observed) -> None:
        """The worker counts one event per accepted webhook and commits every input record
        (dead letters included) in transactions that all committed."""
        accepted = observed.local["accepted"]
        assert await observed.increase("recho_worker_events_total") == accepted
        latency_count = await observed.increase("recho_worker_processing_latency_seconds_count")
        assert latency_count == accepted + observed.noise.dead_letters
        assert await observed.increase('recho_worker_transactions_total{result="committed"}') > 0
        failed = 'recho_worker_transactions_total{result=~"aborted|fenced"}'
        assert await observed.increase(failed) == 0

    async def test_errors_become_alerts_and_deliveries(self, observed: Observed) -> None:
        """Errored events are counted by code, raise alerts, and the notifier delivers each
        alert; unreadable records are dead-lettered as not_json."""
        errors = _by(await observed.query("sum by (code) (recho_worker_call_errors_total)"), "code")
        assert errors.keys() >= {"NETWORK_ERROR", "TIMEOUT"}
        alerts = await observed.increase('recho_worker_alerts_total{kind="ERRORED_EVENT"}')
        assert alerts > 0
        assert alerts == observed.local["alerts"]
        delivered = 'recho_notifier_deliveries_total{sink="webhook",result="delivered"}'
        assert await observed.increase(delivered) == alerts
        dead = 'recho_worker_dlq_records_total{reason="not_json"}'
        assert await observed.increase(dead) == observed.noise.dead_letters

    async def test_calls_finish_in_both_directions(self, observed: Observed) -> None:
        """Finished calls are counted by outcome, no more than the calls started, and
        answered calls of both directions give a time to answer."""
        finished = await observed.increase("recho_worker_calls_finished_total")
        assert 0 < finished <= observed.report.calls_started
        answered = await observed.query(
            "sum by (direction) (recho_worker_call_time_to_answer_seconds_count)"
        )
        assert _by(answered, "direction").keys() >= {"INBOUND", "OUTBOUND"}

    async def test_gauges_are_sane(self, observed: Observed) -> None:
        """Calls in progress are within the calls started, and a caught-up worker reports
        no lag on any partition."""
        active = _values(await observed.query("recho_worker_active_calls"))
        assert active
        assert all(v >= 0 for v in active)
        assert sum(active) <= observed.report.calls_started
        # The worker's partitions only: the registry is the test process's, shared by
        # every worker an earlier test ran.
        ours = '{partition=~"0|1|2"}'
        lag_records = _by(
            await observed.query(f"recho_worker_consumer_lag_records{ours}"), "partition"
        )
        assert lag_records == {"0": 0, "1": 0, "2": 0}
        lag_seconds = _by(
            await observed.query(f"recho_worker_consumer_lag_seconds{ours}"), "partition"
        )
        assert lag_seconds.keys() == {"0", "1", "2"}
        assert all(0 <= v < 60 for v in lag_seconds.values())
        assert await _single(observed, "recho_ingress_in_flight_requests") >= 0

    @pytest.mark.parametrize(
        "histogram",
        [
            'recho_ingress_request_duration_seconds_bucket{route="webhook"}',
            "recho_ingress_kafka_produce_duration_seconds_bucket",
            "recho_worker_processing_latency_seconds_bucket",
            "recho_worker_transaction_duration_seconds_bucket",
        ],
    )
    async def test_latency_is_sane(self, observed: Observed, histogram: str) -> None:
        """The p99 of a latency histogram over the traffic is a finite few seconds at most."""
        p99 = await _single(
            observed, f"histogram_quantile(0.99, sum by (le) (rate({histogram}[1m])))"
        )
        assert 0 < p99 < LATENCY_LIMIT_S

    async def test_no_series_is_negative_or_nan(self, observed: Observed) -> None:
        """Every recho_* sample is a finite, non-negative number."""
        result = await observed.query('{__name__=~"recho_.*"}')
        assert len(result) > 50
        bad = [s for s in result if not (math.isfinite(v := sample_value(s)) and v >= 0)]
        assert not bad


class TestAlertingRules:
    async def _firing(self, observed: Observed, name: str) -> list[dict[str, Any]]:
        alerts = await observed.prometheus.alerts()
        return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]

    async def test_error_rate_rule_fires(self, observed: Observed) -> None:
        """With a share of errored events above 5 %, RechoCallErrorRateHigh fires for the
        codes above the threshold, with its severity and a rendered description."""
        firing = await self._firing(observed, "RechoCallErrorRateHigh")
        assert firing
        codes = {a["labels"]["code"] for a in firing}
        assert "NETWORK_ERROR" in codes
        for alert in firing:
            assert alert["labels"]["severity"] == "warning"
            assert float(alert["value"]) > 0.05
            assert alert["labels"]["code"] in alert["annotations"]["description"]

    async def test_dead_letter_rule_fires(self, observed: Observed) -> None:
        """Dead-lettered records fire RechoDeadLettersGrowing with their reason."""
        firing = await self._firing(observed, "RechoDeadLettersGrowing")
        assert {a["labels"]["reason"] for a in firing} == {"not_json"}

    async def test_outage_rules_stay_quiet(self, observed: Observed) -> None:
        """While traffic flows and the worker keeps up, no outage alert is pending or firing."""
        quiet = (
            "RechoNoWebhookTraffic|RechoProcessDown|RechoConsumerLagHigh"
            "|RechoConsumerLagCritical|RechoIngressUnavailableRate|RechoCallsStalled"
        )
        assert await observed.query(f'ALERTS{{alertname=~"{quiet}"}}') == []


class TestDashboard:
    def test_dashboard_has_queries(self) -> None:
        """The dashboard's panels carry PromQL targets (so the test below checks something)."""
        assert len(PANEL_QUERIES) >= 30

    @pytest.mark.parametrize(("title", "expr"), PANEL_QUERIES)
    async def test_panel_returns_data(self, observed: Observed, title: str, expr: str) -> None:
        """The panel's query, evaluated by the real Prometheus over the traffic, returns
        at least one series with a finite value: the panel shows data."""
        assert "$" not in expr, f"{title}: a Grafana variable is not substituted: {expr}"
        result = await observed.query(expr)
        assert result, f"{title}: no series for {expr}"
        values = _values(result)
        assert any(math.isfinite(v) for v in values), f"{title}: {expr} -> {values}"
