"""``make bench-ingress``: signed webhooks/s and latency of the ingress, with references.

Same run, same broker, same machine:
  (a) Kafka's ProducerPerformance at the same record size with acks=all;
  (b) a naive receiver awaiting one aiokafka ``send_and_wait`` per request;
  (c) a straightforward Go server (net/http, crypto/rsa, franz-go; tests/bench/goref),
      the same verification, acks=all, idempotent, 202 after the ack;
  (d) the project's ingress (RSA-SHA256 verification, ``--workers N``).
Each server's CPU time (its processes and their children, from /proc) is read
around every run, giving CPU microseconds per answered request.
Load comes from wrk over pre-signed ~1 KB bodies with varied callIds (signed
afresh before each phase, so no timestamp leaves the ±300 s window).
Saturation runs are repeated and the median kept; a paced run at 2,000/s
(delay per connection calibrated to hit the rate) gives latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from processor.kafka.admin import create_topics
from processor.settings import Settings
from processor.simulate.signer import Signer, generate_key_pair
from tests.factories import make_envelope, make_error, to_bytes

REPO = Path(__file__).resolve().parents[2]
LUA = Path(__file__).with_name("wrk_requests.lua")
GOREF = REPO / ".bench" / "goref"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
STATUSES = ["PENDING", "REQUESTED", "CALLING", "CLOSING", "COMPLETED"]


def make_requests(path: Path, signer: Signer, count: int, calls: int) -> int:
    """Write ``count`` signed requests (timestamp, signature, body); return the median size."""
    now = int(time.time())
    sizes = []
    with path.open("w") as out:
        for i in range(count):
            call_id = f"bench-{uuid.uuid4().hex[:12]}-{i % calls}"
            status = STATUSES[i % len(STATUSES)]
            errors = [make_error()] if i % 10 == 0 else []
            payload = make_envelope(
                event_type=f"OUTBOUND_CALL_{status}", call_id=call_id, errors=errors
            )
            text = f"callId: {call_id}\ncallStatus: {status}\n{'x' * 600}\nTime: 2026-06-01"
            payload["body"]["text"] = text
            body = to_bytes(payload)
            sizes.append(len(body))
            signed = signer.sign(body, now)
            timestamp, signature = signed["X-Recho-Timestamp"], signed["X-Recho-Signature"]
            out.write(f"{timestamp}\t{signature}\t{body.decode()}\n")
    return int(statistics.median(sizes))


def wrk(
    url: str, data: Path, seconds: int, connections: int, delay_ms: float = 0
) -> dict[str, float]:
    """Run wrk; return requests/s, non-2xx answers, p50/p99 latency in ms."""
    threads = 1 if delay_ms else 2
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
        "-s", str(LUA), url, "--", str(data), f"{delay_ms:.3f}",
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "requests": float(total.group(1)) if total else 0.0,
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
    }


def _latency(out: str, label: str) -> float:
    match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def paced(server: Server, data: Path, seconds: int, rate: int) -> dict[str, float]:
    """A run near ``rate`` requests/s: calibrate the per-connection delay, then measure."""
    connections = 64
    delay_ms = 1000 * connections / rate
    probe = wrk(server.url, data, 4, connections, delay_ms)
    cycle_ms = 1000 * connections / max(probe["rps"], 1.0)
    overhead_ms = max(cycle_ms - delay_ms, 0.0)
    delay_ms = max(1000 * connections / rate - overhead_ms, 0.1)
    return server.measure(data, seconds, connections, delay_ms)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live descendants, from /proc."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@dataclass
class Server:
    """One receiver under test: how to start it, where it answers, what it measured."""

    name: str
    command: list[str]
    env: dict[str, str]
    port: int
    path: str = "/webhooks/recho"
    health: str = "/healthz"
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    runs: list[dict[str, float]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def measure(
        self, data: Path, seconds: int, connections: int, delay_ms: float = 0
    ) -> dict[str, float]:
        """One wrk run, with this server's CPU time per answered request."""
        assert self.proc is not None
        before = cpu_seconds(self.proc.pid)
        run = wrk(self.url, data, seconds, connections, delay_ms)
        used = cpu_seconds(self.proc.pid) - before
        run["cpu_us"] = 1e6 * used / max(run["requests"], 1.0)
        run["cores"] = used / seconds
        return run


def producer_perf(bootstrap: str, topic: str, records: int, size: int) -> float:
    """Kafka's ProducerPerformance records/s at this record size with acks=all."""
    command = [
        "bash", str(KAFKA_SH), "class", "org.apache.kafka.tools.ProducerPerformance",
        "--topic", topic, "--num-records", str(records), "--record-size", str(size),
        "--throughput", "-1", "--producer-props", f"bootstrap.servers={bootstrap}",
        "acks=all", "linger.ms=5", "batch.size=262144",
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    last = [line for line in out.splitlines() if "records sent" in line][-1]
    found = re.search(r"([\d.]+) records/sec", last)
    return float(found.group(1)) if found else 0.0


def start(
    command: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a server process logging to ``log``."""
    handle = log.open("ab")
    return subprocess.Popen(command, env=env, stdout=handle, stderr=handle, cwd=cwd)


def export_baseline(ref: str, work: Path) -> Path:
    """The package as it was at git ``ref``, for an interleaved A/B against this tree."""
    target = work / "baseline"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "processor"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def free_port() -> int:
    """A port nothing listens on now (benchmarks of several engineers share the machine)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(url: str, timeout_s: float = 30) -> None:
    """Wait until something answers HTTP at ``url``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not answering")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def bench_topics(bootstrap: str) -> tuple[Settings, str, str, str]:
    """Fresh topics for this run: ingress, naive receiver, Go reference, ProducerPerformance."""
    run = uuid.uuid4().hex[:8]
    names = {
        f"topic_{n}": f"bench-{run}.{n}"
        for n in ("webhooks", "call_events", "call_state", "call_alerts", "dlq", "changelog")
    }
    settings = Settings(kafka_bootstrap_servers=bootstrap, **names)
    naive, goref, perf = f"bench-{run}.naive", f"bench-{run}.goref", f"bench-{run}.perf"
    asyncio.run(create_topics(settings))
    for topic in (naive, goref, perf):
        asyncio.run(create_topics(settings.model_copy(update={"topic_webhooks": topic})))
    return settings, naive, goref, perf


def bootstrap_servers() -> str:
    """``KAFKA_BOOTSTRAP_SERVERS`` (as the test suite reads it), else the settings' default."""
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or Settings().kafka_bootstrap_servers


def build_servers(
    args: argparse.Namespace, bootstrap: str, topics: tuple[str, str, str], public: Path
) -> list[Server]:
    """The receivers of this run, on free ports, in the order they are measured."""
    ours_topic, naive_topic, goref_topic = topics
    ours_port, naive_port, goref_port = free_port(), free_port(), free_port()
    base_port = free_port()
    ours_env = {
        **os.environ,
        "PROCESSOR_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "PROCESSOR_TOPIC_WEBHOOKS": ours_topic,
        "PROCESSOR_AUTH_MODE": "SIGNATURE_RSA_SHA256",
        "PROCESSOR_AUTH_PUBLIC_KEYS_DIR": str(public.parent),
        "PROCESSOR_INGRESS_PORT": str(ours_port),
        "PROCESSOR_INGRESS_WORKERS": str(args.workers),
        "PROCESSOR_LOG_JSON": "true",
    }
    naive_cmd = [
        sys.executable, "-m", "tests.bench.naive_receiver", str(naive_port), bootstrap,
        naive_topic, str(public),
    ]  # fmt: skip
    goref_cmd = [
        str(args.goref), "-addr", f"127.0.0.1:{goref_port}", "-brokers", bootstrap,
        "-topic", goref_topic, "-pubkey", str(public),
    ]  # fmt: skip
    every = {
        "ours": Server("ours", [sys.executable, "-m", "processor", "ingress"], ours_env, ours_port),
        "goref": Server("goref", goref_cmd, {**os.environ, "GOMAXPROCS": "2"}, goref_port),
        "naive": Server("naive", naive_cmd, dict(os.environ), naive_port, health="/"),
    }
    if args.baseline_dir is not None:
        # Run from the exported tree: ``-m`` puts the working directory first on sys.path.
        base_env = {**ours_env, "PROCESSOR_INGRESS_PORT": str(base_port)}
        every["base"] = Server(
            "base", every["ours"].command, base_env, base_port, cwd=args.baseline_dir
        )
    return [every[name] for name in args.only.split(",")]


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--paced-rate", type=int, default=2000)
    parser.add_argument("--only", default="ours,goref,naive", help="servers, comma separated")
    parser.add_argument("--no-perf", action="store_true", help="skip ProducerPerformance")
    parser.add_argument("--goref", type=Path, default=GOREF, help="the built Go reference")
    parser.add_argument("--output", type=Path, default=REPO / ".bench" / "ingress.json")
    parser.add_argument("--no-paced", action="store_true", help="skip the paced runs")
    parser.add_argument(
        "--baseline",
        metavar="GIT_REF",
        help="also run the ingress as of this commit ('base' in --only), interleaved per round",
    )
    args = parser.parse_args()

    bootstrap = bootstrap_servers()
    settings, naive_topic, goref_topic, perf_topic = bench_topics(bootstrap)
    work = Path(tempfile.mkdtemp(prefix="bench-ingress-"))
    private, public = generate_key_pair(work / "keys")
    signer = Signer.from_pem_file(private)
    data = work / "requests.tsv"
    log = work / "servers.log"
    size = make_requests(data, signer, 20000, 4000)
    args.baseline_dir = export_baseline(args.baseline, work) if args.baseline else None
    if args.baseline and "base" not in args.only.split(","):
        args.only = f"base,{args.only}"
    print(f"bodies ~{size} B, RSA-2048 signed, 20,000 requests over 4,000 callIds; logs: {log}")
    print(f"broker {bootstrap}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")

    topics = (settings.topic_webhooks, naive_topic, goref_topic)
    servers = build_servers(args, bootstrap, topics, public)
    perf: list[float] = []
    try:
        for server in servers:
            server.proc = start(server.command, server.env, log, server.cwd)
        for server in servers:
            wait_listening(f"http://127.0.0.1:{server.port}{server.health}")
        time.sleep(2)
        for server in servers:  # warm up
            wrk(server.url, data, 3, args.connections)
        for i in range(args.repeats):
            make_requests(data, signer, 20000, 4000)
            if not args.no_perf:
                perf.append(producer_perf(bootstrap, perf_topic, 200000, size))
            for server in servers:
                server.runs.append(server.measure(data, args.seconds, args.connections))
            print(
                f"repeat {i + 1}: "
                + ", ".join(
                    f"{s.name} {s.runs[-1]['rps']:,.0f}/s {s.runs[-1]['cpu_us']:.0f} µs/req"
                    for s in servers
                )
                + (f", ProducerPerformance {perf[-1]:,.0f}/s" if perf else "")
            )
        make_requests(data, signer, 20000, 4000)
        paced_runs = {
            s.name: paced(s, data, args.seconds, args.paced_rate)
            for s in servers
            if not args.no_paced
        }
    finally:
        for server in servers:
            if server.proc is not None:
                stop(server.proc)
    report(servers, paced_runs, perf, args, size)


LABELS = {
    "ours": "ingress, RSA, {workers} workers",
    "goref": "Go reference (net/http, franz-go), RSA",
    "naive": "naive send_and_wait receiver, RSA, 1 process",
    "base": "ingress at the baseline commit, RSA, {workers} workers",
}


def report(
    servers: list[Server],
    paced_runs: dict[str, dict[str, float]],
    perf: list[float],
    args: argparse.Namespace,
    size: int,
) -> None:
    """Print the table and ratios; save the raw numbers."""
    print()
    print(
        f"| run (median of {args.repeats} x {args.seconds} s) | webhooks/s | p50 ms | p99 ms "
        "| CPU µs/request | cores used |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    if perf:
        median_perf = statistics.median(perf)
        print(
            f"| Kafka ProducerPerformance, {size} B records, acks=all "
            f"| {median_perf:,.0f} | | | | |"
        )
    rps: dict[str, float] = {}
    for server in servers:
        runs = server.runs
        name = LABELS[server.name].format(workers=args.workers)
        rps[server.name] = statistics.median(r["rps"] for r in runs)

        def med(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        print(
            f"| {name}, {args.connections} connections | {rps[server.name]:,.0f} | "
            f"{med('p50_ms'):.1f} | {med('p99_ms'):.1f} | "
            f"{med('cpu_us'):.0f} | {med('cores'):.2f} |"
        )
    for server in servers:
        if server.name not in paced_runs:
            continue
        run = paced_runs[server.name]
        name = LABELS[server.name].format(workers=args.workers)
        print(
            f"| {name}, paced at {args.paced_rate}/s | {run['rps']:,.0f} | "
            f"{run['p50_ms']:.1f} | {run['p99_ms']:.1f} | "
            f"{run['cpu_us']:.0f} | {run['cores']:.2f} |"
        )
    print()
    ratios = []
    if "ours" in rps:
        runs = {s.name: s.runs for s in servers}
        for other in ("goref", "naive", "base"):
            if other in rps:
                per_round = ", ".join(
                    f"{a['rps'] / b['rps']:.2f}"
                    for a, b in zip(runs["ours"], runs[other], strict=True)
                )
                ratios.append(
                    f"ingress / {other} = {rps['ours'] / rps[other]:.2f}x (rounds {per_round})"
                )
        if perf:
            ratios.append(
                f"ingress / ProducerPerformance = {rps['ours'] / statistics.median(perf):.2f}"
            )
        non2xx = sum(r["non_2xx"] for s in servers if s.name == "ours" for r in s.runs)
        ratios.append(f"non-2xx answers of the ingress in saturation runs: {non2xx:.0f}")
    print("; ".join(ratios))
    args.output.parent.mkdir(exist_ok=True)
    raw = {s.name: {"saturation": s.runs, "paced": paced_runs.get(s.name)} for s in servers}
    args.output.write_text(json.dumps({"results": raw, "perf": perf, "size": size}, indent=2))


if __name__ == "__main__":
    main()
