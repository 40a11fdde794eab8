"""The one settings class: every knob of every process, read once at start.

Values come from ``PROCESSOR_*`` environment variables (or CLI flags that set
them); nothing else in the package reads the environment. Secrets are
``SecretStr`` so they never reach a log line. Units are in the names.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from processor.errors import ConfigError


class AuthMode(StrEnum):
    """How the ingress verifies a webhook (spec §2)."""

    NONE = "NONE"
    BEARER = "BEARER"
    SIGNATURE_RSA_SHA256 = "SIGNATURE_RSA_SHA256"


class SecurityProtocol(StrEnum):
    """How every Kafka client talks to the brokers."""

    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(StrEnum):
    """SASL mechanisms the Kafka clients can authenticate with."""

    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """All configuration, from ``PROCESSOR_*`` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="PROCESSOR_", env_file=None, extra="ignore", frozen=True
    )

    # --- Kafka ---------------------------------------------------------------
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma separated."
    )
    kafka_client_id: str = Field("recho-processor", description="Kafka client.id prefix.")
    topic_partitions: int = Field(
        6, ge=1, description="Partitions of every project topic when created."
    )
    topic_replication_factor: int = Field(1, ge=1, description="Replication factor of topics.")
    topic_webhooks: str = Field("recho.webhooks.v1", description="Raw webhooks (ingress output).")
    topic_call_events: str = Field("recho.call-events.v1", description="Normalized events.")
    topic_call_state: str = Field(
        "recho.call-state.v1", description="Latest state per call (compacted)."
    )
    topic_call_alerts: str = Field("recho.call-alerts.v1", description="Alerts.")
    topic_dlq: str = Field("recho.webhooks.dlq.v1", description="Dead letters.")
    topic_changelog: str = Field(
        "recho.worker.changelog.v1",
        description="Worker state changelog (compacted, co-partitioned with webhooks).",
    )

    # --- Secured and replicated clusters (every Kafka client), ingress HTTPS -----
    kafka_security_protocol: SecurityProtocol = Field(
        SecurityProtocol.PLAINTEXT,
        description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, for every Kafka client.",
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        SaslMechanism.SCRAM_SHA_512,
        description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with a SASL_* protocol).",
    )
    kafka_sasl_username: str | None = Field(None, description="SASL username.")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password.")
    kafka_sasl_password_file: Path | None = Field(
        None, description="File holding the SASL password (alternative to the password)."
    )
    kafka_ssl_ca_file: Path | None = Field(
        None,
        description="PEM CA bundle that signed the brokers' certificates; default: system CAs.",
    )
    kafka_ssl_cert_file: Path | None = Field(
        None, description="PEM client certificate for mutual TLS."
    )
    kafka_ssl_key_file: Path | None = Field(
        None, description="PEM private key of the client certificate."
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        None, description="Password of an encrypted client key."
    )
    kafka_ssl_check_hostname: bool = Field(
        True, description="Verify that a broker's certificate names the host connected to."
    )
    topic_min_insync_replicas: int | None = Field(
        None, ge=1, description="min.insync.replicas of created topics; default: min(2, RF)."
    )
    ingress_ssl_cert_file: Path | None = Field(
        None, description="PEM certificate (chain) for the ingress to serve HTTPS."
    )
    ingress_ssl_key_file: Path | None = Field(
        None, description="PEM private key of the ingress certificate."
    )
    ingress_ssl_key_password: SecretStr | None = Field(
        None, description="Password of an encrypted ingress key."
    )

    # --- Producer (ingress) ----------------------------------------------------
    producer_linger_ms: int = Field(
        2,
        ge=0,
        description="linger.ms of the non-transactional producer; the ingress's and replay's "
        "batches do not wait for it (they fill while the previous request is in flight).",
    )
    producer_max_batch_bytes: int = Field(
        262144, ge=1024, description="Producer batch size in bytes."
    )
    producer_request_timeout_ms: int = Field(
        5000, ge=100, description="How long a produce may take before the ingress answers 503."
    )
    producer_compression: str | None = Field(
        None, description="Producer compression (gzip, snappy, lz4, zstd) or none."
    )

    # --- Ingress HTTP ----------------------------------------------------------
    ingress_host: str = Field(
        "127.0.0.1",
        description="Bind address of the ingress (and of the worker's and notifier's ops "
        "endpoints while PROCESSOR_OPS_HOST is not set).",
    )
    ingress_port: int = Field(8080, ge=0, le=65535, description="Ingress port.")
    ingress_workers: int = Field(1, ge=1, description="Ingress processes.")
    ingress_path: str = Field("/webhooks/recho", description="Webhook route.")
    ingress_max_body_bytes: int = Field(
        1047552,
        ge=1,
        description="Largest accepted body (413 above it). Lowered at start, with a warning, "
        "to what the webhooks topic's max.message.bytes holds less 1 KiB for key and headers.",
    )
    ingress_max_header_bytes: int = Field(
        32768, ge=1024, description="Largest request line plus headers (431 above it)."
    )
    ingress_max_headers: int = Field(100, ge=8, description="Most header fields (431 above it).")
    ingress_header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Time to receive the request line and headers, from the connection "
        "or the request's first byte (408, or a silent close if nothing came).",
    )
    ingress_body_timeout_s: float = Field(
        10.0, gt=0, description="Longest gap between two reads of a request body (408)."
    )
    ingress_keep_alive_s: int = Field(
        30, ge=1, description="How long an idle keep-alive connection is kept open."
    )
    ingress_max_connections: int = Field(
        2048,
        ge=1,
        description="Open connections per process; past it a new one gets 503 and is closed.",
    )
    ingress_linger_s: float = Field(
        5.0,
        ge=0,
        description="After an early answer (413, 431, ...), how long the unread rest of the "
        "request is read and discarded so the client sees the answer, not a reset.",
    )
    ingress_linger_max_bytes: int = Field(
        16777216, ge=0, description="Most bytes read and discarded after an early answer."
    )
    ingress_failure_log_interval_s: float = Field(
        10.0,
        gt=0,
        description="Failed Kafka writes are logged as one summary line per this interval.",
    )
    ingress_max_in_flight: int = Field(
        4096, ge=1, description="Requests in flight per process before answering 503."
    )
    ingress_retry_after_s: int = Field(1, ge=0, description="Retry-After on 503 answers.")
    ingress_drain_timeout_s: float = Field(
        20.0, ge=0, description="Time in-flight requests get to finish on SIGTERM."
    )

    # --- Authentication --------------------------------------------------------
    auth_mode: AuthMode = Field(AuthMode.NONE, description="NONE, BEARER or SIGNATURE_RSA_SHA256.")
    auth_bearer_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Accepted bearer tokens, comma separated (rotation)."
    )
    auth_bearer_tokens_file: Path | None = Field(
        None, description="File with accepted bearer tokens, one per line."
    )
    auth_public_keys_dir: Path | None = Field(
        None, description="Folder of PEM public keys (*.pem); any one may verify."
    )
    auth_public_keys_pem: SecretStr | None = Field(
        None, description="PEM public keys, concatenated (alternative to the folder)."
    )
    auth_timestamp_tolerance_s: int = Field(
        300, ge=1, description="Accepted |now - X-Recho-Timestamp| in seconds."
    )
    auth_allowed_project_ids: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="If set, only these projectIds are accepted."
    )

    # --- Ops endpoints (worker, notifier) ----------------------------------------
    ops_host: str = Field(
        "127.0.0.1",
        description="Bind address of the worker's and notifier's /metrics, /healthz and "
        "/readyz; default: PROCESSOR_INGRESS_HOST if that is set (its former meaning).",
    )

    # --- Worker ----------------------------------------------------------------
    worker_group_id: str = Field("recho-worker", description="Worker consumer group.")
    worker_transactional_id_prefix: str = Field(
        "recho-worker", description="Prefix of per-partition transactional ids."
    )
    worker_batch_max_records: int = Field(
        2000, ge=1, description="Most input records per transaction."
    )
    worker_batch_max_ms: int = Field(50, ge=1, description="Longest time a batch stays open.")
    worker_call_retention_s: float = Field(
        3600.0, ge=0, description="How long a finished call's state is kept before a tombstone."
    )
    worker_stall_after_s: float = Field(
        900.0, gt=0, description="A call with no terminal event after this raises CALL_STALLED."
    )
    worker_open_call_retention_s: float = Field(
        86400.0, ge=0, description="How long an unfinished, silent call's state is kept."
    )
    worker_sweep_interval_s: float = Field(
        5.0, gt=0, description="How often stalled and expired calls are looked for."
    )
    worker_drain_timeout_s: float = Field(
        10.0,
        gt=0,
        description="On SIGTERM, how long a running batch may take to commit before it is "
        "abandoned (its inputs are processed again by the next owner).",
    )
    worker_metrics_port: int = Field(9101, ge=0, le=65535, description="Worker /metrics port.")

    # --- Notifier --------------------------------------------------------------
    notifier_group_id: str = Field("recho-notifier", description="Notifier consumer group.")
    notifier_alertmanager_url: str | None = Field(
        None, description="Alertmanager base URL (API v2), e.g. http://127.0.0.1:9093."
    )
    notifier_webhook_url: str | None = Field(None, description="Generic JSON webhook sink.")
    notifier_slack_url: str | None = Field(None, description="Slack-style incoming webhook.")
    notifier_metrics_port: int = Field(9102, ge=0, le=65535, description="Notifier /metrics port.")
    notifier_group_window_s: float = Field(
        10.0,
        ge=0,
        description="Alerts for one call or one error code within this window "
        "are sent to webhook/Slack sinks as one grouped message.",
    )
    notifier_retry_max_s: float = Field(
        300.0,
        gt=0,
        description="How long a sink may fail before it is reported down "
        "(recho_notifier_sink_down, alert_sink_down log); its alerts are still retried "
        "until delivered, never dropped.",
    )
    notifier_alert_ttl_s: float = Field(
        3600.0, gt=0, description="How long an alert stays active in Alertmanager (endsAt)."
    )
    notifier_timeout_s: float = Field(5.0, gt=0, description="HTTP timeout per delivery.")

    # --- Explorer --------------------------------------------------------------
    explorer_host: str = Field(
        "127.0.0.1",
        description="Explorer bind address; without explorer_tokens only a loopback one.",
    )
    explorer_port: int = Field(8090, ge=0, le=65535, description="Explorer HTTP port.")
    explorer_db_path: Path | None = Field(
        None,
        description="SQLite file of the explorer's query store (unused with a PostgreSQL "
        "DSN); default: explorer.db in run_dir.",
    )
    explorer_postgres_dsn: SecretStr | None = Field(
        None,
        description="PostgreSQL DSN of a shared query store, e.g. "
        "postgresql://user:pw@host/db; instead of SQLite when set.",
    )
    explorer_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Accepted explorer bearer tokens, comma separated (rotation); "
        "none = no auth, allowed only on a loopback address.",
    )
    explorer_retention_s: float = Field(
        604800.0, gt=0, description="Calls silent for longer than this are deleted."
    )
    explorer_batch_max_records: int = Field(
        5000, ge=1, description="Most records applied in one store transaction."
    )

    # --- Simulator -------------------------------------------------------------
    simulate_target_url: str = Field(
        "http://127.0.0.1:8080/webhooks/recho", description="Where the simulator posts webhooks."
    )
    simulate_rate_per_s: float = Field(50.0, gt=0, description="Target webhooks per second.")
    simulate_concurrent_calls: int = Field(200, ge=1, description="Calls in progress at once.")
    simulate_calls: int = Field(0, ge=0, description="Calls to simulate in all; 0 = no limit.")
    simulate_duration_s: float = Field(0.0, ge=0, description="Stop after this long; 0 = no limit.")
    simulate_mix: str = Field(
        "",
        description="Outcome mix as name=weight pairs, comma separated; empty = realistic default.",
    )
    simulate_time_scale: float = Field(
        1.0, gt=0, description="Multiplier on the realistic gaps between a call's events."
    )
    simulate_key_dir: Path | None = Field(
        None, description="Folder with the simulator's RSA key pair (made if missing)."
    )
    simulate_bearer_token: SecretStr | None = Field(
        None, description="Token the simulator sends in BEARER mode."
    )
    simulate_seed: int | None = Field(None, description="Random seed for reproducible traffic.")

    # --- Local run (processor run) ----------------------------------------------
    run_dir: Path = Field(
        Path(".run"),
        description="Folder of processor run's state: logs/ of every child, keys/ (the "
        "development RSA key pair), alertmanager/ (its storage). Relative to the current "
        "folder.",
    )
    run_alertmanager_port: int = Field(
        9093, ge=1, le=65535, description="Port of the Alertmanager processor run starts."
    )
    run_kafka_controller_port: int = Field(
        19093,
        ge=1,
        le=65535,
        description="KRaft controller port of the broker processor run --start-kafka starts "
        "(its listener port is the one of the bootstrap servers).",
    )

    # --- Logging ---------------------------------------------------------------
    log_level: str = Field("INFO", description="Log level.")
    log_json: bool | None = Field(
        None, description="JSON log lines; default: JSON unless stderr is a terminal."
    )

    @model_validator(mode="before")
    @classmethod
    def _ops_host_from_ingress_host(cls, data: object) -> object:
        # ingress_host used to bind the worker's and notifier's ops endpoints too; a
        # deployment that set only it keeps its ops endpoints where they were.
        if isinstance(data, dict) and "ops_host" not in data and "ingress_host" in data:
            return {**data, "ops_host": data["ingress_host"]}
        return data

    @field_validator(
        "auth_bearer_tokens", "auth_allowed_project_ids", "explorer_tokens", mode="before"
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @model_validator(mode="after")
    def _kafka_security_consistent(self) -> Settings:
        # Checked here so a half-configured client fails at start with one line,
        # never on a broker's closed connection. Messages name settings, not values.
        protocol = self.kafka_security_protocol
        sasl = protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL)
        if sasl and not self.kafka_sasl_username:
            raise ValueError(f"{protocol} needs PROCESSOR_KAFKA_SASL_USERNAME")
        if sasl and (self.kafka_sasl_password is None) == (self.kafka_sasl_password_file is None):
            raise ValueError(
                f"{protocol} needs exactly one of PROCESSOR_KAFKA_SASL_PASSWORD "
                "and PROCESSOR_KAFKA_SASL_PASSWORD_FILE"
            )
        return self

    def min_insync_replicas(self) -> int:
        """min.insync.replicas for created topics: the setting, else min(2, RF)."""
        wanted = self.topic_min_insync_replicas
        if wanted is None:
            return min(2, self.topic_replication_factor)
        if wanted > self.topic_replication_factor:
            raise ConfigError(
                f"PROCESSOR_TOPIC_MIN_INSYNC_REPLICAS ({wanted}) is above the replication "
                f"factor ({self.topic_replication_factor}): no acks=all write could succeed"
            )
        return wanted

    def all_topics(self) -> list[str]:
        """Every topic the project owns, inputs first."""
        return [
            self.topic_webhooks,
            self.topic_call_events,
            self.topic_call_state,
            self.topic_call_alerts,
            self.topic_dlq,
            self.topic_changelog,
        ]

    def compacted_topics(self) -> set[str]:
        """Topics whose log is compacted (latest value per callId)."""
        return {self.topic_call_state, self.topic_changelog}
