"""deploy/ agrees with the code: compose, Kubernetes, Dockerfile, alert rules, dashboard.

No Docker engine or cluster exists where the suite runs, so the manifests are
checked statically: they parse, and every image, port, ``PROCESSOR_*`` name,
probe path and metric name they use is one the code really has. A renamed
setting, route or metric then fails here instead of in a user's cluster.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from processor import metrics
from processor.cli import commands
from processor.http.asgi import Message
from processor.http.ops import OpsApp
from processor.ingress.server import create_app
from processor.settings import Settings

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
RULES = DEPLOY / "prometheus" / "rules" / "recho.rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "rules" / "recho.rules.test.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "recho-pipeline.json"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"

IMAGE = "recho-processor"
DEFAULTS: dict[str, Any] = {name: f.default for name, f in Settings.model_fields.items()}
# The port each long-running command serves, by the setting that names it.
PORT_SETTING = {
    "ingress": "ingress_port",
    "worker": "worker_metrics_port",
    "notifier": "notifier_metrics_port",
}
PROBE_PATHS = {"/healthz", "/readyz"}
GRAFANA_VARIABLES = {"$__rate_interval", "$__interval"}
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}


# --- loading -------------------------------------------------------------------
def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _k8s_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue  # kustomize's own file, not an object of the cluster
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def _k8s(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in _k8s_docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _configmap() -> dict[str, str]:
    data: dict[str, str] = _k8s("ConfigMap", "recho-processor-config")["data"]
    return data


def _pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in _k8s_docs():
        if doc["kind"] in ("Deployment", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def _containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, pod in _pod_specs():
        for container in pod["containers"]:
            yield name, container


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = _yaml(DEPLOY / "docker-compose.yml")
    return compose


def _processor_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in _compose()["services"].items()
        if service.get("image", "").split(":")[0] == IMAGE
    }


_INTERPOLATION = re.compile(r"\$\{\w+:-([^}]*)\}")


def _settings_from_env(env: dict[str, Any]) -> Settings:
    """Settings as a process with exactly these PROCESSOR_* variables would build them."""
    environ = {
        key: _INTERPOLATION.sub(r"\1", str(value))
        for key, value in env.items()
        if key.startswith("PROCESSOR_")
    }
    with mock.patch.dict(os.environ, environ, clear=True):
        return Settings()


def _env_names(env: dict[str, Any]) -> set[str]:
    return {key for key in env if key.startswith("PROCESSOR_")}


def _unknown_settings(names: set[str]) -> set[str]:
    return {n for n in names if n.removeprefix("PROCESSOR_").lower() not in Settings.model_fields}


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
    return [rule for group in _yaml(RULES)["groups"] for rule in group["rules"]]


def _dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def _panels() -> list[dict[str, Any]]:
    return [p for p in _dashboard()["panels"] if p["type"] != "row"]


def _targets() -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in _panels() for t in p.get("targets", [])]


# --- ASGI ---------------------------------------------------------------------------
async def _status(app: Any, path: str) -> int:
    """The status an ASGI app answers to ``GET path``."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    await app(scope, receive, send)
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


def _app_for(command: str) -> Any:
    if command == "ingress":
        return create_app(Settings())
    registry = metrics.WORKER_REGISTRY if command == "worker" else metrics.NOTIFIER_REGISTRY
    return OpsApp(lambda: True, registry)


# --- tests -----------------------------------------------------------------------------
class TestParsing:
    def test_every_manifest_parses(self) -> None:
        """Every YAML and JSON file under deploy/ (but the Kafka tooling) loads."""
        files = [p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml", ".json")]
        assert len(files) >= 15
        for path in files:
            if path.suffix == ".json":
                assert json.loads(path.read_text()), path
            else:
                assert all(doc is not None for doc in yaml.safe_load_all(path.read_text())), path

    def test_kubernetes_objects_are_complete_and_in_one_namespace(self) -> None:
        """Every object has apiVersion, kind and name, and lives in the recho namespace."""
        for doc in _k8s_docs():
            assert {"apiVersion", "kind", "metadata"} <= doc.keys(), doc
            if doc["kind"] != "Namespace":
                assert doc["metadata"].get("namespace") == "recho", doc["metadata"]

    def test_kustomization_lists_every_manifest(self) -> None:
        """`kubectl apply -k deploy/k8s` applies every file of the folder."""
        kustomization = _yaml(K8S / "kustomization.yaml")
        files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
        assert set(kustomization["resources"]) == files


class TestSettingsNames:
    def test_compose_uses_only_real_settings(self) -> None:
        """Every PROCESSOR_* variable of docker-compose.yml is a field of Settings."""
        for name, service in _processor_services().items():
            assert not _unknown_settings(_env_names(service["environment"])), name

    def test_compose_values_are_valid_settings(self) -> None:
        """Each processor service's environment builds valid Settings."""
        for service in _processor_services().values():
            _settings_from_env(service["environment"])

    def test_kubernetes_uses_only_real_settings(self) -> None:
        """ConfigMap, Secret and container env name only fields of Settings."""
        names = _env_names(_configmap())
        names |= _env_names(_k8s("Secret", "recho-processor-secrets")["stringData"])
        for _, container in _containers():
            names |= _env_names({e["name"]: e for e in container.get("env", [])})
        assert names
        assert not _unknown_settings(names)

    def test_configmap_values_are_valid_settings(self) -> None:
        """The ConfigMap with the Secret builds valid Settings."""
        secret = _k8s("Secret", "recho-processor-secrets")["stringData"]
        _settings_from_env({**_configmap(), **secret})

    def test_containers_load_only_objects_that_exist(self) -> None:
        """envFrom and secret volumes name ConfigMaps and Secrets of the manifests."""
        present = {(d["kind"], d["metadata"]["name"]) for d in _k8s_docs()}
        for name, pod in _pod_specs():
            for container in pod["containers"]:
                for source in container.get("envFrom", []):
                    if "configMapRef" in source:
                        assert ("ConfigMap", source["configMapRef"]["name"]) in present, name
                    if "secretRef" in source:
                        assert ("Secret", source["secretRef"]["name"]) in present, name
            for volume in pod.get("volumes", []):
                if "secret" in volume:
                    assert ("Secret", volume["secret"]["secretName"]) in present, name

    def test_kafka_tls_files_are_mounted_where_the_settings_point(self) -> None:
        """Every pod talking to Kafka mounts the recho-kafka-tls Secret at the folder of
        PROCESSOR_KAFKA_SSL_CA_FILE and loads the Kafka credentials from the Secret."""
        folder = _configmap()["PROCESSOR_KAFKA_SSL_CA_FILE"].rsplit("/", 1)[0]
        secret = _k8s("Secret", "recho-processor-secrets")["stringData"]
        assert {"PROCESSOR_KAFKA_SASL_USERNAME", "PROCESSOR_KAFKA_SASL_PASSWORD"} <= set(secret)
        assert "ca.pem" in _k8s("Secret", "recho-kafka-tls")["stringData"]
        kafka_pods = {"ingress", "worker", "notifier", "topics"}
        checked = set()
        for _name, c in _containers():
            if c["args"][0] not in kafka_pods:
                continue
            assert folder in {m["mountPath"] for m in c.get("volumeMounts", [])}, c["name"]
            refs = {s["secretRef"]["name"] for s in c["envFrom"] if "secretRef" in s}
            assert "recho-processor-secrets" in refs, c["name"]
            checked.add(c["args"][0])
        assert checked == kafka_pods

    def test_public_keys_are_mounted_where_the_setting_points(self) -> None:
        """The ingress finds the platform's keys at PROCESSOR_AUTH_PUBLIC_KEYS_DIR."""
        mounts = {
            m["mountPath"]
            for name, c in _containers()
            if name == "recho-ingress"
            for m in c["volumeMounts"]
        }
        assert _configmap()["PROCESSOR_AUTH_PUBLIC_KEYS_DIR"] in mounts

    def test_dockerfile_sets_only_real_settings(self) -> None:
        """The ENV lines of the Dockerfile name only fields of Settings."""
        names = set(re.findall(r"\b(PROCESSOR_[A-Z0-9_]+)=", _dockerfile()))
        assert names
        assert not _unknown_settings(names)


class TestCommandsAndImages:
    def test_every_process_runs_the_one_image(self) -> None:
        """Compose and Kubernetes run the same recho-processor image and tag."""
        images = {s["image"] for s in _processor_services().values()}
        images |= {c["image"] for _, c in _containers()}
        assert len(images) == 1, images
        assert images.pop().split(":")[0] == IMAGE

    def test_every_process_runs_a_real_subcommand(self) -> None:
        """The first argument of each container is a `processor` subcommand."""
        known = set(commands())
        argvs = [s["command"] for s in _processor_services().values()]
        argvs += [c["args"] for _, c in _containers()]
        for argv in argvs:
            assert argv[0] in known, argv
        assert {"ingress", "worker", "notifier", "topics"} <= {a[0] for a in argvs}

    def test_topics_are_created_before_the_pipeline_starts(self) -> None:
        """Compose and Kubernetes both run `processor topics create`."""
        assert _compose()["services"]["topics"]["command"] == ["topics", "create"]
        job = _k8s("Job", "recho-topics")["spec"]["template"]["spec"]
        assert job["containers"][0]["args"] == ["topics", "create"]
        for name in ("ingress", "worker", "notifier"):
            condition = _compose()["services"][name]["depends_on"]["topics"]["condition"]
            assert condition == "service_completed_successfully"

    def test_compose_runs_every_part(self) -> None:
        """Compose has KRaft Kafka from apache/kafka, the processes and the monitoring."""
        services = _compose()["services"]
        wanted = {"kafka", "topics", "ingress", "worker", "notifier"}
        assert wanted | {"prometheus", "alertmanager", "grafana"} <= services.keys()
        kafka = services["kafka"]
        assert kafka["image"].startswith("apache/kafka:")
        assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
        advertised = kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]
        for service in _processor_services().values():
            bootstrap = service["environment"]["PROCESSOR_KAFKA_BOOTSTRAP_SERVERS"]
            assert f"//{bootstrap}" in advertised

    def test_compose_builds_the_dockerfile(self) -> None:
        """The build section points at deploy/Dockerfile from the repository root."""
        for service in _processor_services().values():
            build = service["build"]
            context = (DEPLOY / build["context"]).resolve()
            assert context == REPO
            assert (context / build["dockerfile"]).is_file()


def _dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


class TestDockerfile:
    def test_entrypoint_is_the_console_script(self) -> None:
        """ENTRYPOINT ["processor"], the console script pyproject.toml declares."""
        line = re.search(r"^ENTRYPOINT\s+(.+)$", _dockerfile(), re.MULTILINE)
        assert line is not None
        assert json.loads(line.group(1)) == ["processor"]
        scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
        assert "processor" in scripts

    def test_base_install_and_user(self) -> None:
        """python:3.11-slim, `pip install .` of files that exist, a non-root user."""
        text = _dockerfile()
        assert re.search(r"^FROM python:3\.11-slim\s*$", text, re.MULTILINE)
        assert "pip install ." in text
        for sources in re.findall(r"^COPY\s+(.+)\s+\S+$", text, re.MULTILINE):
            for source in sources.split():
                assert (REPO / source).exists(), source
        user = re.findall(r"^USER\s+(\S+)$", text, re.MULTILINE)
        assert user
        assert user[-1].split(":")[0] not in ("root", "0")

    def test_exposes_every_process_port(self) -> None:
        """EXPOSE lists the ingress port and the worker and notifier ops ports."""
        exposed = re.search(r"^EXPOSE\s+(.+)$", _dockerfile(), re.MULTILINE)
        assert exposed is not None
        expected = {DEFAULTS[setting] for setting in PORT_SETTING.values()}
        assert {int(p) for p in exposed.group(1).split()} == expected

    def test_kubernetes_runs_as_the_image_user(self) -> None:
        """runAsUser of every pod is the Dockerfile's numeric USER."""
        uid = int(re.findall(r"^USER\s+(\d+)", _dockerfile(), re.MULTILINE)[-1])
        for name, pod in _pod_specs():
            assert pod["securityContext"]["runAsNonRoot"] is True, name
            assert pod["securityContext"]["runAsUser"] == uid, name


class TestPortsAndProbes:
    def test_container_ports_match_the_settings(self) -> None:
        """Each Deployment's port is its command's port setting, default and ConfigMap alike."""
        secret = _k8s("Secret", "recho-processor-secrets")["stringData"]
        config = _settings_from_env({**_configmap(), **secret})  # what every pod loads
        seen = set()
        for name, container in _containers():
            command = container["args"][0]
            if command not in PORT_SETTING:
                continue
            setting = PORT_SETTING[command]
            ports = {p["containerPort"] for p in container["ports"]}
            assert ports == {DEFAULTS[setting]} == {getattr(config, setting)}, name
            seen.add(command)
        assert seen == set(PORT_SETTING)

    def test_probes_use_the_served_routes_and_port(self) -> None:
        """Liveness on /healthz, readiness on /readyz, on the port the process serves."""
        for name, container in _containers():
            command = container["args"][0]
            if command not in PORT_SETTING:
                continue
            named = {p["name"]: p["containerPort"] for p in container["ports"]}
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                get = container[kind]["httpGet"]
                assert get["path"] in PROBE_PATHS, name
                assert named.get(get["port"], get["port"]) == DEFAULTS[PORT_SETTING[command]]

    async def test_probe_paths_are_answered_by_the_processes(self) -> None:
        """The ingress app and the worker/notifier ops app serve every probe and scrape path."""
        for command in PORT_SETTING:
            app = _app_for(command)
            for path in [*sorted(PROBE_PATHS), "/metrics"]:
                assert await _status(app, path) != 404, (command, path)
            assert await _status(app, "/no-such-route") == 404

    def test_scrape_annotations_point_at_the_metrics_port(self) -> None:
        """prometheus.io/port and path of each pod name its served /metrics."""
        for doc in _k8s_docs():
            if doc["kind"] != "Deployment":
                continue
            template = doc["spec"]["template"]
            command = template["spec"]["containers"][0]["args"][0]
            annotations = template["metadata"]["annotations"]
            assert annotations["prometheus.io/path"] == "/metrics"
            assert int(annotations["prometheus.io/port"]) == DEFAULTS[PORT_SETTING[command]]

    def test_compose_healthchecks_and_ports_match_the_settings(self) -> None:
        """Healthchecks probe /readyz on the configured port; published ports agree."""
        for name, command in (
            ("ingress", "ingress"),
            ("worker", "worker"),
            ("notifier", "notifier"),
        ):
            service = _compose()["services"][name]
            port = getattr(_settings_from_env(service["environment"]), PORT_SETTING[command])
            assert port == DEFAULTS[PORT_SETTING[command]]
            url = re.search(r"http://[^'\" ]+", " ".join(service["healthcheck"]["test"]))
            assert url is not None
            parts = urlsplit(url.group(0))
            assert (parts.port, parts.path) == (port, "/readyz"), name
            published = [str(p).split(":")[-1] for p in service.get("ports", [])]
            exposed = [str(p) for p in service.get("expose", [])]
            assert str(port) in published + exposed, name

    def test_simulator_and_notifier_reach_their_peers(self) -> None:
        """The simulator posts to the ingress route; the notifier finds Alertmanager."""
        services = _compose()["services"]
        target = urlsplit(services["simulate"]["environment"]["PROCESSOR_SIMULATE_TARGET_URL"])
        assert target.hostname == "ingress"
        assert target.port == DEFAULTS["ingress_port"]
        assert target.path == DEFAULTS["ingress_path"]
        alertmanager = urlsplit(
            services["notifier"]["environment"]["PROCESSOR_NOTIFIER_ALERTMANAGER_URL"]
        )
        assert alertmanager.hostname == "alertmanager"
        assert f"{alertmanager.port}:{alertmanager.port}" in services["alertmanager"]["ports"]

    def test_ingress_drains_within_the_grace_period(self) -> None:
        """terminationGracePeriodSeconds covers preStop plus the drain timeout."""
        pod = _k8s("Deployment", "recho-ingress")["spec"]["template"]["spec"]
        container = pod["containers"][0]
        pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
        drain = float(_configmap()["PROCESSOR_INGRESS_DRAIN_TIMEOUT_S"])
        assert pod["terminationGracePeriodSeconds"] > pre_stop + drain


class TestScaling:
    def test_worker_replicas_do_not_exceed_the_partitions(self) -> None:
        """Workers past the partition count would sit idle in the consumer group."""
        replicas = _k8s("Deployment", "recho-worker")["spec"]["replicas"]
        partitions = int(_configmap()["PROCESSOR_TOPIC_PARTITIONS"])
        assert 1 <= replicas <= partitions == Settings().topic_partitions
        assert "PROCESSOR_TOPIC_PARTITIONS" in (K8S / "worker.yaml").read_text()
        for doc in _k8s_docs():
            if doc["kind"] == "HorizontalPodAutoscaler":
                assert doc["spec"]["scaleTargetRef"]["name"] != "recho-worker"

    def test_ingress_service_hpa_and_pdb_select_the_ingress(self) -> None:
        """Service, HPA and PDB all act on the ingress pods; the PDB lets a drain proceed."""
        deployment = _k8s("Deployment", "recho-ingress")
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        ports = {
            p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
        }
        service = _k8s("Service", "recho-ingress")["spec"]
        assert service["selector"].items() <= labels.items()
        assert {p["targetPort"] for p in service["ports"]} <= ports
        hpa = _k8s("HorizontalPodAutoscaler", "recho-ingress")["spec"]
        assert hpa["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "recho-ingress",
        }
        assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
        pdb = _k8s("PodDisruptionBudget", "recho-ingress")["spec"]
        assert pdb["selector"]["matchLabels"].items() <= labels.items()
        assert pdb["minAvailable"] < hpa["minReplicas"]


class TestPrometheusConfig:
    def test_local_scrape_targets_are_the_default_ports(self) -> None:
        """prometheus.yml scrapes each process on its default port on this machine."""
        config = _yaml(DEPLOY / "prometheus" / "prometheus.yml")
        targets = {
            job["job_name"]: {t for sc in job["static_configs"] for t in sc["targets"]}
            for job in config["scrape_configs"]
        }
        for command, setting in PORT_SETTING.items():
            assert targets[f"recho-{command}"] == {f"127.0.0.1:{DEFAULTS[setting]}"}

    def test_compose_scrape_targets_are_the_compose_services(self) -> None:
        """prometheus.compose.yml finds every replica of each service on its port."""
        config = _yaml(DEPLOY / "prometheus" / "prometheus.compose.yml")
        services = _compose()["services"]
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
        for name, service in _compose()["services"].items():
            for volume in service.get("volumes", []):
                source = volume.split(":")[0]
                if source.startswith("."):
                    assert (DEPLOY / source).exists(), (name, source)
        prometheus = _compose()["services"]["prometheus"]
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

    def test_every_rule_has_a_firing_and_a_quiet_unit_test(self) -> None:
        """recho.rules.test.yml makes each alert fire once and stay quiet once."""
        firing: set[str] = set()
        quiet: set[str] = set()
        for test in _yaml(RULE_TESTS)["tests"]:
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
        (datasource,) = _yaml(DATASOURCES)["datasources"]
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
        ],
    )
    def test_the_issue_panels_exist(self, fragment: str) -> None:
        """Ingress rate/latency, 401/413/503, lag, calls, outcomes, durations, errors, DLQ."""
        assert any(fragment in target["expr"] for _, target in _targets())

    def test_dashboard_is_provisioned_from_its_mount(self) -> None:
        """Grafana's dashboard provider reads the folder compose mounts the JSON into."""
        (provider,) = _yaml(DASHBOARD_PROVIDERS)["providers"]
        grafana = _compose()["services"]["grafana"]
        mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
        assert mounts["./grafana/dashboards"] == provider["options"]["path"]
        assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
        assert any(p["type"] == "alertlist" for p in _panels())
