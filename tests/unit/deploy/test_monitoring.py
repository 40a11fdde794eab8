"""deploy/ agrees with the code: Prometheus scrape config, alert rules and the Grafana
dashboard use only metric names and labels the code exports."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

from processor import metrics
from tests.unit.deploy.manifests import (
    DASHBOARD,
    DASHBOARD_PROVIDERS,
    DATASOURCES,
    DEFAULTS,
    DEPLOY,
    GRAFANA_VARIABLES,
    PORT_SETTING,
    RULE_TESTS,
    RULES,
    TARGET_LABELS,
    compose,
    load_yaml,
)


# --- metric names -----------------------------------------------------------------
def _series_labels() -> dict[str, set[str]]:
    """Every series name processor/metrics.py exports, with the labels it may carry."""
    series: dict[str, set[str]] = {}
    for collector in vars(metrics).values():
        if not isinstance(collector, MetricWrapperBase):
            continue
        labels = set(collector._labelnames) | TARGET_LABELS
        for family in collector.describe():
            suffixes = {
                "counter": {"_total": set(), "_created": set()},
                "gauge": {"": set()},
                "histogram": {"_bucket": {"le"}, "_sum": set(), "_count": set(), "_created": set()},
            }[family.type]
            for suffix, extra in suffixes.items():
                series[family.name + suffix] = labels | extra
    return series


SERIES = _series_labels()
_METRIC = re.compile(r"\b(recho_[a-z0-9_]+)\b")
_SELECTOR = re.compile(r"\b(recho_[a-z0-9_]+)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")


def _problems_in(expr: str) -> list[str]:
    """What in a PromQL expression names a series or label the code does not export."""
    problems = [f"unknown series {m}" for m in _METRIC.findall(expr) if m not in SERIES]
    available = set(TARGET_LABELS)
    for name in _METRIC.findall(expr):
        available |= SERIES.get(name, set())
    if re.search(r"\bALERTS\b", expr):
        return problems  # ALERTS carries every label of every rule
    for name, matchers in _SELECTOR.findall(expr):
        for label in _MATCHER.findall(matchers):
            if label not in SERIES.get(name, set()):
                problems.append(f"{name} has no label {label}")
    for group in _GROUPING.findall(expr):
        for label in filter(None, (part.strip() for part in group.split(","))):
            if label not in available:
                problems.append(f"no series of the expression has label {label}")
    return problems


def _rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(RULES)["groups"] for rule in group["rules"]]


def _dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def _panels() -> list[dict[str, Any]]:
    return [p for p in _dashboard()["panels"] if p["type"] != "row"]


def _targets() -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in _panels() for t in p.get("targets", [])]


class TestPrometheusConfig:
    def test_local_scrape_targets_are_the_default_ports(self) -> None:
        """prometheus.yml scrapes each process on its default port on this machine."""
        config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
        targets = {
            job["job_name"]: {t for sc in job["static_configs"] for t in sc["targets"]}
            for job in config["scrape_configs"]
        }
        for command, setting in PORT_SETTING.items():
            assert targets[f"recho-{command}"] == {f"127.0.0.1:{DEFAULTS[setting]}"}

    def test_compose_scrape_targets_are_the_compose_services(self) -> None:
        """prometheus.compose.yml finds every replica of each service on its port."""
        config = load_yaml(DEPLOY / "prometheus" / "prometheus.compose.yml")
        services = compose()["services"]
        jobs = {job["job_name"]: job for job in config["scrape_configs"]}
        for command, setting in PORT_SETTING.items():
            (sd,) = jobs[f"recho-{command}"]["dns_sd_configs"]
            assert sd["port"] == DEFAULTS[setting]
            assert sd["names"] == [command]
            assert command in services
        (am,) = config["alerting"]["alertmanagers"][0]["static_configs"]
        assert am["targets"] == ["alertmanager:9093"]

    def test_compose_mounts_files_that_exist(self) -> None:
        """Every bind mount of compose names a file or folder of deploy/."""
        for name, service in compose()["services"].items():
            for volume in service.get("volumes", []):
                source = volume.split(":")[0]
                if source.startswith("."):
                    assert (DEPLOY / source).exists(), (name, source)
        prometheus = compose()["services"]["prometheus"]
        assert (
            "./prometheus/prometheus.compose.yml:/etc/prometheus/prometheus.yml:ro"
            in (prometheus["volumes"])
        )


class TestAlertRules:
    def test_every_rule_is_complete(self) -> None:
        """Each alert waits (`for:`), has a severity, a summary and a description."""
        rules = _rules()
        assert len({r["alert"] for r in rules}) == len(rules)
        for rule in rules:
            assert rule.get("for"), rule["alert"]
            assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
            assert {"summary", "description"} <= rule["annotations"].keys(), rule["alert"]

    def test_rules_use_only_exported_metrics_and_labels(self) -> None:
        """Every series and label in the rules is one processor/metrics.py exports."""
        for rule in _rules():
            assert _problems_in(rule["expr"]) == [], rule["alert"]

    def test_the_issue_alerts_exist(self) -> None:
        """Error rate per code, stalls, DLQ, lag, 401, 503 and no-traffic are covered."""
        exprs = {r["alert"]: " ".join(r["expr"].split()) for r in _rules()}
        wanted = [
            "sum by (code) (rate(recho_worker_call_errors_total",
            'recho_worker_alerts_total{kind="STALLED"}',
            "recho_worker_dlq_records_total",
            "recho_worker_consumer_lag_seconds",
            'recho_ingress_requests_total{route="webhook",status="401"}',
            'recho_ingress_requests_total{route="webhook",status="503"}',
            'recho_ingress_requests_total{route="webhook",status="202"}',
        ]
        for fragment in wanted:
            assert any(fragment in expr for expr in exprs.values()), fragment

    def test_the_explorer_alerts_exist(self) -> None:
        """The explorer being behind (apply lag) and stalled (nothing applied while the
        worker produces, only while it is up) are alerts."""
        exprs = {r["alert"]: " ".join(r["expr"].split()) for r in _rules()}
        assert "recho_explorer_apply_lag_seconds" in exprs["RechoExplorerBehind"]
        stalled = exprs["RechoExplorerStalled"]
        for fragment in (
            "recho_explorer_rows_applied_total",
            "recho_worker_events_total",
            'up{job="recho-explorer"}',
        ):
            assert fragment in stalled, fragment

    def test_every_rule_has_a_firing_and_a_quiet_unit_test(self) -> None:
        """recho.rules.test.yml makes each alert fire once and stay quiet once."""
        firing: set[str] = set()
        quiet: set[str] = set()
        for test in load_yaml(RULE_TESTS)["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case["exp_alerts"] else quiet).add(case["alertname"])
        names = {r["alert"] for r in _rules()}
        assert firing == names
        assert quiet == names


class TestDashboard:
    def test_panels_use_only_exported_metrics_and_labels(self) -> None:
        """Every panel query names series and labels processor/metrics.py exports."""
        targets = _targets()
        assert len(targets) >= 25
        for title, target in targets:
            assert _problems_in(target["expr"]) == [], title

    def test_queries_use_only_substitutable_variables(self) -> None:
        """Only $__rate_interval and $__interval, so a test can evaluate each query."""
        for title, target in _targets():
            assert set(re.findall(r"\$\w+", target["expr"])) <= GRAFANA_VARIABLES, title

    def test_legends_name_labels_the_query_keeps(self) -> None:
        """A {{label}} in a legend is one the query groups by."""
        for title, target in _targets():
            kept = {
                label.strip()
                for group in re.findall(r"\bby\s*\(([^)]*)\)", target["expr"])
                for label in group.split(",")
            }
            assert set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target["legendFormat"])) <= kept, title

    def test_panels_use_the_provisioned_datasource(self) -> None:
        """Every panel and query names the datasource uid that Grafana is provisioned with."""
        (datasource,) = load_yaml(DATASOURCES)["datasources"]
        for panel in _panels():
            for ref in [
                panel.get("datasource"),
                *(t["datasource"] for t in panel.get("targets", [])),
            ]:
                if ref is not None:
                    assert ref == {"type": "prometheus", "uid": datasource["uid"]}, panel["title"]
        assert datasource["url"] == "http://prometheus:9090"

    def test_panel_ids_and_layout(self) -> None:
        """Panel ids are unique and every panel has a place on the grid."""
        panels = _dashboard()["panels"]
        assert len({p["id"] for p in panels}) == len(panels)
        for panel in panels:
            assert {"h", "w", "x", "y"} <= panel["gridPos"].keys(), panel["title"]
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]

    @pytest.mark.parametrize(
        "fragment",
        [
            'recho_ingress_requests_total{route="webhook"}',
            "recho_ingress_request_duration_seconds_bucket",
            'status=~"401|413|503"',
            "recho_worker_consumer_lag_seconds",
            "recho_worker_active_calls",
            "recho_worker_calls_finished_total",
            "recho_worker_call_duration_seconds_bucket",
            "recho_worker_call_errors_total",
            "ALERTS",
            "recho_worker_dlq_records_total",
            "recho_explorer_apply_lag_seconds",
            "recho_explorer_rows_applied_total",
            "recho_explorer_query_duration_seconds_bucket",
            "recho_explorer_calls_deleted_total",
        ],
    )
    def test_the_issue_panels_exist(self, fragment: str) -> None:
        """Ingress rate/latency, 401/413/503, lag, calls, outcomes, durations, errors, DLQ;
        the explorer's apply lag and rate, API latency and deletions."""
        assert any(fragment in target["expr"] for _, target in _targets())

    def test_dashboard_is_provisioned_from_its_mount(self) -> None:
        """Grafana's dashboard provider reads the folder compose mounts the JSON into."""
        (provider,) = load_yaml(DASHBOARD_PROVIDERS)["providers"]
        grafana = compose()["services"]["grafana"]
        mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
        assert mounts["./grafana/dashboards"] == provider["options"]["path"]
        assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
        assert any(p["type"] == "alertlist" for p in _panels())
