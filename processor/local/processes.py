"""Child processes of ``processor run``: each pipeline stage as its own process.

Children get their configuration as ``PROCESSOR_*`` variables rendered from
the parent's settings, log to files under the run folder, and are stopped
with SIGTERM (then SIGKILL after a grace period) in reverse start order.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr

from processor.errors import ProcessorError
from processor.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """``PROCESSOR_*`` variables that reproduce ``settings`` in a child process."""
    env: dict[str, str] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list):
            value = ",".join(
                v.get_secret_value() if isinstance(v, SecretStr) else str(v) for v in value
            )
        env[f"PROCESSOR_{name.upper()}"] = str(value)
    return env


@dataclass
class Child:
    """One running child process."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    ready_url: str | None = None


@dataclass
class ProcessTree:
    """Starts, watches and stops the children of a local run."""

    folder: Path
    children: list[Child] = field(default_factory=list)

    def start(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        ready_url: str | None = None,
    ) -> Child:
        """Start a child; its output goes to ``<folder>/logs/<name>.log``."""
        logs = self.folder / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{name}.log"
        with log.open("ab") as handle:
            process = subprocess.Popen(  # noqa: S603 (the project's own commands)
                command,
                env={**os.environ, **env},
                stdout=handle,
                stderr=handle,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the parent only; it stops them
            )
        child = Child(name, process, log, ready_url)
        self.children.append(child)
        return child

    def start_processor(
        self, name: str, subcommand: str, settings: Settings, ready_url: str | None
    ) -> Child:
        """Start ``processor <subcommand>`` with these settings."""
        command = [sys.executable, "-m", "processor", subcommand]
        return self.start(name, command, settings_env(settings), ready_url)

    async def wait_ready(self, timeout_s: float = 60) -> None:
        """Wait until every child with a ready URL answers 200; fail if one exits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        async with httpx.AsyncClient(timeout=2) as client:
            for child in self.children:
                while child.ready_url is not None:
                    if child.process.poll() is not None:
                        raise ProcessorError(
                            f"{child.name} exited ({child.process.returncode}); see {child.log}"
                        )
                    try:
                        if (await client.get(child.ready_url)).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if loop.time() > deadline:
                        raise ProcessorError(f"{child.name} not ready; see {child.log}")
                    await asyncio.sleep(0.2)

    def exited(self) -> list[Child]:
        """Children that stopped on their own."""
        return [c for c in self.children if c.process.poll() is not None]

    def stop(self, grace_s: float = 20) -> None:
        """SIGTERM every child (last started first), then SIGKILL stragglers."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            try:
                child.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


def find_alertmanager() -> str | None:
    """The Alertmanager binary (Debian names it prometheus-alertmanager), if installed."""
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
