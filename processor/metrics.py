"""Every Prometheus metric of the project, declared in one place.

Names follow Prometheus conventions (base units, ``_total`` counters,
``_seconds`` durations). Label values are bounded: never a callId or free
text. Processes that fork workers (``processor ingress --workers N``) run in
prometheus_client's multiprocess mode, so gauges say how to merge.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS_S = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

# --- ingress -----------------------------------------------------------------
INGRESS_REQUESTS = Counter(
    "recho_ingress_requests_total",
    "HTTP requests answered by the ingress, by route and status code.",
    ["route", "status"],
)
INGRESS_AUTH_FAILURES = Counter(
    "recho_ingress_auth_failures_total",
    "Webhooks rejected by authentication, by reason.",
    ["reason"],
)
INGRESS_BODY_BYTES = Histogram(
    "recho_ingress_body_bytes",
    "Size of accepted webhook bodies in bytes.",
    buckets=(256, 512, 1024, 2048, 4096, 16384, 65536, 262144, 1048576),
)
INGRESS_REQUEST_DURATION = Histogram(
    "recho_ingress_request_duration_seconds",
    "Time from request start to response, by route.",
    ["route"],
    buckets=LATENCY_BUCKETS_S,
)
INGRESS_PRODUCE_DURATION = Histogram(
    "recho_ingress_kafka_produce_duration_seconds",
    "Time the broker took to acknowledge a webhook write (acks=all).",
    buckets=LATENCY_BUCKETS_S,
)
INGRESS_IN_FLIGHT = Gauge(
    "recho_ingress_in_flight_requests",
    "Webhook requests being processed now.",
    multiprocess_mode="livesum",
)
INGRESS_FLAGGED = Counter(
    "recho_ingress_flagged_payloads_total",
    "Accepted webhooks carrying unknown values or off-schema fields, by flag.",
    ["flag"],
)
INGRESS_KAFKA_UNAVAILABLE = Counter(
    "recho_ingress_kafka_unavailable_total",
    "Webhooks answered 503 because Kafka could not take the write in time.",
)
