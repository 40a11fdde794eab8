"""The Prometheus and Alertmanager configs pass the projects' own checkers.

``promtool`` (Debian package ``prometheus``) validates the scrape configs and
the alerting rules and runs the rules' unit tests (recho.rules.test.yml);
``amtool`` (package ``prometheus-alertmanager``) validates the Alertmanager
config. ``make tools`` (deploy/tools/install-tools.sh) installs both; a
missing tool fails these tests instead of skipping them, so a green suite
always means the rules were really tested.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
PROMETHEUS = REPO / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules" / "recho.rules.yml"
RULE_TESTS = PROMETHEUS / "rules" / "recho.rules.test.yml"
ALERTMANAGER = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "recho-pipeline.json"
# What Grafana would put in place of its interval variables.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: run `make tools` (deploy/tools/install-tools.sh), "
            "which installs the Debian packages prometheus and prometheus-alertmanager"
        )
    return path


def _run(*args: str | Path) -> str:
    """Run a checker; fail with its output unless it exits 0."""
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


class TestPromtool:
    @pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.compose.yml"])
    def test_scrape_config_is_valid(self, config: str) -> None:
        """Prometheus would load the config and its rule files, locally and in compose."""
        output = _run(_tool("promtool"), "check", "config", PROMETHEUS / config)
        assert "SUCCESS" in output

    def test_rules_are_valid(self) -> None:
        """promtool loads every alerting rule of recho.rules.yml."""
        count = sum(len(g["rules"]) for g in yaml.safe_load(RULES.read_text())["groups"])
        output = _run(_tool("promtool"), "check", "rules", RULES)
        assert f"SUCCESS: {count} rules found" in output

    def test_rule_unit_tests_pass(self) -> None:
        """Each rule fires on its synthetic bad series and stays quiet on healthy ones."""
        output = _run(_tool("promtool"), "test", "rules", RULE_TESTS)
        assert "SUCCESS" in output

    def test_dashboard_queries_are_valid_promql(self, tmp_path: Path) -> None:
        """Every panel query of the Grafana dashboard parses as PromQL."""
        rules = []
        for panel in json.loads(DASHBOARD.read_text())["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                for variable, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(variable, value)
                rules.append(
                    {"record": f"dashboard:panel_{panel['id']}:{target['refId']}", "expr": expr}
                )
        assert rules
        checked = tmp_path / "dashboard.rules.yml"
        checked.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
        output = _run(_tool("promtool"), "check", "rules", checked)
        assert f"SUCCESS: {len(rules)} rules found" in output


class TestAmtool:
    def test_alertmanager_config_is_valid(self) -> None:
        """Alertmanager would load the route, receivers and inhibit rules."""
        output = _run(_tool("amtool"), "check-config", ALERTMANAGER)
        assert "SUCCESS" in output
