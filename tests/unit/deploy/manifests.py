"""deploy/ loaded as data for the manifest tests, and the names the code really has.

No Docker engine or cluster exists where the suite runs, so the manifests are
checked statically: they parse, and every image, port, ``PROCESSOR_*`` name,
probe path and metric name they use is one the code really has. A renamed
setting, route or metric then fails here instead of in a user's cluster.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import yaml

from processor import metrics
from processor.explorer.api import ExplorerApp
from processor.explorer.backends import open_store
from processor.http.ops import OpsApp
from processor.ingress.server import create_app
from processor.settings import Settings
from tests.support.asgi import get

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
    "explorer": "explorer_port",
}
PROBE_PATHS = {"/healthz", "/readyz"}
GRAFANA_VARIABLES = {"$__rate_interval", "$__interval"}
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}


# --- loading -------------------------------------------------------------------
def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def k8s_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue  # kustomize's own file, not an object of the cluster
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs


def k8s(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in k8s_docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def configmap() -> dict[str, str]:
    data: dict[str, str] = k8s("ConfigMap", "recho-processor-config")["data"]
    return data


def secret_env(name: str = "recho-processor-secrets") -> dict[str, str]:
    data: dict[str, str] = k8s("Secret", name)["stringData"]
    return data


def pod_env(container: dict[str, Any]) -> dict[str, str]:
    """The variables a container loads: its envFrom ConfigMaps and Secrets, then env."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(k8s("ConfigMap", source["configMapRef"]["name"])["data"])
        if "secretRef" in source:
            env.update(secret_env(source["secretRef"]["name"]))
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in k8s_docs():
        if doc["kind"] in ("Deployment", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, pod in pod_specs():
        for container in pod["containers"]:
            yield name, container


def compose() -> dict[str, Any]:
    compose: dict[str, Any] = load_yaml(DEPLOY / "docker-compose.yml")
    return compose


def processor_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("image", "").split(":")[0] == IMAGE
    }


_INTERPOLATION = re.compile(r"\$\{\w+:-([^}]*)\}")


def interpolate(value: str) -> str:
    """A compose value with each ${VAR:-default} replaced by its default."""
    return _INTERPOLATION.sub(r"\1", value)


def settings_from_env(env: dict[str, Any]) -> Settings:
    """Settings as a process with exactly these PROCESSOR_* variables would build them."""
    environ = {
        key: interpolate(str(value)) for key, value in env.items() if key.startswith("PROCESSOR_")
    }
    with mock.patch.dict(os.environ, environ, clear=True):
        return Settings()


def env_names(env: dict[str, Any]) -> set[str]:
    return {key for key in env if key.startswith("PROCESSOR_")}


def unknown_settings(names: set[str]) -> set[str]:
    return {n for n in names if n.removeprefix("PROCESSOR_").lower() not in Settings.model_fields}


def dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


async def get_status(app: Any, path: str) -> int:
    """The status an ASGI app answers to ``GET path``."""
    status, _ = await get(app, path)
    return status


def app_for(command: str) -> Any:
    if command == "ingress":
        return create_app(Settings())
    if command == "explorer":
        # The ops routes never touch the store: it is built but never opened.
        store = open_store(Settings(explorer_db_path=Path("/nonexistent/explorer.db")))
        return ExplorerApp(Settings(), store, lambda: True)
    registry = metrics.WORKER_REGISTRY if command == "worker" else metrics.NOTIFIER_REGISTRY
    return OpsApp(lambda: True, registry)
