"""Simulate the Recho platform: sign and send webhooks like it does.

outcomes (how calls end, the mix) -> scenarios (what each call sends, when; from
lifecycles, gaps) -> envelopes (the POST body) -> runner (many calls in flight; pacing:
rate, stop; report: counts) -> sender (sign, POST, retry) -> an ingress; console shows it,
command is the CLI.
"""

from processor.simulate.envelopes import envelope_bytes
from processor.simulate.outcomes import DEFAULT_MIX, SimulatedOutcome, parse_mix
from processor.simulate.report import LatencySummary, SentEvent, SimulationReport
from processor.simulate.runner import Simulation, simulate
from processor.simulate.scenarios import PlannedEvent, plan_call
from processor.simulate.sender import (
    DEFAULT_RETRY,
    Delivery,
    DeliveryResult,
    Sender,
    ensure_key_pair,
)
from processor.simulate.signer import Signer, generate_key_pair

__all__ = [
    "DEFAULT_MIX",
    "DEFAULT_RETRY",
    "Delivery",
    "DeliveryResult",
    "LatencySummary",
    "PlannedEvent",
    "Sender",
    "SentEvent",
    "Signer",
    "SimulatedOutcome",
    "Simulation",
    "SimulationReport",
    "ensure_key_pair",
    "envelope_bytes",
    "generate_key_pair",
    "parse_mix",
    "plan_call",
    "simulate",
]
