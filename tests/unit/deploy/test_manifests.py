"""deploy/ agrees with the code: the manifests parse, every PROCESSOR_* name is a setting,
the commands, images and the Dockerfile are the ones the package has."""

from __future__ import annotations

import json
import re
import tomllib
from urllib.parse import urlsplit

import yaml

from processor.cli import commands
from processor.explorer.api import check_exposure, is_loopback
from tests.unit.deploy.manifests import (
    DEFAULTS,
    DEPLOY,
    IMAGE,
    K8S,
    PORT_SETTING,
    REPO,
    compose,
    configmap,
    containers,
    dockerfile,
    env_names,
    interpolate,
    k8s,
    k8s_docs,
    load_yaml,
    pod_env,
    pod_specs,
    processor_services,
    secret_env,
    settings_from_env,
    unknown_settings,
)


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
        for doc in k8s_docs():
            assert {"apiVersion", "kind", "metadata"} <= doc.keys(), doc
            if doc["kind"] != "Namespace":
                assert doc["metadata"].get("namespace") == "recho", doc["metadata"]

    def test_kustomization_lists_every_manifest(self) -> None:
        """`kubectl apply -k deploy/k8s` applies every file of the folder."""
        kustomization = load_yaml(K8S / "kustomization.yaml")
        files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
        assert set(kustomization["resources"]) == files


class TestSettingsNames:
    def test_compose_uses_only_real_settings(self) -> None:
        """Every PROCESSOR_* variable of docker-compose.yml is a field of Settings."""
        for name, service in processor_services().items():
            assert not unknown_settings(env_names(service["environment"])), name

    def test_compose_values_are_valid_settings(self) -> None:
        """Each processor service's environment builds valid Settings."""
        for service in processor_services().values():
            settings_from_env(service["environment"])

    def test_kubernetes_uses_only_real_settings(self) -> None:
        """ConfigMap, Secrets and container env name only fields of Settings."""
        names = env_names(configmap())
        for doc in k8s_docs():
            if doc["kind"] == "Secret":
                names |= env_names(doc["stringData"])
        for _, container in containers():
            names |= env_names({e["name"]: e for e in container.get("env", [])})
        assert names
        assert not unknown_settings(names)

    def test_configmap_values_are_valid_settings(self) -> None:
        """The ConfigMap with the Secret builds valid Settings, and so does what each
        container loads (the explorer's own Secret included)."""
        secret = k8s("Secret", "recho-processor-secrets")["stringData"]
        settings_from_env({**configmap(), **secret})
        for _, container in containers():
            settings_from_env(pod_env(container))

    def test_containers_load_only_objects_that_exist(self) -> None:
        """envFrom and secret volumes name ConfigMaps and Secrets of the manifests."""
        present = {(d["kind"], d["metadata"]["name"]) for d in k8s_docs()}
        for name, pod in pod_specs():
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
        folder = configmap()["PROCESSOR_KAFKA_SSL_CA_FILE"].rsplit("/", 1)[0]
        secret = k8s("Secret", "recho-processor-secrets")["stringData"]
        assert {"PROCESSOR_KAFKA_SASL_USERNAME", "PROCESSOR_KAFKA_SASL_PASSWORD"} <= set(secret)
        assert "ca.pem" in k8s("Secret", "recho-kafka-tls")["stringData"]
        kafka_pods = {"ingress", "worker", "notifier", "explorer", "topics"}
        checked = set()
        for _name, c in containers():
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
            for name, c in containers()
            if name == "recho-ingress"
            for m in c["volumeMounts"]
        }
        assert configmap()["PROCESSOR_AUTH_PUBLIC_KEYS_DIR"] in mounts

    def test_dockerfile_sets_only_real_settings(self) -> None:
        """The ENV lines of the Dockerfile name only fields of Settings."""
        names = set(re.findall(r"\b(PROCESSOR_[A-Z0-9_]+)=", dockerfile()))
        assert names
        assert not unknown_settings(names)


class TestCommandsAndImages:
    def test_every_process_runs_the_one_image(self) -> None:
        """Compose and Kubernetes run the same recho-processor image and tag."""
        images = {s["image"] for s in processor_services().values()}
        images |= {c["image"] for _, c in containers()}
        assert len(images) == 1, images
        assert images.pop().split(":")[0] == IMAGE

    def test_every_process_runs_a_real_subcommand(self) -> None:
        """The first argument of each container is a `processor` subcommand."""
        known = set(commands())
        argvs = [s["command"] for s in processor_services().values()]
        argvs += [c["args"] for _, c in containers()]
        for argv in argvs:
            assert argv[0] in known, argv
        assert {"ingress", "worker", "notifier", "explorer", "topics"} <= {a[0] for a in argvs}

    def test_topics_are_created_before_the_pipeline_starts(self) -> None:
        """Compose and Kubernetes both run `processor topics create`."""
        assert compose()["services"]["topics"]["command"] == ["topics", "create"]
        job = k8s("Job", "recho-topics")["spec"]["template"]["spec"]
        assert job["containers"][0]["args"] == ["topics", "create"]
        for name in ("ingress", "worker", "notifier", "explorer"):
            condition = compose()["services"][name]["depends_on"]["topics"]["condition"]
            assert condition == "service_completed_successfully"

    def test_compose_runs_every_part(self) -> None:
        """Compose has KRaft Kafka from apache/kafka, the processes and the monitoring."""
        services = compose()["services"]
        wanted = {"kafka", "topics", "ingress", "worker", "notifier", "explorer", "postgres"}
        assert wanted | {"prometheus", "alertmanager", "grafana"} <= services.keys()
        kafka = services["kafka"]
        assert kafka["image"].startswith("apache/kafka:")
        assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
        advertised = kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]
        for service in processor_services().values():
            bootstrap = service["environment"]["PROCESSOR_KAFKA_BOOTSTRAP_SERVERS"]
            assert f"//{bootstrap}" in advertised

    def test_compose_builds_the_dockerfile(self) -> None:
        """The build section points at deploy/Dockerfile from the repository root."""
        for service in processor_services().values():
            build = service["build"]
            context = (DEPLOY / build["context"]).resolve()
            assert context == REPO
            assert (context / build["dockerfile"]).is_file()


class TestExplorer:
    def test_explorer_would_start_where_it_is_deployed(self) -> None:
        """Compose and Kubernetes bind the explorer beyond loopback, so each gives it
        tokens (it refuses to start otherwise) and a PostgreSQL store."""
        in_compose = settings_from_env(compose()["services"]["explorer"]["environment"])
        (in_k8s,) = [
            settings_from_env(pod_env(c)) for _, c in containers() if c["args"] == ["explorer"]
        ]
        for settings in (in_compose, in_k8s):
            assert not is_loopback(settings.explorer_host)  # reachable from outside its pod
            assert check_exposure(settings) is not None  # tokens, not a ConfigError
            assert settings.explorer_postgres_dsn is not None

    def test_compose_explorer_uses_the_compose_postgres(self) -> None:
        """The DSN names the postgres service, its user and database; the explorer waits
        for its healthcheck; the data lives in a named volume."""
        services = compose()["services"]
        postgres = services["postgres"]
        assert postgres["image"].split(":")[0] == "postgres"
        env = postgres["environment"]
        dsn = settings_from_env(services["explorer"]["environment"]).explorer_postgres_dsn
        assert dsn is not None
        url = urlsplit(dsn.get_secret_value())
        assert (url.scheme, url.hostname, url.port) == ("postgresql", "postgres", 5432)
        assert url.username == env["POSTGRES_USER"]
        assert url.password == interpolate(env["POSTGRES_PASSWORD"])
        assert url.path == "/" + env["POSTGRES_DB"]
        assert env["POSTGRES_DB"] in " ".join(postgres["healthcheck"]["test"])
        condition = services["explorer"]["depends_on"]["postgres"]["condition"]
        assert condition == "service_healthy"
        (volume,) = postgres["volumes"]
        source, target = volume.split(":")
        assert target == "/var/lib/postgresql/data"
        assert source in compose()["volumes"]

    def test_explorer_secrets_reach_the_explorer_only(self) -> None:
        """The DSN and tokens come from recho-explorer-secrets, which no other pod loads."""
        secret = secret_env("recho-explorer-secrets")
        assert {"PROCESSOR_EXPLORER_TOKENS", "PROCESSOR_EXPLORER_POSTGRES_DSN"} <= set(secret)
        shared = secret_env("recho-processor-secrets")
        assert not {k for k in shared if k.startswith("PROCESSOR_EXPLORER_")}
        assert not {k for k in configmap() if k in secret}
        for name, container in containers():
            refs = {s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s}
            assert ("recho-explorer-secrets" in refs) == (container["args"] == ["explorer"]), name

    def test_explorer_service_and_replicas(self) -> None:
        """The Service selects the explorer pods on its named port; one replica (every
        pod writes everything: see explorer.yaml), never surged past two at a rollout."""
        deployment = k8s("Deployment", "recho-explorer")
        template = deployment["spec"]["template"]
        ports = {p["name"] for p in template["spec"]["containers"][0]["ports"]}
        service = k8s("Service", "recho-explorer")["spec"]
        assert service["selector"].items() <= template["metadata"]["labels"].items()
        assert {p["targetPort"] for p in service["ports"]} <= ports
        assert deployment["spec"]["replicas"] == 1
        rolling = deployment["spec"]["strategy"]["rollingUpdate"]
        assert (rolling["maxSurge"], rolling["maxUnavailable"]) == (1, 0)


class TestDockerfile:
    def test_entrypoint_is_the_console_script(self) -> None:
        """ENTRYPOINT ["processor"], the console script pyproject.toml declares."""
        line = re.search(r"^ENTRYPOINT\s+(.+)$", dockerfile(), re.MULTILINE)
        assert line is not None
        assert json.loads(line.group(1)) == ["processor"]
        scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
        assert "processor" in scripts

    def test_base_install_and_user(self) -> None:
        """python:3.11-slim, the locked install of files that exist, a non-root user."""
        text = dockerfile()
        assert re.search(r"^FROM python:3\.11-slim\s*$", text, re.MULTILINE)
        assert "pip install ." not in text
        for sources in re.findall(r"^COPY\s+(.+)\s+\S+$", text, re.MULTILINE):
            for source in sources.split():
                assert (REPO / source).exists(), source
        user = re.findall(r"^USER\s+(\S+)$", text, re.MULTILINE)
        assert user
        assert user[-1].split(":")[0] not in ("root", "0")

    def test_installs_the_lock_with_the_makefiles_uv(self) -> None:
        """The image installs uv.lock (``uv sync --locked``, no dev extra) with the uv
        version the Makefile bootstraps, so image and checkout run the same versions."""
        text = dockerfile()
        makefile = (REPO / "Makefile").read_text()
        wanted = re.search(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE)
        assert wanted is not None
        assert f"pip install uv=={wanted.group(1)}" in text
        sync = re.search(r"uv sync [^\\\n]+", text)
        assert sync is not None
        assert "--locked" in sync.group(0)
        assert "--extra" not in sync.group(0)
        assert re.search(r"^COPY .*\buv\.lock\b", text, re.MULTILINE)

    def test_exposes_every_process_port(self) -> None:
        """EXPOSE lists the ingress port and the worker and notifier ops ports."""
        exposed = re.search(r"^EXPOSE\s+(.+)$", dockerfile(), re.MULTILINE)
        assert exposed is not None
        expected = {DEFAULTS[setting] for setting in PORT_SETTING.values()}
        assert {int(p) for p in exposed.group(1).split()} == expected

    def test_kubernetes_runs_as_the_image_user(self) -> None:
        """runAsUser of every pod is the Dockerfile's numeric USER."""
        uid = int(re.findall(r"^USER\s+(\d+)", dockerfile(), re.MULTILINE)[-1])
        for name, pod in pod_specs():
            assert pod["securityContext"]["runAsNonRoot"] is True, name
            assert pod["securityContext"]["runAsUser"] == uid, name
