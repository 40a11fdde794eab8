"""The shipped JSON Schemas and AsyncAPI document: generated, current, and true to the topics."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from processor.outputs import ALERT_KINDS, DeadLetterReason, SourceRef, dlq_record
from processor.outputs.models import (
    CallAlertRecord,
    CallEventRecord,
    CallStateRecord,
    DeadLetterRecord,
)
from processor.outputs.schemas import (
    ASYNCAPI_FILE,
    SCHEMA_FILES,
    generate_asyncapi,
    generate_schemas,
    load_schema,
    schema_dir,
    write_schemas,
)
from processor.settings import Settings
from tests.factories import SPEC_EXAMPLES, make_envelope, make_error
from tests.unit.outputs.test_records import Calls

REGENERATE = "run `python -m processor.outputs.schemas` and commit processor/schemas/"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PROCESSOR_* variables, so Settings() gives the defaults the files were made with."""
    for name in list(os.environ):
        if name.startswith("PROCESSOR_"):
            monkeypatch.delenv(name)


def sample_records() -> dict[str, list[bytes]]:
    """Real records of every output topic, by the model that describes them."""
    calls = Calls()
    steps = calls.feed_all(
        [
            make_envelope("OUTBOUND_CALL_PENDING"),
            make_envelope("OUTBOUND_CALL_ERROR", errors=[make_error()]),
        ]
    )
    return {
        "CallEventRecord": [json.dumps(s.event).encode() for s in steps],
        "CallStateRecord": [json.dumps(s.state).encode() for s in steps],
        "CallAlertRecord": [json.dumps(a).encode() for s in steps for a in s.alert_records],
        "DeadLetterRecord": [
            dlq_record(
                reason="not_json",
                error="body is not valid JSON",
                source=SourceRef("recho.webhooks.v1", 0, 1),
                key=b"c-1",
                value=b'{"projectId":\xff',
                headers=[("x-request-id", b"r-1"), ("empty", None)],
                failed_at_ms=1,
            )
        ],
    }


def walk_refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` value anywhere in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from walk_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_refs(item)


def resolve(document: dict[str, Any], ref: str) -> Any:
    """Follow a local JSON pointer ref (``#/a/b``) in ``document``."""
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


class TestShippedFiles:
    """processor/schemas/ holds exactly what the generators produce."""

    @pytest.mark.parametrize("name", list(SCHEMA_FILES))
    def test_schema_file_is_current(self, name: str) -> None:
        """A model change without regenerating the shipped schema fails here."""
        assert load_schema(name) == generate_schemas()[name], REGENERATE

    @pytest.mark.usefixtures("clean_env")
    def test_asyncapi_file_is_current(self) -> None:
        """The shipped AsyncAPI document equals the one generated from default settings."""
        assert load_schema(ASYNCAPI_FILE) == generate_asyncapi(Settings()), REGENERATE

    def test_no_stray_files(self) -> None:
        """Only generated files are shipped: a renamed schema does not leave its old file."""
        shipped = {p.name for p in schema_dir().iterdir() if p.is_file()}
        assert shipped == {*SCHEMA_FILES, ASYNCAPI_FILE}

    def test_write_schemas_reproduces_the_files(self, tmp_path: Path) -> None:
        """Regenerating writes byte-identical files (no spurious diffs in review)."""
        for path in write_schemas(tmp_path):
            assert path.read_bytes() == (schema_dir() / path.name).read_bytes(), REGENERATE

    @pytest.mark.parametrize("name", list(SCHEMA_FILES))
    def test_schema_is_valid_draft_2020_12(self, name: str) -> None:
        """Each shipped schema is itself a valid JSON Schema of the dialect it declares."""
        schema = load_schema(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)

    @pytest.mark.parametrize("name", list(SCHEMA_FILES))
    def test_every_field_is_required(self, name: str) -> None:
        """Builders always write every field (null when unknown), and the schema says so."""
        schema = load_schema(name)
        assert set(schema["required"]) == set(schema["properties"])


class TestSchemaContent:
    """The schemas pin the values the issue promises."""

    def test_alert_kinds(self) -> None:
        """Alert kinds in the schema are exactly the public names the builder writes."""
        kind = load_schema("call-alerts.v1.json")["properties"]["kind"]
        assert sorted(kind["enum"]) == sorted(ALERT_KINDS.values())
        assert "CALL_STALLED" in kind["enum"]

    def test_dlq_reasons(self) -> None:
        """Dead-letter reasons in the schema are exactly DeadLetterReason's values."""
        schema = load_schema("webhooks-dlq.v1.json")
        reason = schema["$defs"]["DeadLetterReason"]
        assert reason["enum"] == [r.value for r in DeadLetterReason]

    def test_schema_markers(self) -> None:
        """Each record's schema field is a constant naming its type and version."""
        markers = {
            name: load_schema(name)["properties"]["schema"]["const"] for name in SCHEMA_FILES
        }
        assert markers == {
            "call-events.v1.json": "recho.call-event/1",
            "call-state.v1.json": "recho.call-state/1",
            "call-alerts.v1.json": "recho.call-alert/1",
            "webhooks-dlq.v1.json": "recho.webhook-dead-letter/1",
        }

    def test_fields_are_documented(self) -> None:
        """Every top-level field of every record has a description."""
        for name in SCHEMA_FILES:
            for field, spec in load_schema(name)["properties"].items():
                assert spec.get("description"), f"{name}: {field}"

    @pytest.mark.parametrize(
        "model", [CallEventRecord, CallStateRecord, CallAlertRecord, DeadLetterRecord]
    )
    def test_models_read_records(self, model: type[BaseModel]) -> None:
        """Consumers can read records with the models; unknown fields are ignored."""
        records = sample_records()[model.__name__]
        assert records
        for raw in records:
            loaded = model.model_validate_json(raw)
            assert loaded.model_dump(mode="json") == json.loads(raw)
            with_extra = {**json.loads(raw), "addedLater": 1}
            assert model.model_validate(with_extra) == loaded


class TestAsyncApi:
    """The AsyncAPI document describes every topic and resolves on its own."""

    @pytest.fixture
    def doc(self) -> dict[str, Any]:
        """The shipped document."""
        return load_schema(ASYNCAPI_FILE)

    def test_names_every_topic(self, doc: dict[str, Any], clean_env: None) -> None:
        """Every topic the project owns is a channel; the changelog is marked internal."""
        settings = Settings()
        addresses = {c["address"]: c for c in doc["channels"].values()}
        assert set(addresses) == set(settings.all_topics())
        internal = {a for a, c in addresses.items() if c.get("x-internal")}
        assert internal == {settings.topic_changelog}

    def test_follows_settings(self) -> None:
        """Renamed topics and partition counts show up in a document generated for them."""
        settings = Settings.model_construct(topic_call_alerts="ops.alerts", topic_partitions=12)
        doc = generate_asyncapi(settings)
        alerts = doc["channels"]["callAlerts"]
        assert alerts["address"] == "ops.alerts"
        assert alerts["bindings"]["kafka"]["partitions"] == 12

    def test_compaction_noted(self, doc: dict[str, Any], clean_env: None) -> None:
        """call-state and the changelog are compacted; the other topics delete."""
        compacted = Settings().compacted_topics()
        for channel in doc["channels"].values():
            policy = channel["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"]
            assert policy == ["compact" if channel["address"] in compacted else "delete"]

    def test_keys_are_call_ids(self, doc: dict[str, Any]) -> None:
        """Every message is keyed by callId, a string, and says so."""
        for message in doc["components"]["messages"].values():
            key = message["bindings"]["kafka"]["key"]
            assert key["type"] == "string"
            assert "callId" in key["description"]

    def test_refs_resolve(self, doc: dict[str, Any]) -> None:
        """Every $ref points inside the document: it reads without any other file."""
        refs = set(walk_refs(doc))
        assert refs
        for ref in refs:
            resolve(doc, ref)

    def test_webhook_payload_is_the_envelope(self, doc: dict[str, Any]) -> None:
        """The input channel's payload schema accepts every spec example webhook."""
        payload = resolve(doc, "#/components/messages/webhooks")["payload"]
        validator = Draft202012Validator({**payload, "components": doc["components"]})
        for example in SPEC_EXAMPLES:
            validator.validate(example)
        assert not validator.is_valid({"projectId": "p"})

    @pytest.mark.parametrize(
        ("channel", "model"),
        [
            ("callEvents", "CallEventRecord"),
            ("callState", "CallStateRecord"),
            ("callAlerts", "CallAlertRecord"),
            ("deadLetters", "DeadLetterRecord"),
        ],
    )
    def test_output_payloads_accept_real_records(
        self, doc: dict[str, Any], channel: str, model: str
    ) -> None:
        """Records the worker builds validate against the AsyncAPI payload of their channel."""
        payload = resolve(doc, f"#/components/messages/{channel}")["payload"]
        validator = Draft202012Validator({**payload, "components": doc["components"]})
        records = sample_records()[model]
        assert records
        for raw in records:
            validator.validate(json.loads(raw))

    def test_state_tombstone_is_allowed(self, doc: dict[str, Any]) -> None:
        """A null value on call-state (a tombstone) is part of the contract."""
        payload = doc["components"]["messages"]["callState"]["payload"]
        validator = Draft202012Validator({**payload, "components": doc["components"]})
        assert validator.is_valid(None)

    def test_operations_use_defined_channels(self, doc: dict[str, Any]) -> None:
        """Each operation sends or receives on a channel the document defines."""
        for operation in doc["operations"].values():
            assert operation["action"] in {"send", "receive"}
            resolve(doc, operation["channel"]["$ref"])
