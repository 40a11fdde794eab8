"""``processor run`` / ``make run``: Kafka, topics, ingress, worker, notifier, traffic, live view.

Everything a newcomer needs to watch the pipeline work on a laptop: the
simulator signs its webhooks with a development RSA key the ingress trusts,
errored calls raise alerts that reach a local Alertmanager (when installed),
and Ctrl-C stops the whole tree, including the broker if this command
started it. Every port is a setting, and everything the run writes (child
logs, the key pair, Alertmanager's storage) goes under ``run_dir``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
from rich.live import Live

from processor.entry import run_main, stop_event
from processor.kafka.admin import create_topics, probe
from processor.kafka.tail import tail
from processor.local.processes import ProcessTree, find_alertmanager
from processor.local.view import Dashboard, console, scrape
from processor.settings import AuthMode, Settings
from processor.simulate.runner import Simulation
from processor.simulate.sender import ensure_key_pair

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
ALERTMANAGER_CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"


def local_settings(settings: Settings) -> Settings:
    """The settings of a local run: signed traffic, quicker calls, a local Alertmanager."""
    chosen = settings.model_fields_set
    updates: dict[str, object] = {}
    if "simulate_key_dir" not in chosen:
        updates["simulate_key_dir"] = settings.run_dir / "keys"
    if "auth_mode" not in chosen:
        updates["auth_mode"] = AuthMode.SIGNATURE_RSA_SHA256
    if "simulate_time_scale" not in chosen:
        updates["simulate_time_scale"] = 0.1  # a 75 s conversation takes 7.5 s
    if "simulate_target_url" not in chosen:
        port, path = settings.ingress_port, settings.ingress_path
        updates["simulate_target_url"] = f"http://127.0.0.1:{port}{path}"
    if "worker_stall_after_s" not in chosen:
        updates["worker_stall_after_s"] = 60.0
    return settings.model_copy(update=updates)


def kafka_env(settings: Settings) -> dict[str, str]:
    """The environment of ``deploy/kafka/kafka.sh`` for a broker at the bootstrap servers.

    KAFKA_HOME is left to the caller's environment (default: the repository's .kafka).
    """
    first = settings.kafka_bootstrap_servers.split(",")[0].strip()
    _, _, port = first.rpartition(":")
    return {
        **dict(os.environ),
        "PYTHON": sys.executable,
        "KAFKA_PORT": port if port.isdigit() else "9092",
        "KAFKA_CONTROLLER_PORT": str(settings.run_kafka_controller_port),
    }


async def _kafka_up(settings: Settings, start: bool) -> bool:
    """Make sure a broker answers; return True if this run started it."""
    try:
        await probe(settings.kafka_bootstrap_servers, 3, settings)
        return False
    except Exception:
        if not start:
            raise
    await asyncio.to_thread(
        subprocess.run, ["bash", str(KAFKA_SH), "up"], check=True, env=kafka_env(settings)
    )
    return True


async def run_local(
    settings: Settings, *, start_kafka: bool, stop: asyncio.Event | None = None
) -> int:
    """Run the whole pipeline until Ctrl-C (or ``stop``); return the exit code."""
    settings = local_settings(settings)
    out = console()
    out.print("[bold]recho-processor[/]: starting Kafka, topics and the pipeline ...")
    started_kafka = await _kafka_up(settings, start_kafka)
    created = await create_topics(settings)
    out.print(f"topics ready ({len(created)} created) on {settings.kafka_bootstrap_servers}")
    if (
        settings.auth_mode is AuthMode.SIGNATURE_RSA_SHA256
        and settings.auth_public_keys_dir is None
    ):
        _, public = ensure_key_pair(settings)
        settings = settings.model_copy(
            update={"auth_public_keys_dir": public.parent, "simulate_key_dir": public.parent}
        )
    tree = ProcessTree(settings.run_dir)
    urls = _start_children(tree, settings)
    with stop_event(stop) as stopping:  # also through the clean-up: Ctrl-C stops once
        try:
            await tree.wait_ready()
            simulation = Simulation(settings)
            traffic = asyncio.create_task(simulation.run())
            await _watch(settings, tree, Dashboard(urls), simulation, stopping)
            simulation.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(traffic, 15)
        finally:
            out.print("stopping the pipeline ...")
            tree.stop()
            if started_kafka:
                await asyncio.to_thread(
                    subprocess.run,
                    ["bash", str(KAFKA_SH), "down"],
                    check=False,
                    env=kafka_env(settings),
                )
            out.print(f"stopped; logs are in {settings.run_dir / 'logs'}")
    return 0


def alertmanager_command(binary: str, settings: Settings) -> list[str]:
    """Alertmanager on 127.0.0.1:``run_alertmanager_port``, storing under ``run_dir``."""
    return [
        binary,
        f"--config.file={ALERTMANAGER_CONFIG}",
        f"--storage.path={settings.run_dir / 'alertmanager'}",
        f"--web.listen-address=127.0.0.1:{settings.run_alertmanager_port}",
        "--cluster.listen-address=",  # one instance; no gossip port to collide
    ]


def _start_children(tree: ProcessTree, settings: Settings) -> dict[str, str]:
    host = "127.0.0.1"
    ingress = f"http://{host}:{settings.ingress_port}"
    worker = f"http://{host}:{settings.worker_metrics_port}"
    urls = {
        "webhook endpoint": ingress + settings.ingress_path,
        "ingress /metrics": ingress + "/metrics",
        "worker /metrics": worker + "/metrics",
    }
    alertmanager = find_alertmanager()
    if alertmanager and not settings.notifier_alertmanager_url and ALERTMANAGER_CONFIG.exists():
        url = f"http://{host}:{settings.run_alertmanager_port}"
        tree.start(
            "alertmanager",
            alertmanager_command(alertmanager, settings),
            {},
            ready_url=f"{url}/-/ready",
        )
        settings = settings.model_copy(update={"notifier_alertmanager_url": url})
    tree.start_processor("ingress", "ingress", settings, ingress + "/readyz")
    tree.start_processor("worker", "worker", settings, worker + "/readyz")
    explorer = f"http://{host}:{settings.explorer_port}"
    tree.start_processor("explorer", "explorer", settings, explorer + "/readyz")
    urls["call explorer"] = explorer + "/"
    sinks = (
        settings.notifier_alertmanager_url,
        settings.notifier_webhook_url,
        settings.notifier_slack_url,
    )
    if any(sinks):
        notifier = f"http://{host}:{settings.notifier_metrics_port}"
        tree.start_processor("notifier", "notifier", settings, notifier + "/readyz")
        urls["notifier /metrics"] = notifier + "/metrics"
        if settings.notifier_alertmanager_url:
            urls["Alertmanager"] = settings.notifier_alertmanager_url + "/#/alerts"
    return urls


async def _watch(
    settings: Settings,
    tree: ProcessTree,
    board: Dashboard,
    simulation: Simulation,
    stop: asyncio.Event,
) -> None:
    out = console()
    ingress = f"http://127.0.0.1:{settings.ingress_port}/metrics"
    worker = f"http://127.0.0.1:{settings.worker_metrics_port}/metrics"

    async def follow_alerts() -> None:
        async for record in tail(settings, settings.topic_call_alerts, role="console"):
            if record.value is not None:
                line = board.add_alert(record.value)
                if not out.is_terminal:
                    out.print(f"ALERT {line.severity} {line.call_id} {line.kind} {line.codes}")

    alerts = asyncio.create_task(follow_alerts())
    ticks = 0
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            live_view = Live(board.render(), console=out, refresh_per_second=2)
            with live_view if out.is_terminal else contextlib.nullcontext() as live:
                if live is None:
                    for name, url in board.urls.items():
                        out.print(f"{name}: {url}")
                while not stop.is_set():
                    board.update(await scrape(client, ingress), await scrape(client, worker))
                    report = simulation.snapshot()
                    board.simulator = (
                        f"sent {report.sent}, accepted {report.accepted}, retried {report.retried}"
                    )
                    if live is not None:
                        live.update(board.render())
                    elif ticks % 5 == 0:
                        out.print(board.line())
                    if dead := tree.exited():
                        out.print(f"[red]{dead[0].name} exited; see {dead[0].log}[/]")
                        return
                    ticks += 1
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
    finally:
        alerts.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await alerts


def command(settings: Settings, start_kafka: bool) -> int:
    """Entry point for the CLI."""
    return run_main(run_local(settings, start_kafka=start_kafka))
