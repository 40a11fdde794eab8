"""From raw webhook bytes to an :class:`~processor.contract.envelope.Envelope`, or a ContractError.

The bytes are parsed once, by orjson (which also enforces RFC 8259), and the
document validated by pydantic-core. A body that breaks the contract becomes
one :class:`~processor.errors.ContractError` naming the wire path of its first
problem, never quoting its values (they may be personal data).
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from processor.contract.envelope import Envelope
from processor.errors import ContractError, MissingCallIdError, NotJsonObjectError

_CALL_ID_LOC: Final = ("body", "data", "callId")
_MAX_LISTED_ERRORS: Final = 5
_validate: Final = Envelope.__pydantic_validator__.validate_python
"""``Envelope.model_validate`` without its Python wrapper (it runs once per event)."""


def parse_envelope(raw: bytes) -> Envelope:
    """Parse a raw webhook body into an :class:`Envelope`, in one pass over the bytes.

    Raises:
        MissingCallIdError: ``body.data.callId`` (or ``body``/``body.data``) is
            missing, null, not a string, or empty/whitespace-only.
        ContractError: the body is not valid JSON or breaks the schema otherwise;
            ``field`` is the dotted wire path of the first problem.
    """
    document = json_object(raw)
    try:
        # by_name=False: only wire (camelCase) names populate fields, so an
        # unknown snake_case key is kept as an extra field instead of aliasing one.
        envelope: Envelope = _validate(document, by_alias=True, by_name=False)
        return envelope
    except ValidationError:
        pass
    # The rare invalid body is validated again from its bytes, so that the
    # problems are worded for JSON input ("Input should be an object"), as a
    # sender reads them. Both modes accept the same documents.
    try:
        return Envelope.model_validate_json(raw, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise _to_contract_error(exc) from exc


def json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` parsed as an RFC 8259 JSON object; :class:`NotJsonObjectError` otherwise.

    orjson follows RFC 8259, where pydantic's own parser also takes ``NaN``,
    ``Infinity`` and numbers that overflow to infinity (``1e400``); no other
    JSON reader downstream has to. The message keeps the position and leaves
    out parser internals.
    """
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if exc.lineno else ""
        raise NotJsonObjectError(f"the body is not valid JSON{where}") from None
    if not isinstance(document, dict):
        raise NotJsonObjectError("the body must be a JSON object")
    return document


def _to_contract_error(exc: ValidationError) -> ContractError:
    """Translate pydantic's errors into our one contract error, naming the wire field."""
    details = exc.errors(include_url=False, include_input=False, include_context=False)
    first = details[0]
    if first["type"] == "json_invalid":  # unreachable after json_object; kept safe
        return NotJsonObjectError("the body is not valid JSON", field="")
    # A broken path to callId wins: without a callId the event cannot be keyed.
    call_id_problem = next((d for d in details if _blocks_call_id(d)), None)
    primary = call_id_problem or first
    ordered = [primary, *(d for d in details if d is not primary)]
    listed = "; ".join(_describe(d) for d in ordered[:_MAX_LISTED_ERRORS])
    if len(ordered) > _MAX_LISTED_ERRORS:
        listed += f"; (+{len(ordered) - _MAX_LISTED_ERRORS} more)"
    error_type = MissingCallIdError if call_id_problem is not None else ContractError
    return error_type(listed, field=_dotted(primary["loc"]))


def _blocks_call_id(detail: ErrorDetails) -> bool:
    """True if the error sits on ``body``, ``body.data`` or ``body.data.callId``."""
    loc = detail["loc"]
    return 0 < len(loc) <= len(_CALL_ID_LOC) and loc == _CALL_ID_LOC[: len(loc)]


def _describe(detail: ErrorDetails) -> str:
    """``"<dotted path>: <reason>"``; never includes the input value (may be personal data)."""
    path = _dotted(detail["loc"]) or "envelope"
    message = detail["msg"]
    if detail["type"] == "string_pattern_mismatch" and detail["loc"] == _CALL_ID_LOC:
        # pydantic would show the regex; say what the rule is instead.
        message = "must not be empty or whitespace-only"
    return f"{path}: {message}"


def _dotted(loc: tuple[int | str, ...]) -> str:
    """``("body", "errors", 0, "code")`` -> ``"body.errors.0.code"``."""
    return ".".join(str(part) for part in loc)
