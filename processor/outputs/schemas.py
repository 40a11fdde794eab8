"""The shipped JSON Schemas of the output topics and the AsyncAPI document of all topics.

Generated from :mod:`processor.outputs.models` (and the input envelope model)
into ``processor/schemas/``; regenerate with ``python -m processor.outputs.schemas``
after changing a model. Unit tests fail while the shipped files and the
generators disagree, and while a record builder writes something its schema
does not describe.

The AsyncAPI document (3.0) lists every topic the project owns. The worker's
changelog is in it too, marked internal (``x-internal``, tag ``internal``):
operators see it on the cluster and should know what it is, but its payload is
private to the worker and not described.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from processor.contract import Envelope
from processor.outputs.models import (
    CallAlertRecord,
    CallEventRecord,
    CallStateRecord,
    DeadLetterRecord,
)
from processor.settings import Settings

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILES: Final[dict[str, type[BaseModel]]] = {
    "call-events.v1.json": CallEventRecord,
    "call-state.v1.json": CallStateRecord,
    "call-alerts.v1.json": CallAlertRecord,
    "webhooks-dlq.v1.json": DeadLetterRecord,
}
"""Shipped file name -> the model its JSON Schema is generated from."""
ASYNCAPI_FILE: Final = "asyncapi.json"
"""The AsyncAPI document's file name (JSON, so reading it needs no YAML library)."""

_REF: Final = "#/components/schemas/{model}"
_KAFKA_BINDING: Final = "0.5.0"


def schema_dir() -> Path:
    """The source folder of the shipped schemas (``processor/schemas``)."""
    return Path(__file__).resolve().parent.parent / "schemas"


def load_schema(file_name: str) -> dict[str, Any]:
    """A shipped schema (or the AsyncAPI document) read from the installed package."""
    text = resources.files("processor").joinpath("schemas", file_name).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def generate_schemas() -> dict[str, dict[str, Any]]:
    """File name -> the JSON Schema (draft 2020-12) of each output topic's records."""
    return {
        name: {
            "$schema": JSON_SCHEMA_DIALECT,
            **model.model_json_schema(by_alias=True, mode="serialization"),
        }
        for name, model in SCHEMA_FILES.items()
    }


def generate_asyncapi(settings: Settings) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every topic, with names and sizes from ``settings``."""
    models: Sequence[tuple[type[BaseModel], JsonSchemaMode]] = [
        (Envelope, "validation"),
        (CallEventRecord, "serialization"),
        (CallStateRecord, "serialization"),
        (CallAlertRecord, "serialization"),
        (DeadLetterRecord, "serialization"),
    ]
    _, definitions = models_json_schema(models, by_alias=True, ref_template=_REF)
    channels = _channels(settings)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Recho call-webhook pipeline",
            "version": "1.0.0",
            "description": "Kafka topics of the Recho webhook pipeline: the raw webhooks the "
            "ingress writes, and what the worker derives from them. Every record is JSON, "
            "keyed by callId, so one call's records share a partition and keep their order. "
            "Read with isolation.level=read_committed to see each webhook's effects once.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": settings.kafka_bootstrap_servers.split(",")[0].strip(),
                "protocol": "kafka",
                "description": "Bootstrap server (PROCESSOR_KAFKA_BOOTSTRAP_SERVERS).",
            }
        },
        "channels": {name: channel for name, (channel, _) in channels.items()},
        "operations": _operations(settings),
        "components": {
            "schemas": definitions["$defs"],
            "messages": {name: message for name, (_, message) in channels.items()},
        },
    }


_CALL_ID_KEY: Final = {"type": "string", "description": "The callId (body.data.callId)."}
_DLQ_KEY: Final = {
    "type": "string",
    "description": "The original record's key (its callId) as received; may be null.",
}


def _channels(settings: Settings) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Channel id -> (channel, its one message)."""

    def payload(model: str, *, tombstone: str = "") -> dict[str, Any]:
        ref = {"$ref": _REF.format(model=model)}
        if not tombstone:
            return ref
        return {"anyOf": [ref, {"type": "null", "description": tombstone}]}

    specs: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
        (
            "webhooks",
            settings.topic_webhooks,
            "Raw Recho webhooks, byte for byte as posted, written by the ingress before it "
            "answers 202. Input of the worker.",
            payload("Envelope"),
            {"location": "$message.payload#/body/data/callId"},
        ),
        (
            "callEvents",
            settings.topic_call_events,
            "Every webhook, normalized, with its transition verdict, previous and new status, "
            "hasErrors (from body.errors only) and its input position.",
            payload("CallEventRecord"),
            {"location": "$message.payload#/callId"},
        ),
        (
            "callState",
            settings.topic_call_state,
            "Latest state of each call (compacted). A tombstone (null value) once a finished "
            "call expires.",
            payload("CallStateRecord", tombstone="Tombstone: the call expired."),
            {"location": "$message.payload#/callId"},
        ),
        (
            "callAlerts",
            settings.topic_call_alerts,
            "One alert per event with a non-empty body.errors (never decided by callStatus), "
            "and one CALL_STALLED per call with no terminal event after "
            "PROCESSOR_WORKER_STALL_AFTER_S.",
            payload("CallAlertRecord"),
            {"location": "$message.payload#/alertId"},
        ),
        (
            "deadLetters",
            settings.topic_dlq,
            "Input records that could not be processed, with the reason and the original "
            "key, value and headers, exactly; `processor replay --from-dlq` sends them again.",
            payload("DeadLetterRecord"),
            {"location": "$message.payload#/source"},
        ),
        (
            "changelog",
            settings.topic_changelog,
            "Internal: the worker's per-call state, compacted and co-partitioned with the "
            "webhooks topic, to restore state after a rebalance. Private format, not for "
            "consumers.",
            {
                "anyOf": [
                    {"type": "object", "description": "Worker-private call state."},
                    {"type": "null", "description": "Tombstone: the call expired."},
                ]
            },
            {},
        ),
    ]
    compacted = settings.compacted_topics()
    result: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for name, topic, description, message_payload, correlation in specs:
        internal = topic == settings.topic_changelog
        key = _DLQ_KEY if topic == settings.topic_dlq else _CALL_ID_KEY
        channel: dict[str, Any] = {
            "address": topic,
            "description": description,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {
                "kafka": {
                    "topic": topic,
                    "partitions": settings.topic_partitions,
                    "replicas": settings.topic_replication_factor,
                    "topicConfiguration": {
                        "cleanup.policy": ["compact" if topic in compacted else "delete"]
                    },
                    "bindingVersion": _KAFKA_BINDING,
                }
            },
        }
        message: dict[str, Any] = {
            "name": name,
            "contentType": "application/json",
            "payload": message_payload,
            "bindings": {"kafka": {"key": key, "bindingVersion": _KAFKA_BINDING}},
        }
        if correlation:
            message["correlationId"] = {
                "description": "What identifies the record.",
                **correlation,
            }
        if internal:
            channel["x-internal"] = True
            channel["tags"] = [{"name": "internal"}]
        result[name] = (channel, message)
    return result


def _operations(settings: Settings) -> dict[str, Any]:
    """Who writes and reads each channel, from the pipeline's point of view."""

    def operation(action: str, channel: str, summary: str, group: str = "") -> dict[str, Any]:
        op: dict[str, Any] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": summary,
        }
        if group:
            op["bindings"] = {
                "kafka": {
                    "groupId": {"type": "string", "enum": [group]},
                    "bindingVersion": _KAFKA_BINDING,
                }
            }
        return op

    worker = settings.worker_group_id
    return {
        "writeWebhook": operation(
            "send", "webhooks", "The ingress writes each accepted webhook (acks=all)."
        ),
        "readWebhooks": operation(
            "receive", "webhooks", "The worker consumes webhooks, one partition in order.", worker
        ),
        "writeCallEvent": operation("send", "callEvents", "The worker publishes each event."),
        "writeCallState": operation("send", "callState", "The worker publishes call state."),
        "writeCallAlert": operation("send", "callAlerts", "The worker raises alerts."),
        "readCallAlerts": operation(
            "receive",
            "callAlerts",
            "The notifier forwards alerts to Alertmanager and webhooks.",
            settings.notifier_group_id,
        ),
        "writeDeadLetter": operation(
            "send", "deadLetters", "The worker dead-letters what it cannot process."
        ),
        "writeChangelog": operation("send", "changelog", "The worker saves call state."),
        "readChangelog": operation(
            "receive", "changelog", "The worker restores state of assigned partitions."
        ),
    }


def write_schemas(directory: Path, settings: Settings | None = None) -> list[Path]:
    """Write every schema and the AsyncAPI document into ``directory``; the paths written.

    Without ``settings`` the defaults are used, whatever the environment says,
    so the shipped files do not depend on who generated them.
    """
    documents = dict(generate_schemas())
    documents[ASYNCAPI_FILE] = generate_asyncapi(settings or default_settings())
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in documents.items():
        path = directory / name
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
        written.append(path)
    return written


def default_settings() -> Settings:
    """Settings with every default, ignoring ``PROCESSOR_*`` variables."""
    return Settings.model_construct()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m processor.outputs.schemas [DIR]``: regenerate the shipped files."""
    parser = argparse.ArgumentParser(
        prog="python -m processor.outputs.schemas", description=__doc__.splitlines()[0]
    )
    parser.add_argument("directory", nargs="?", type=Path, default=schema_dir())
    args = parser.parse_args(argv)
    for path in write_schemas(args.directory):
        print(path)


if __name__ == "__main__":
    main()
