"""The project's exception tree. Every error the package raises is one of these.

    ProcessorError                      root; ``retriable`` decides retry vs dead-letter
    ├── ConfigError                     settings that cannot work (bad key file, ...)
    ├── ContractError                   a webhook body that breaks the Recho contract
    │   ├── MissingCallIdError          no usable body.data.callId: nothing to key it by
    │   └── NotJsonObjectError          not RFC 8259 JSON, or not an object at the top
    ├── AuthError                       a webhook that fails authentication (401)
    ├── KafkaError                      anything the Kafka boundary translates (retriable)
    │   ├── KafkaUnavailableError       broker down, slow or buffer full (ingress: 503)
    │   ├── RecordTooLargeError         larger than the topic accepts, ever (ingress: 413)
    │   └── FencedError                 another instance owns this transactional id
    └── DeliveryError                   an alert sink did not take a notification

Foreign exceptions are translated where they enter (``raise ... from exc``).
"""

from __future__ import annotations


class ProcessorError(Exception):
    """Root of every error raised by the processor package."""

    retriable: bool = False


class ConfigError(ProcessorError):
    """Settings that cannot work."""


class ContractError(ProcessorError):
    """A webhook body that breaks the Recho contract; ``field`` names where."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class MissingCallIdError(ContractError):
    """The body has no usable ``body.data.callId``."""


class NotJsonObjectError(ContractError):
    """The body is not valid JSON (RFC 8259), or its top level is not an object."""


class AuthError(ProcessorError):
    """Authentication failed; ``reason`` is a short, bounded, secret-free code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class KafkaError(ProcessorError):
    """A Kafka operation failed."""

    retriable = True


class KafkaUnavailableError(KafkaError):
    """Kafka could not take the write in time (down, slow, buffer full)."""


class RecordTooLargeError(KafkaError):
    """The record can never be written: it exceeds the topic's ``max.message.bytes``."""

    retriable = False


class FencedError(KafkaError):
    """This producer was fenced: another instance owns its transactional id."""

    retriable = False


class DeliveryError(ProcessorError):
    """A sink did not take a notification; ``retriable`` says whether to try again."""

    def __init__(self, message: str, *, retriable: bool, retry_after_s: float | None = None):
        super().__init__(message)
        self.retriable = retriable
        self.retry_after_s = retry_after_s
