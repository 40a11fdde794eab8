"""deploy/ agrees with the code: container ports, probe paths and scaling."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from processor.settings import Settings
from tests.unit.deploy.manifests import (
    DEFAULTS,
    K8S,
    PORT_SETTING,
    PROBE_PATHS,
    app_for,
    compose,
    configmap,
    containers,
    get_status,
    k8s,
    k8s_docs,
    settings_from_env,
)


class TestPortsAndProbes:
    def test_container_ports_match_the_settings(self) -> None:
        """Each Deployment's port is its command's port setting, default and ConfigMap alike."""
        secret = k8s("Secret", "recho-processor-secrets")["stringData"]
        config = settings_from_env({**configmap(), **secret})  # what every pod loads
        seen = set()
        for name, container in containers():
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
        for name, container in containers():
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
            app = app_for(command)
            for path in [*sorted(PROBE_PATHS), "/metrics"]:
                assert await get_status(app, path) != 404, (command, path)
            assert await get_status(app, "/no-such-route") == 404

    def test_scrape_annotations_point_at_the_metrics_port(self) -> None:
        """prometheus.io/port and path of each pod name its served /metrics."""
        for doc in k8s_docs():
            if doc["kind"] != "Deployment":
                continue
            template = doc["spec"]["template"]
            command = template["spec"]["containers"][0]["args"][0]
            annotations = template["metadata"]["annotations"]
            assert annotations["prometheus.io/path"] == "/metrics"
            assert int(annotations["prometheus.io/port"]) == DEFAULTS[PORT_SETTING[command]]

    def test_compose_healthchecks_and_ports_match_the_settings(self) -> None:
        """Healthchecks probe /readyz on the configured port; published ports agree."""
        for command in PORT_SETTING:
            name = command  # each compose service is named after its command
            service = compose()["services"][name]
            assert service["command"] == [command], name
            port = getattr(settings_from_env(service["environment"]), PORT_SETTING[command])
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
        services = compose()["services"]
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
        pod = k8s("Deployment", "recho-ingress")["spec"]["template"]["spec"]
        container = pod["containers"][0]
        pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
        drain = float(configmap()["PROCESSOR_INGRESS_DRAIN_TIMEOUT_S"])
        assert pod["terminationGracePeriodSeconds"] > pre_stop + drain


class TestScaling:
    def test_worker_replicas_do_not_exceed_the_partitions(self) -> None:
        """Workers past the partition count would sit idle in the consumer group."""
        replicas = k8s("Deployment", "recho-worker")["spec"]["replicas"]
        partitions = int(configmap()["PROCESSOR_TOPIC_PARTITIONS"])
        assert 1 <= replicas <= partitions == Settings().topic_partitions
        assert "PROCESSOR_TOPIC_PARTITIONS" in (K8S / "worker.yaml").read_text()
        for doc in k8s_docs():
            if doc["kind"] == "HorizontalPodAutoscaler":
                assert doc["spec"]["scaleTargetRef"]["name"] != "recho-worker"

    def test_ingress_service_hpa_and_pdb_select_the_ingress(self) -> None:
        """Service, HPA and PDB all act on the ingress pods; the PDB lets a drain proceed."""
        deployment = k8s("Deployment", "recho-ingress")
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        ports = {
            p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
        }
        service = k8s("Service", "recho-ingress")["spec"]
        assert service["selector"].items() <= labels.items()
        assert {p["targetPort"] for p in service["ports"]} <= ports
        hpa = k8s("HorizontalPodAutoscaler", "recho-ingress")["spec"]
        assert hpa["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "recho-ingress",
        }
        assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
        pdb = k8s("PodDisruptionBudget", "recho-ingress")["spec"]
        assert pdb["selector"]["matchLabels"].items() <= labels.items()
        assert pdb["minAvailable"] < hpa["minReplicas"]
