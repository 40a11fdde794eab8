"""Every Prometheus metric of the project, declared in one place.

Names follow Prometheus conventions (base units, ``_total`` counters,
``_seconds`` durations). Label values are bounded: never a callId or free
text. Processes that fork workers (``processor ingress --workers N``) run in
prometheus_client's multiprocess mode, so gauges say how to merge.

Each component has its own registry, and a process's ``/metrics`` renders only
its component's (plus the process and runtime collectors, and the
``recho_kafka_*`` families every Kafka client has): a worker that is down is
then ``absent()`` from Prometheus rather than exported as zeros by the ingress.
"""

from __future__ import annotations

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)


def _component_registry() -> CollectorRegistry:
    """A registry with the process and runtime collectors every process exports."""
    registry = CollectorRegistry(auto_describe=True)
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


INGRESS_REGISTRY = _component_registry()
"""What ``processor ingress`` serves on ``/metrics``."""
WORKER_REGISTRY = _component_registry()
"""What ``processor worker`` serves on ``/metrics``."""
NOTIFIER_REGISTRY = _component_registry()
"""What ``processor notifier`` serves on ``/metrics``."""
EXPLORER_REGISTRY = _component_registry()
"""What ``processor explorer`` serves on ``/metrics``."""

LATENCY_BUCKETS_S = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

# --- ingress -----------------------------------------------------------------
INGRESS_REQUESTS = Counter(
    "recho_ingress_requests_total",
    "HTTP requests answered by the ingress, by route and status code.",
    ["route", "status"],
    registry=INGRESS_REGISTRY,
)
INGRESS_AUTH_FAILURES = Counter(
    "recho_ingress_auth_failures_total",
    "Webhooks rejected by authentication, by reason.",
    ["reason"],
    registry=INGRESS_REGISTRY,
)
INGRESS_BODY_BYTES = Histogram(
    "recho_ingress_body_bytes",
    "Size of accepted webhook bodies in bytes.",
    buckets=(256, 512, 1024, 2048, 4096, 16384, 65536, 262144, 1048576),
    registry=INGRESS_REGISTRY,
)
INGRESS_REQUEST_DURATION = Histogram(
    "recho_ingress_request_duration_seconds",
    "Time from request start to response, by route.",
    ["route"],
    buckets=LATENCY_BUCKETS_S,
    registry=INGRESS_REGISTRY,
)
INGRESS_PRODUCE_DURATION = Histogram(
    "recho_ingress_kafka_produce_duration_seconds",
    "Time the broker took to acknowledge a webhook write (acks=all).",
    buckets=LATENCY_BUCKETS_S,
    registry=INGRESS_REGISTRY,
)
INGRESS_IN_FLIGHT = Gauge(
    "recho_ingress_in_flight_requests",
    "Webhook requests being processed now.",
    multiprocess_mode="livesum",
    registry=INGRESS_REGISTRY,
)
INGRESS_FLAGGED = Counter(
    "recho_ingress_flagged_payloads_total",
    "Accepted webhooks carrying unknown values or off-schema fields, by flag.",
    ["flag"],
    registry=INGRESS_REGISTRY,
)
INGRESS_KAFKA_UNAVAILABLE = Counter(
    "recho_ingress_kafka_unavailable_total",
    "Webhooks answered 503 because Kafka could not take the write in time.",
    registry=INGRESS_REGISTRY,
)

# --- worker ------------------------------------------------------------------
WORKER_EVENTS = Counter(
    "recho_worker_events_total",
    "Webhook events processed, by eventType and transition verdict.",
    ["event_type", "verdict"],
    registry=WORKER_REGISTRY,
)
WORKER_ERRORS = Counter(
    "recho_worker_call_errors_total",
    "Entries of body.errors seen, by error code and phase (unknown codes folded).",
    ["code", "phase"],
    registry=WORKER_REGISTRY,
)
WORKER_ALERTS = Counter(
    "recho_worker_alerts_total",
    "Alerts raised, by kind (ERRORED_EVENT, STALLED) and severity.",
    ["kind", "severity"],
    registry=WORKER_REGISTRY,
)
WORKER_DLQ = Counter(
    "recho_worker_dlq_records_total",
    "Records sent to the dead-letter topic, by reason.",
    ["reason"],
    registry=WORKER_REGISTRY,
)
WORKER_ACTIVE_CALLS = Gauge(
    "recho_worker_active_calls",
    "Calls held in memory that have not finished, by current status.",
    ["status"],
    registry=WORKER_REGISTRY,
)
WORKER_CALLS_IN_STATE = Gauge(
    "recho_worker_state_calls",
    "Calls held in memory (open and finished, until they expire).",
    registry=WORKER_REGISTRY,
)
WORKER_STATE_BYTES = Gauge(
    "recho_worker_state_bytes",
    "Estimated memory held by call state, in bytes.",
    registry=WORKER_REGISTRY,
)
WORKER_CALL_DURATION = Histogram(
    "recho_worker_call_duration_seconds",
    "Total call duration (first event to terminal event), by outcome and direction.",
    ["outcome", "direction"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
    registry=WORKER_REGISTRY,
)
WORKER_TIME_TO_ANSWER = Histogram(
    "recho_worker_call_time_to_answer_seconds",
    "Time from a call's start to CALLING, by direction.",
    ["direction"],
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
    registry=WORKER_REGISTRY,
)
WORKER_CALLS_FINISHED = Counter(
    "recho_worker_calls_finished_total",
    "Calls that reached a terminal outcome, by outcome and direction.",
    ["outcome", "direction"],
    registry=WORKER_REGISTRY,
)
WORKER_PROCESSING_LATENCY = Histogram(
    "recho_worker_processing_latency_seconds",
    "Time from ingress receive to the worker's output committed.",
    # Fine around 100-200 ms: the objective is a p99 under 150 ms at a 100 ms commit interval.
    buckets=(
        0.005,
        0.01,
        0.025,
        0.05,
        0.075,
        0.1,
        0.125,
        0.15,
        0.2,
        0.25,
        0.5,
        1,
        2.5,
        5,
        10,
        30,
        60,
    ),
    registry=WORKER_REGISTRY,
)
WORKER_CONSUMER_LAG = Gauge(
    "recho_worker_consumer_lag_records",
    "Records in the input partition not yet processed.",
    ["partition"],
    registry=WORKER_REGISTRY,
)
WORKER_CONSUMER_LAG_SECONDS = Gauge(
    "recho_worker_consumer_lag_seconds",
    "Age of the oldest unprocessed input record (0 when caught up).",
    ["partition"],
    registry=WORKER_REGISTRY,
)
WORKER_RESTORE_DURATION = Histogram(
    "recho_worker_state_restore_duration_seconds",
    "Time to restore one partition's state from the changelog.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=WORKER_REGISTRY,
)
WORKER_RESTORED_CALLS = Counter(
    "recho_worker_state_restored_calls_total",
    "Calls restored from the changelog.",
    registry=WORKER_REGISTRY,
)
WORKER_TRANSACTION_DURATION = Histogram(
    "recho_worker_transaction_duration_seconds",
    "Time to commit one Kafka transaction (outputs + changelog + offsets).",
    buckets=LATENCY_BUCKETS_S,
    registry=WORKER_REGISTRY,
)
WORKER_TRANSACTIONS = Counter(
    "recho_worker_transactions_total",
    "Kafka transactions, by result (committed, aborted).",
    ["result"],
    registry=WORKER_REGISTRY,
)
WORKER_BATCH_RECORDS = Histogram(
    "recho_worker_transaction_records",
    "Input records per transaction.",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
    registry=WORKER_REGISTRY,
)

# --- notifier ----------------------------------------------------------------
NOTIFIER_DELIVERIES = Counter(
    "recho_notifier_deliveries_total",
    "Alert deliveries to sinks, by sink and result (delivered, failed, suppressed).",
    ["sink", "result"],
    registry=NOTIFIER_REGISTRY,
)
NOTIFIER_DELIVERY_DURATION = Histogram(
    "recho_notifier_delivery_duration_seconds",
    "Time to deliver one notification to a sink.",
    ["sink"],
    buckets=LATENCY_BUCKETS_S,
    registry=NOTIFIER_REGISTRY,
)
NOTIFIER_SINK_DOWN = Gauge(
    "recho_notifier_sink_down",
    "1 while a sink has failed for longer than notifier_retry_max_s: its alerts wait and "
    "are retried, none is dropped.",
    ["sink"],
    multiprocess_mode="max",
    registry=NOTIFIER_REGISTRY,
)
NOTIFIER_ALERTS_CONSUMED = Counter(
    "recho_notifier_alerts_consumed_total",
    "Alert records read from the alerts topic.",
    registry=NOTIFIER_REGISTRY,
)

# --- explorer ----------------------------------------------------------------
EXPLORER_ROWS_APPLIED = Counter(
    "recho_explorer_rows_applied_total",
    "Records applied to the explorer's query store, by kind (event, state, tombstone, alert).",
    ["kind"],
    registry=EXPLORER_REGISTRY,
)
EXPLORER_APPLY_LAG_SECONDS = Gauge(
    "recho_explorer_apply_lag_seconds",
    "Age of the last record applied to the query store, by topic (0 when caught up).",
    ["topic"],
    registry=EXPLORER_REGISTRY,
)
EXPLORER_QUERY_DURATION = Histogram(
    "recho_explorer_query_duration_seconds",
    "Time to answer an explorer request, by route (call, calls, stats, search, page, ops, other).",
    ["route"],
    buckets=LATENCY_BUCKETS_S,
    registry=EXPLORER_REGISTRY,
)
EXPLORER_CALLS_DELETED = Counter(
    "recho_explorer_calls_deleted_total",
    "Calls removed from the query store, by reason (tombstone, retention).",
    ["reason"],
    registry=EXPLORER_REGISTRY,
)
# Known label values start at 0, so rates and dashboards show 0 rather than no data.
for _kind in ("event", "state", "tombstone", "alert"):
    EXPLORER_ROWS_APPLIED.labels(_kind)
for _reason in ("tombstone", "retention"):
    EXPLORER_CALLS_DELETED.labels(_reason)
for _route in ("call", "calls", "stats", "search", "page", "ops", "other"):
    EXPLORER_QUERY_DURATION.labels(_route)

# --- every process with a Kafka client -----------------------------------------
KAFKA_CONNECTION_FAILURES = Counter(
    "recho_kafka_connection_failures_total",
    "Failed connection attempts to Kafka brokers (attempts are backed off during outages).",
    registry=None,
)
for _registry in (INGRESS_REGISTRY, WORKER_REGISTRY, NOTIFIER_REGISTRY, EXPLORER_REGISTRY):
    _registry.register(KAFKA_CONNECTION_FAILURES)
