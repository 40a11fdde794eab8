"""The OpenAPI 3.1 document of the ingress, generated from the pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from processor.contract import Envelope
from processor.ingress.responses import Accepted, Problem
from processor.settings import Settings

_REF = "#/components/schemas/{model}"


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(model="Problem")}}},
    }


def build_openapi(settings: Settings) -> dict[str, Any]:
    """The document served at ``/openapi.json``."""
    _, schemas = models_json_schema(
        [(Envelope, "validation"), (Accepted, "serialization"), (Problem, "serialization")],
        by_alias=True,
        ref_template=_REF,
    )
    retry_after = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Recho webhook ingress",
            "version": "1",
            "description": "Receives Recho call-status webhooks and writes each, byte for "
            "byte, to Kafka keyed by callId. 202 only after the broker acknowledged.",
        },
        "paths": {
            settings.ingress_path: {
                "post": {
                    "operationId": "receiveWebhook",
                    "summary": "Receive one Recho call-status webhook",
                    "parameters": [
                        {
                            "name": name,
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                            "description": description,
                        }
                        for name, description in (
                            ("Authorization", "Bearer <token> (BEARER mode)"),
                            ("X-Recho-Signature", "base64 RSA-SHA256 signature"),
                            ("X-Recho-Timestamp", "Unix epoch seconds, signed"),
                            ("X-Request-Id", "Optional request id echoed back"),
                        )
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": _REF.format(model="Envelope")}}
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "Durably in Kafka at this position",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": _REF.format(model="Accepted")}
                                }
                            },
                        },
                        "400": _problem(
                            "Not RFC 8259 JSON, not a JSON object, no usable "
                            "body.data.callId, or a malformed HTTP request"
                        ),
                        "401": _problem(
                            "Authentication failed (token, signature, timestamp, "
                            "repeated auth header)"
                        ),
                        "403": _problem("projectId not in the allow-list"),
                        "408": _problem("Request head or body bytes did not arrive in time"),
                        "413": _problem(
                            "Body larger than the limit, or the record larger than the "
                            "topic's max.message.bytes"
                        ),
                        "415": _problem("Content-Type is not application/json"),
                        "431": _problem("Request line and headers too large, or too many"),
                        "503": {
                            **_problem("Kafka cannot take the write now; retry"),
                            "headers": retry_after,
                        },
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Process is alive",
                    "responses": {"200": {"description": "Alive"}},
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Kafka producer connected and not draining",
                    "responses": {
                        "200": {"description": "Ready"},
                        "503": {"description": "Not ready"},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "Prometheus text exposition"}},
                }
            },
        },
        "components": {"schemas": schemas["$defs"]},
    }
