"""``make bench-ingress``: signed webhooks/s and latency of the ingress, with references.

Same run, same broker, same machine:
  (a) Kafka's ProducerPerformance at the same record size with acks=all;
  (b) a naive receiver awaiting one aiokafka ``send_and_wait`` per request;
  (c) the project's ingress (RSA-SHA256 verification, ``--workers N``).
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
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from processor.kafka.admin import create_topics
from processor.settings import Settings
from processor.simulate.signer import Signer, generate_key_pair
from tests.factories import make_envelope, make_error, to_bytes

REPO = Path(__file__).resolve().parents[2]
LUA = Path(__file__).with_name("wrk_requests.lua")
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
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
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


def paced(url: str, data: Path, seconds: int, rate: int) -> dict[str, float]:
    """A run near ``rate`` requests/s: calibrate the per-connection delay, then measure."""
    connections = 64
    delay_ms = 1000 * connections / rate
    probe = wrk(url, data, 4, connections, delay_ms)
    cycle_ms = 1000 * connections / max(probe["rps"], 1.0)
    overhead_ms = max(cycle_ms - delay_ms, 0.0)
    delay_ms = max(1000 * connections / rate - overhead_ms, 0.1)
    return wrk(url, data, seconds, connections, delay_ms)


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


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a server process logging to ``log``."""
    handle = log.open("ab")
    return subprocess.Popen(command, env=env, stdout=handle, stderr=handle)


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


def bench_topics(bootstrap: str) -> tuple[Settings, str, str]:
    """Fresh topics for this run: the ingress's, the naive receiver's, ProducerPerformance's."""
    run = uuid.uuid4().hex[:8]
    names = {
        f"topic_{n}": f"bench-{run}.{n}"
        for n in ("webhooks", "call_events", "call_state", "call_alerts", "dlq", "changelog")
    }
    settings = Settings(kafka_bootstrap_servers=bootstrap, **names)
    naive, perf = f"bench-{run}.naive", f"bench-{run}.perf"
    asyncio.run(create_topics(settings))
    for topic in (naive, perf):
        asyncio.run(create_topics(settings.model_copy(update={"topic_webhooks": topic})))
    return settings, naive, perf


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--paced-rate", type=int, default=2000)
    parser.add_argument("--output", type=Path, default=REPO / ".bench" / "ingress.json")
    args = parser.parse_args()

    bootstrap = Settings().kafka_bootstrap_servers
    settings, naive_topic, perf_topic = bench_topics(bootstrap)
    work = Path(tempfile.mkdtemp(prefix="bench-ingress-"))
    private, public = generate_key_pair(work / "keys")
    signer = Signer.from_pem_file(private)
    data = work / "requests.tsv"
    log = work / "servers.log"
    size = make_requests(data, signer, 20000, 4000)
    print(f"bodies ~{size} B, RSA-2048 signed, 20,000 requests over 4,000 callIds; logs: {log}")

    env = {
        **os.environ,
        "PROCESSOR_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "PROCESSOR_TOPIC_WEBHOOKS": settings.topic_webhooks,
        "PROCESSOR_AUTH_MODE": "SIGNATURE_RSA_SHA256",
        "PROCESSOR_AUTH_PUBLIC_KEYS_DIR": str(public.parent),
        "PROCESSOR_INGRESS_PORT": "18080",
        "PROCESSOR_INGRESS_WORKERS": str(args.workers),
        "PROCESSOR_LOG_JSON": "true",
    }
    ours_url = "http://127.0.0.1:18080/webhooks/recho"
    naive_url = "http://127.0.0.1:18081/webhooks/recho"
    naive_cmd = [
        sys.executable, "-m", "tests.bench.naive_receiver", "18081", bootstrap, naive_topic,
        str(public),
    ]  # fmt: skip
    results: dict[str, Any] = {"ours": [], "naive": [], "perf": []}
    ours = start([sys.executable, "-m", "processor", "ingress"], env, log)
    naive = start(naive_cmd, dict(os.environ), log)
    try:
        wait_listening("http://127.0.0.1:18080/healthz")
        wait_listening("http://127.0.0.1:18081/")
        time.sleep(2)
        wrk(ours_url, data, 3, args.connections)  # warm up both
        wrk(naive_url, data, 3, args.connections)
        for i in range(args.repeats):
            make_requests(data, signer, 20000, 4000)
            results["perf"].append(producer_perf(bootstrap, perf_topic, 200000, size))
            results["ours"].append(wrk(ours_url, data, args.seconds, args.connections))
            results["naive"].append(wrk(naive_url, data, args.seconds, args.connections))
            print(
                f"repeat {i + 1}: ProducerPerformance {results['perf'][-1]:,.0f}/s, "
                f"ingress {results['ours'][-1]['rps']:,.0f}/s, "
                f"naive {results['naive'][-1]['rps']:,.0f}/s"
            )
        make_requests(data, signer, 20000, 4000)
        results["ours_paced"] = paced(ours_url, data, args.seconds, args.paced_rate)
        results["naive_paced"] = paced(naive_url, data, args.seconds, args.paced_rate)
    finally:
        stop(ours)
        stop(naive)
    report(results, args, size)


def report(results: dict[str, Any], args: argparse.Namespace, size: int) -> None:
    """Print the table and ratios; save the raw numbers."""
    med = {k: statistics.median(r["rps"] for r in results[k]) for k in ("ours", "naive")}
    perf = statistics.median(results["perf"])
    non2xx = sum(r["non_2xx"] for r in results["ours"])
    print()
    print(f"| run (median of {args.repeats} x {args.seconds} s) | webhooks/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    print(f"| Kafka ProducerPerformance, {size} B records, acks=all | {perf:,.0f} | | |")
    rows = (
        (f"ingress, RSA, {args.workers} workers", "ours"),
        ("naive send_and_wait receiver, RSA, 1 process", "naive"),
    )
    for name, key in rows:
        runs = results[key]
        p50 = statistics.median(r["p50_ms"] for r in runs)
        p99 = statistics.median(r["p99_ms"] for r in runs)
        print(
            f"| {name}, {args.connections} connections | {med[key]:,.0f} | {p50:.1f} | {p99:.1f} |"
        )
    for name, key in (("ingress", "ours_paced"), ("naive receiver", "naive_paced")):
        run = results[key]
        print(
            f"| {name} paced at {args.paced_rate}/s | {run['rps']:,.0f} | "
            f"{run['p50_ms']:.1f} | {run['p99_ms']:.1f} |"
        )
    print()
    print(
        f"ingress / naive = {med['ours'] / med['naive']:.2f}x; "
        f"ingress / ProducerPerformance = {med['ours'] / perf:.2f}; "
        f"non-2xx answers in saturation runs: {non2xx:.0f}"
    )
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(json.dumps({"results": results, "size": size}, indent=2))


if __name__ == "__main__":
    main()
