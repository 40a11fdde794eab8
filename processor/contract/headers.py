"""The wire names the components share: request headers, Kafka record headers, the signed message.

The platform signs ``<X-Recho-Timestamp>.<raw body>`` (spec §2); the ingress
checks it, the simulator and the benchmarks produce it. The ingress writes the
provenance headers on every webhook record; the worker and auditors read them.
"""

from __future__ import annotations

import hashlib
from typing import Final

SIGNATURE_HEADER: Final = "X-Recho-Signature"
TIMESTAMP_HEADER: Final = "X-Recho-Timestamp"

HEADER_RECEIVED_AT: Final = "recho-received-at-ms"
HEADER_AUTH_MODE: Final = "recho-auth-mode"
HEADER_CONTENT_SHA256: Final = "recho-content-sha256"
HEADER_REQUEST_ID: Final = "recho-request-id"
HEADER_FLAGS: Final = "recho-flags"

SIGNED_MESSAGE_SEPARATOR: Final = b"."


def signed_message(timestamp: bytes, body: bytes) -> bytes:
    """The bytes the platform signs: the timestamp header's bytes, ``.``, the raw body."""
    return timestamp + SIGNED_MESSAGE_SEPARATOR + body


def signed_message_sha256(timestamp: bytes, body: bytes) -> bytes:
    """SHA-256 of :func:`signed_message`, without copying the body."""
    digest = hashlib.sha256(timestamp)
    digest.update(SIGNED_MESSAGE_SEPARATOR)
    digest.update(body)
    return digest.digest()
