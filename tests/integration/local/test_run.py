"""``processor run`` as a newcomer starts it: ports from settings, state in one folder."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from processor.local.processes import find_alertmanager, settings_env
from processor.settings import Settings
from tests.support.servers import free_port


async def _wait_ok(client: httpx.AsyncClient, url: str, proc: subprocess.Popen[bytes]) -> bool:
    for _ in range(600):
        if proc.poll() is not None:
            return False
        try:
            if (await client.get(url)).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    return False


class TestProcessorRun:
    async def test_ports_are_settings_and_state_stays_in_run_dir(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        """With every port moved off its default and PROCESSOR_RUN_DIR set, `processor run`
        serves on those ports (Alertmanager included) and writes nothing into the folder it
        was started from: logs, keys and Alertmanager's storage are all under the run dir."""
        cwd, state = tmp_path / "cwd", tmp_path / "state"
        cwd.mkdir()
        names = ("ingress", "worker", "notifier", "alertmanager", "explorer")
        ports = {name: free_port() for name in names}
        env = {
            **os.environ,
            **settings_env(settings),
            "PROCESSOR_INGRESS_PORT": str(ports["ingress"]),
            "PROCESSOR_WORKER_METRICS_PORT": str(ports["worker"]),
            "PROCESSOR_NOTIFIER_METRICS_PORT": str(ports["notifier"]),
            "PROCESSOR_RUN_ALERTMANAGER_PORT": str(ports["alertmanager"]),
            "PROCESSOR_EXPLORER_PORT": str(ports["explorer"]),
            "PROCESSOR_RUN_DIR": str(state),
            "PROCESSOR_SIMULATE_RATE_PER_S": "20",
        }
        for unset in ("PROCESSOR_SIMULATE_TARGET_URL", "PROCESSOR_AUTH_MODE"):
            env.pop(unset, None)  # let `run` choose them, as it does for a newcomer
        with (tmp_path / "run.out").open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "processor", "run"], cwd=cwd, env=env, stdout=out, stderr=out
            )
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                worker = f"http://127.0.0.1:{ports['worker']}/readyz"
                assert await _wait_ok(client, worker, proc), (tmp_path / "run.out").read_text()
                ingress = f"http://127.0.0.1:{ports['ingress']}/readyz"
                assert await _wait_ok(client, ingress, proc)
                explorer = f"http://127.0.0.1:{ports['explorer']}/readyz"
                assert await _wait_ok(client, explorer, proc)
                if find_alertmanager():
                    alertmanager = f"http://127.0.0.1:{ports['alertmanager']}/-/ready"
                    assert await _wait_ok(client, alertmanager, proc)
                    notifier = f"http://127.0.0.1:{ports['notifier']}/readyz"
                    assert await _wait_ok(client, notifier, proc)
        finally:
            proc.send_signal(signal.SIGINT)
            await asyncio.to_thread(proc.wait, 60)
        assert sorted(p.name for p in cwd.iterdir()) == []
        assert (state / "logs" / "ingress.log").exists()
        assert list((state / "keys").glob("*.pem"))
        assert (state / "explorer.db").exists()
        if find_alertmanager():
            assert (state / "alertmanager").is_dir()
