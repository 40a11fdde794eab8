"""How every Kafka client proves who it is and whom it talks to: TLS and SASL options.

The one place that turns the security settings into aiokafka options; the
rest of the package never sees a protocol, a certificate or a password.
Every problem with the local files is a :class:`ConfigError` whose one-line
message names the setting, never a secret.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from processor.errors import ConfigError
from processor.settings import SecurityProtocol, Settings

TLS_PROTOCOLS = frozenset({SecurityProtocol.SSL, SecurityProtocol.SASL_SSL})
SASL_PROTOCOLS = frozenset({SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL})


def security_options(settings: Settings) -> dict[str, Any]:
    """aiokafka's ``security_protocol``, ``ssl_context`` and ``sasl_*`` options."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol.value}
    if protocol in TLS_PROTOCOLS:
        options["ssl_context"] = create_ssl_context(settings)
    if protocol in SASL_PROTOCOLS:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism.value
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = sasl_password(settings)
    return options


def sasl_password(settings: Settings) -> str:
    """The SASL password, from the setting or the first line of the password file."""
    if settings.kafka_sasl_password is not None:
        return settings.kafka_sasl_password.get_secret_value()
    path = settings.kafka_sasl_password_file
    if path is None:
        raise ConfigError("no SASL password: set PROCESSOR_KAFKA_SASL_PASSWORD(_FILE)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(
            f"cannot read PROCESSOR_KAFKA_SASL_PASSWORD_FILE {path}: {reason}"
        ) from None
    if not lines or not lines[0]:
        raise ConfigError(f"PROCESSOR_KAFKA_SASL_PASSWORD_FILE {path} is empty")
    return lines[0]


def create_ssl_context(settings: Settings) -> ssl.SSLContext:
    """Verifying TLS context: the CA file (else the system's CAs), an optional client
    certificate for mutual TLS, hostname checks unless turned off."""
    ca_file = settings.kafka_ssl_ca_file
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot load PROCESSOR_KAFKA_SSL_CA_FILE {ca_file}: {_reason(exc)}"
        ) from None
    context.check_hostname = settings.kafka_ssl_check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    if settings.kafka_ssl_key_file is not None and settings.kafka_ssl_cert_file is None:
        raise ConfigError("PROCESSOR_KAFKA_SSL_KEY_FILE needs PROCESSOR_KAFKA_SSL_CERT_FILE")
    if settings.kafka_ssl_cert_file is not None:
        _load_client_certificate(context, settings)
    return context


def _load_client_certificate(context: ssl.SSLContext, settings: Settings) -> None:
    cert, key = settings.kafka_ssl_cert_file, settings.kafka_ssl_key_file
    secret = settings.kafka_ssl_key_password
    # Never an empty callback result for an encrypted key: without a password,
    # OpenSSL would otherwise prompt on the terminal and the process would hang.
    password = secret.get_secret_value() if secret is not None else ""
    try:
        context.load_cert_chain(str(cert), str(key) if key else None, password=password)
    except (OSError, ssl.SSLError) as exc:
        names = "PROCESSOR_KAFKA_SSL_CERT_FILE" + (" / _KEY_FILE" if key else "")
        hint = "" if isinstance(exc, FileNotFoundError) else _key_hint(settings)
        raise ConfigError(
            f"cannot load the client certificate ({names} {_files(cert, key)}): "
            f"{_reason(exc)}{hint}"
        ) from None


def _files(cert: Path | None, key: Path | None) -> str:
    return f"{cert}" + (f", {key}" if key else "")


def _key_hint(settings: Settings) -> str:
    if settings.kafka_ssl_key_password is None:
        return " (an encrypted key needs PROCESSOR_KAFKA_SSL_KEY_PASSWORD)"
    return " (is PROCESSOR_KAFKA_SSL_KEY_PASSWORD right?)"


def _reason(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or "cannot read or decrypt the certificate or key"
    return exc.strerror or type(exc).__name__
