"""``processor simulate``: send realistic Recho traffic to an ingress and report what was sent.

The settings flags (``--simulate-rate-per-s``, ``--auth-mode``, ...) come from the CLI; this
module adds the few flags that only make sense here and runs the simulation on uvloop when
it is installed. Ctrl-C (or SIGTERM) stops gracefully: in-flight requests finish, no new
call starts, and the report is printed; a second Ctrl-C aborts at once.

Exit status: 0 if every event sent was accepted, 1 if any was rejected or given up on.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys

from processor.entry import on_signals, run_main
from processor.settings import AuthMode, Settings
from processor.simulate.console import SimulationConsole
from processor.simulate.report import SimulationReport
from processor.simulate.runner import Simulation
from processor.simulate.sender import DEFAULT_RETRY, ensure_key_pair

_DEFAULT_MAX_ATTEMPTS = DEFAULT_RETRY.max_attempts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``processor simulate`` that are not settings."""
    group = parser.add_argument_group("simulate")
    group.add_argument(
        "--print-public-key",
        action="store_true",
        help="make the development RSA key pair in --simulate-key-dir if missing, print the "
        "public key's path and exit; start the ingress with --auth-public-keys-dir set to "
        "that folder to trust the simulator",
    )
    group.add_argument(
        "--max-attempts",
        type=int,
        default=_DEFAULT_MAX_ATTEMPTS,
        metavar="N",
        help="attempts per webhook on 5xx/408/425/429 or transport errors before giving up "
        f"(default {_DEFAULT_MAX_ATTEMPTS}); other 4xx are never retried",
    )
    group.add_argument(
        "--project-id",
        default=None,
        metavar="UUID",
        help="projectId of the simulated traffic (default: the first of "
        "--auth-allowed-project-ids, else a fixed example UUID)",
    )


def command(settings: Settings, args: argparse.Namespace) -> int:
    """Run ``processor simulate``; the exit status."""
    if getattr(args, "print_public_key", False):
        private, public = ensure_key_pair(settings)
        print(public)
        print(
            f"private key: {private}\n"
            f"trust it: processor ingress --auth-mode {AuthMode.SIGNATURE_RSA_SHA256.value} "
            f"--auth-public-keys-dir {public.parent}",
            file=sys.stderr,
        )
        return 0
    if settings.auth_mode is AuthMode.SIGNATURE_RSA_SHA256:
        _, public = ensure_key_pair(settings)
        print(
            f"signing with the key pair in {public.parent}; the ingress must trust it: "
            f"--auth-public-keys-dir {public.parent}",
            file=sys.stderr,
        )
    retry = dataclasses.replace(
        DEFAULT_RETRY, max_attempts=getattr(args, "max_attempts", _DEFAULT_MAX_ATTEMPTS)
    )
    simulation = Simulation(settings, retry=retry, project_id=getattr(args, "project_id", None))
    with SimulationConsole() as console:
        report = run_main(_main(simulation, console))
    console.print_report(report)
    return 1 if report.rejected else 0


async def _main(simulation: Simulation, console: SimulationConsole) -> SimulationReport:
    task = asyncio.current_task()
    assert task is not None  # we are inside run_main

    def on_signal() -> None:
        if simulation.stopping:
            console.note("aborting")
            task.cancel()
            return
        console.note("stopping: finishing in-flight requests (Ctrl-C again to abort)")
        simulation.stop()

    with on_signals(on_signal):
        try:
            return await simulation.run(console.update)
        except asyncio.CancelledError:
            if not simulation.stopping:
                raise
            task.uncancel()  # the second Ctrl-C: report what was done so far
            return simulation.snapshot()
