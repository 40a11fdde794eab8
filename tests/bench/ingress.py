"""``make bench-ingress``: signed webhooks/s and latency of the ingress, with references.

Same run, same broker, same machine:
  (a) Kafka's ProducerPerformance at the same record size with acks=all;
  (b) a naive receiver awaiting one aiokafka ``send_and_wait`` per request;
  (c) the project's ingress (RSA-SHA256 verification, --workers N).
Load comes from wrk over pre-signed, ~1 KB bodies with varied callIds.
Saturation runs are repeated and the median kept; a paced run at 2,000/s
gives the latency percentiles.
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


def make_requests(path: Path, signer: Signer, count: int, calls: int) -> int:
    """Write ``count`` signed requests (timestamp, signature, body) for wrk; return body size."""
    now = int(time.time())
    statuses = ["PENDING", "REQUESTED", "CALLING", "CLOSING", "COMPLETED"]
    sizes = []
    with path.open("w") as out:
        for i in range(count):
            call_id = f"bench-{uuid.uuid4().hex[:12]}-{i % calls}"
            status = statuses[i % len(statuses)]
            errors = [make_error()] if i % 10 == 0 else []
            payload = make_envelope(
                event_type=f"OUTBOUND_CALL_{status}", call_id=call_id, errors=errors
            )
            payload["body"]["text"] = (
                f"callId: {call_id}\ncallStatus: {status}\n" + "x" * 600 + "\nTime: 2026-06-01 09:15:07"
            )
            body = to_bytes(payload)
            sizes.append(len(body))
            headers = signer.sign(body, now)
            out.write(
                f"{headers['X-Recho-Timestamp']}\t{headers['X-Recho-Signature']}\t{body.decode()}\n"
            )
    return int(statistics.median(sizes))


def wrk(url: str, data: Path, seconds: int, connections: int, rate: int = 0) -> dict[str, float]:
    """Run wrk; return requests/s, non-2xx count, p50/p99 latency in ms."""
    threads = 1 if rate else 2
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-s", str(LUA), url, "--", str(data), str(rate), str(connections)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "socket_errors": 1.0 if errors else 0.0,
    }


def _latency(out: str, label: str) -> float:
    match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def producer_perf(settings: Settings, topic: str, records: int, size: int) -> float:
    """Kafka's ProducerPerformance records/s at this record size with acks=all."""
    out = subprocess.run(
        ["bash", str(KAFKA_SH), "class", "org.apache.kafka.tools.ProducerPerformance",
         "--topic", topic, "--num-records", str(records), "--record-size", str(size),
         "--throughput", "-1", "--producer-props",
         f"bootstrap.servers={settings.kafka_bootstrap_servers}", "acks=all",
         "linger.ms=5", "batch.size=262144"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    last = [line for line in out.splitlines() if "records sent" in line][-1]
    return float(re.search(r"([\d.]+) records/sec", last).group(1))  # type: ignore[union-attr]


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen(command, env=env, stdout=handle, stderr=handle)


def wait_ready(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.post(url, content=b"{}", headers={"content-type": "text/plain"}).status_code:
                if "readyz" not in url or httpx.get(url).status_code == 200:
                    return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--paced-rate", type=int, default=2000)
    parser.add_argument("--output", type=Path, default=REPO / ".bench" / "ingress.json")
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    settings = Settings(
        topic_webhooks=f"bench-{run}.recho.webhooks.v1",
        topic_call_events=f"bench-{run}.e", topic_call_state=f"bench-{run}.s",
        topic_call_alerts=f"bench-{run}.a", topic_dlq=f"bench-{run}.d",
        topic_changelog=f"bench-{run}.c",
    )  # fmt: skip
    asyncio.run(create_topics(settings))
    naive_topic = f"bench-{run}.naive"
    asyncio.run(create_topics(settings.model_copy(update={"topic_webhooks": naive_topic})))
    perf_topic = f"bench-{run}.perf"
    asyncio.run(create_topics(settings.model_copy(update={"topic_webhooks": perf_topic})))

    work = Path(tempfile.mkdtemp(prefix="bench-ingress-"))
    private, public = generate_key_pair(work / "keys")
    data = work / "requests.tsv"
    size = make_requests(data, Signer.from_pem_file(private), 20000, 4000)
    log = work / "servers.log"
    print(f"bodies ~{size} B, RSA-2048 signatures, 20,000 requests over 4,000 callIds; log {log}")

    env = {
        **os.environ,
        "PROCESSOR_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "PROCESSOR_TOPIC_WEBHOOKS": settings.topic_webhooks,
        "PROCESSOR_AUTH_MODE": "SIGNATURE_RSA_SHA256",
        "PROCESSOR_AUTH_PUBLIC_KEYS_DIR": str(public.parent),
        "PROCESSOR_INGRESS_PORT": "18080",
        "PROCESSOR_INGRESS_WORKERS": str(args.workers),
        "PROCESSOR_LOG_JSON": "true",
    }
    ours_url = "http://127.0.0.1:18080/webhooks/recho"
    naive_url = "http://127.0.0.1:18081/webhooks/recho"
    results: dict[str, Any] = {"ours": [], "naive": [], "perf": []}

    ours = start([sys.executable, "-m", "processor", "ingress"], env, log)
    naive = start(
        [sys.executable, "-m", "tests.bench.naive_receiver", "18081",
         settings.kafka_bootstrap_servers, naive_topic, str(public)],
        dict(os.environ), log,
    )  # fmt: skip
    try:
        wait_ready("http://127.0.0.1:18080/readyz")
        wait_ready("http://127.0.0.1:18081/")
        wrk(ours_url, data, 3, args.connections)  # warm up both
        wrk(naive_url, data, 3, args.connections)
        for i in range(args.repeats):
            results["perf"].append(producer_perf(settings, perf_topic, 200000, size))
            results["ours"].append(wrk(ours_url, data, args.seconds, args.connections))
            results["naive"].append(wrk(naive_url, data, args.seconds, args.connections))
            print(
                f"repeat {i + 1}: perf {results['perf'][-1]:,.0f}/s  "
                f"ours {results['ours'][-1]['rps']:,.0f}/s  naive {results['naive'][-1]['rps']:,.0f}/s"
            )
        paced_connections = 40
        results["ours_paced"] = wrk(ours_url, data, args.seconds, paced_connections, args.paced_rate)
        results["naive_paced"] = wrk(naive_url, data, args.seconds, paced_connections, args.paced_rate)
    finally:
        stop(ours)
        stop(naive)

    med = {k: statistics.median(r["rps"] for r in results[k]) for k in ("ours", "naive")}
    perf = statistics.median(results["perf"])
    ours_p = results["ours_paced"]
    naive_p = results["naive_paced"]
    non2xx = sum(r["non_2xx"] for r in results["ours"])
    print()
    print(f"| what (median of {args.repeats}, {args.seconds} s each) | webhooks/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    print(f"| Kafka ProducerPerformance, {size} B, acks=all | {perf:,.0f} | | |")
    for name, key in (("ingress (RSA, %d workers)" % args.workers, "ours"), ("naive send_and_wait", "naive")):
        runs = results[key]
        print(
            f"| {name}, saturated ({args.connections} conns) | {med[key]:,.0f} | "
            f"{statistics.median(r['p50_ms'] for r in runs):.1f} | "
            f"{statistics.median(r['p99_ms'] for r in runs):.1f} |"
        )
    print(
        f"| ingress paced at {args.paced_rate}/s | {ours_p['rps']:,.0f} | "
        f"{ours_p['p50_ms']:.1f} | {ours_p['p99_ms']:.1f} |"
    )
    print(
        f"| naive paced at {args.paced_rate}/s | {naive_p['rps']:,.0f} | "
        f"{naive_p['p50_ms']:.1f} | {naive_p['p99_ms']:.1f} |"
    )
    print()
    print(f"ingress / naive = {med['ours'] / med['naive']:.2f}x; "
          f"ingress / ProducerPerformance = {med['ours'] / perf:.2f}; non-2xx answers: {non2xx:.0f}")  # fmt: skip
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(json.dumps({"results": results, "size": size}, indent=2))


if __name__ == "__main__":
    main()
