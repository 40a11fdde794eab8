"""The OpenAPI 3.1 document of the explorer API, generated from its pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from processor.explorer.models import CallDetail, CallPage, Problem, Stats
from processor.explorer.query import MAX_LIMIT, OUTCOMES, STATUSES, VERDICTS

_REF = "#/components/schemas/{model}"


def _content(model: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _REF.format(model=model)}}}


def _answer(description: str, model: str) -> dict[str, Any]:
    return {"description": description, "content": _content(model)}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_TIME = {"type": "string", "description": "ISO 8601 (UTC if no zone) or epoch milliseconds"}
_OPS = (
    ("/healthz", "healthz", {"200": {"description": "Alive"}}),
    ("/readyz", "readyz", {"200": {"description": "Consuming"}, "503": {"description": "Not"}}),
    ("/metrics", "metrics", {"200": {"description": "Prometheus text exposition"}}),
)
_ERRORS = {
    "400": _answer("A parameter is invalid; `field` names it", "Problem"),
    "401": _answer("No valid bearer token", "Problem"),
    "503": _answer("The query store cannot answer now; retry", "Problem"),
}


def build_openapi() -> dict[str, Any]:
    """The document served at ``/openapi.json``."""
    _, schemas = models_json_schema(
        [(m, "serialization") for m in (CallDetail, CallPage, Stats, Problem)],
        by_alias=True,
        ref_template=_REF,
    )
    text = {"type": "string", "maxLength": 200}
    limit = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}
    call_filters = [
        _query("projectId", "Only calls of this project", text),
        _query("status", "Current machine node", {"type": "string", "enum": list(STATUSES)}),
        _query("outcome", "OPEN = not finished", {"type": "string", "enum": list(OUTCOMES)}),
        _query("hasErrors", "With (true) or without (false) errors", {"type": "boolean"}),
        _query("verdict", "With an event of it", {"type": "string", "enum": list(VERDICTS)}),
        _query("errorCode", "With an error of this code", text),
        _query("since", "First seen at or after", _TIME),
        _query("until", "First seen before", _TIME),
        _query("limit", "Page size", limit),
        _query("cursor", "nextCursor of the previous page", {"type": "string"}),
    ]
    security: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Recho call explorer",
            "version": "1",
            "description": "What happened to call X? Calls, their timelines and alerts, "
            "materialised from the pipeline's output topics.",
        },
        "security": security,
        "paths": {
            "/calls/{callId}": {
                "get": {
                    "operationId": "getCall",
                    "summary": "A call's state, outcome and full timeline with its alerts",
                    "parameters": [
                        {
                            "name": "callId",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                        }
                    ],
                    "responses": {
                        "200": _answer("The call", "CallDetail"),
                        "404": _answer("No such call is stored", "Problem"),
                        **_ERRORS,
                    },
                }
            },
            "/calls": {
                "get": {
                    "operationId": "listCalls",
                    "summary": "Calls matching the filters, newest first, one page",
                    "parameters": call_filters,
                    "responses": {"200": _answer("One page", "CallPage"), **_ERRORS},
                }
            },
            "/stats": {
                "get": {
                    "operationId": "getStats",
                    "summary": "Counts by outcome, error code, unexpected transition; answer time",
                    "parameters": [_query("since", "Window start (default: 24 h ago)", _TIME)],
                    "responses": {"200": _answer("Aggregates", "Stats"), **_ERRORS},
                }
            },
            **{
                path: {"get": {"operationId": name, "security": [], "responses": answers}}
                for path, name, answers in _OPS
            },
        },
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
