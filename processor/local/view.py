"""The live console of ``processor run``: what the pipeline is doing, from its own metrics.

Scrapes the ingress's and the worker's ``/metrics`` once a second, follows the
alerts topic, and renders calls by status, rates, lag and the latest alerts
with rich (or prints a plain line every few seconds when not on a terminal).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

Samples = dict[str, list[tuple[dict[str, str], float]]]


async def scrape(client: httpx.AsyncClient, url: str) -> Samples:
    """Samples by name from one /metrics endpoint (empty if it does not answer)."""
    try:
        text = (await client.get(url)).text
    except httpx.TransportError:
        return {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels match."""
    return sum(
        value
        for sample_labels, value in samples.get(name, [])
        if all(sample_labels.get(k) == v for k, v in labels.items())
    )


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    """A metric's values summed by one label."""
    out: dict[str, float] = {}
    for sample_labels, value in samples.get(name, []):
        key = sample_labels.get(label, "")
        out[key] = out.get(key, 0.0) + value
    return out


@dataclass
class AlertLine:
    """One alert as the console shows it."""

    at: str
    call_id: str
    kind: str
    severity: str
    codes: str
    summary: str


@dataclass
class Dashboard:
    """State of the live view between refreshes."""

    urls: dict[str, str]
    alerts: deque[AlertLine] = field(default_factory=lambda: deque(maxlen=8))
    alerts_seen: int = 0
    last: tuple[float, float, float] | None = None  # time, accepted, processed
    accepted_per_s: float = 0.0
    processed_per_s: float = 0.0
    ingress: Samples = field(default_factory=dict)
    worker: Samples = field(default_factory=dict)
    simulator: str = ""

    def add_alert(self, raw: bytes) -> AlertLine:
        """Record an alert record from the alerts topic."""
        alert = orjson.loads(raw)
        line = AlertLine(
            at=time.strftime("%H:%M:%S"),
            call_id=str(alert.get("callId")),
            kind=str(alert.get("kind")),
            severity=str(alert.get("severity")),
            codes=",".join(alert.get("errorCodes") or []) or "-",
            summary=str(alert.get("summary", ""))[:90],
        )
        self.alerts.appendleft(line)
        self.alerts_seen += 1
        return line

    def update(self, ingress: Samples, worker: Samples) -> None:
        """Take new scrapes and derive rates."""
        self.ingress, self.worker = ingress, worker
        now = time.monotonic()
        accepted = total(ingress, "recho_ingress_requests_total", route="webhook", status="202")
        processed = total(worker, "recho_worker_events_total")
        if self.last is not None:
            elapsed = max(now - self.last[0], 1e-6)
            self.accepted_per_s = max(accepted - self.last[1], 0) / elapsed
            self.processed_per_s = max(processed - self.last[2], 0) / elapsed
        self.last = (now, accepted, processed)

    def line(self) -> str:
        """A one-line summary for non-terminal output."""
        active = sum(by_label(self.worker, "recho_worker_active_calls", "status").values())
        lag = total(self.worker, "recho_worker_consumer_lag_records")
        return (
            f"accepted {self.accepted_per_s:.0f}/s, processed {self.processed_per_s:.0f}/s, "
            f"active calls {active:.0f}, lag {lag:.0f} records, alerts {self.alerts_seen}"
        )

    def render(self) -> Group:
        """The rich renderable of the whole view."""
        calls = Table(title="Calls in progress by status", expand=True)
        calls.add_column("status")
        calls.add_column("calls", justify="right")
        active = by_label(self.worker, "recho_worker_active_calls", "status")
        for status, count in sorted(active.items()):
            if count:
                calls.add_row(status, f"{count:.0f}")
        outcomes = Table(title="Finished calls by outcome", expand=True)
        outcomes.add_column("outcome")
        outcomes.add_column("calls", justify="right")
        finished = by_label(self.worker, "recho_worker_calls_finished_total", "outcome")
        for outcome, count in sorted(finished.items(), key=lambda kv: -kv[1]):
            outcomes.add_row(outcome, f"{count:.0f}")
        rates = Table.grid(padding=(0, 2))
        lag = total(self.worker, "recho_worker_consumer_lag_records")
        lag_by_partition = by_label(self.worker, "recho_worker_consumer_lag_seconds", "partition")
        lag_s = max(lag_by_partition.values(), default=0.0)
        rates.add_row("webhooks accepted", f"{self.accepted_per_s:,.0f}/s")
        rates.add_row("events processed", f"{self.processed_per_s:,.0f}/s")
        rates.add_row("consumer lag", f"{lag:,.0f} records, {lag_s:.1f} s")
        rates.add_row("alerts raised", f"{self.alerts_seen}")
        rates.add_row("dead letters", f"{total(self.worker, 'recho_worker_dlq_records_total'):.0f}")
        rates.add_row("simulator", self.simulator)
        alerts = Table(title="Latest alerts", expand=True)
        for column in ("time", "callId", "kind", "severity", "codes", "summary"):
            alerts.add_column(column, overflow="fold")
        for a in self.alerts:
            style = "red" if a.severity == "critical" else "yellow"
            alerts.add_row(a.at, a.call_id, a.kind, a.severity, a.codes, a.summary, style=style)
        urls = Table.grid(padding=(0, 2))
        for name, url in self.urls.items():
            urls.add_row(name, url)
        top = Table.grid(expand=True)
        top.add_column(ratio=1)
        top.add_column(ratio=1)
        top.add_column(ratio=1)
        top.add_row(calls, outcomes, Panel(rates, title="Pipeline"))
        return Group(
            Panel(urls, title="recho-processor: local run (Ctrl-C stops everything)"),
            top,
            alerts,
        )


def console() -> Console:
    """The console the view writes to."""
    return Console()
