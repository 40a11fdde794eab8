"""Start-up check of the connection settings: a misconfiguration becomes one clear line.

aiokafka reports a client that cannot bootstrap with "Unable to bootstrap" and
retries; the real cause (a wrong password, an untrusted certificate, TLS
spoken to a plaintext port) only reaches its log. Every command that talks
to Kafka calls :func:`check_connection` first: one connection to a bootstrap
server, authenticated exactly as the clients will be, then one metadata
request. A definite misconfiguration raises :class:`ConfigError` naming what
is wrong (and the setting to look at); a broker that does not answer at all
is left to the clients, which report it as unavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Iterator
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError as AIOKafkaError
from aiokafka.errors import SaslAuthenticationFailed, UnsupportedSaslMechanismError
from aiokafka.protocol.admin import SaslHandShakeRequest
from aiokafka.protocol.metadata import MetadataRequest

from processor.errors import ConfigError
from processor.kafka.security import SASL_PROTOCOLS, TLS_PROTOCOLS, security_options
from processor.settings import Settings

PROTOCOL = "PROCESSOR_KAFKA_SECURITY_PROTOCOL"


class _NoAnswer(Exception):  # noqa: N818 - a signal inside this module, not an error users see
    """Nothing listens there, or it does not answer in time: not a configuration verdict."""


async def check_connection(settings: Settings, timeout_s: float = 10.0) -> None:
    """Raise ConfigError if the security settings cannot work with the first broker
    that answers; return quietly when they work or when no broker answers."""
    options = security_options(settings)  # a bad local file fails here
    with _quiet_aiokafka():
        for host, port in _bootstrap_hosts(settings.kafka_bootstrap_servers):
            try:
                await _check_one(settings, options, host, port, timeout_s)
            except _NoAnswer:
                continue
            return


def _bootstrap_hosts(servers: str) -> list[tuple[str, int]]:
    hosts = []
    for server in servers.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"PROCESSOR_KAFKA_BOOTSTRAP_SERVERS: {server!r} is not host:port")
        hosts.append((host.strip("[]"), int(port)))
    return hosts


@contextlib.contextmanager
def _quiet_aiokafka() -> Iterator[None]:
    # The failures are the point here and get one line of their own.
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


async def _check_one(
    settings: Settings, options: dict[str, Any], host: str, port: int, timeout_s: float
) -> None:
    where = f"{host}:{port}"
    conn = None
    try:
        async with asyncio.timeout(timeout_s):
            conn = await create_conn(
                host, port, request_timeout_ms=int(timeout_s * 1000), **options
            )
            await conn.send(MetadataRequest([]))
    except SaslAuthenticationFailed:
        raise ConfigError(
            f"SASL authentication failed for user {settings.kafka_sasl_username} "
            f"({settings.kafka_sasl_mechanism}) at {where}: check the username and "
            "PROCESSOR_KAFKA_SASL_PASSWORD(_FILE)"
        ) from None
    except UnsupportedSaslMechanismError as exc:
        raise ConfigError(
            f"the broker at {where} does not enable SASL mechanism "
            f"{settings.kafka_sasl_mechanism}{_offered(exc)}: "
            "check PROCESSOR_KAFKA_SASL_MECHANISM"
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise ConfigError(
            f"TLS to {where}: the broker's certificate is not trusted: "
            f"{exc.verify_message}{_verify_hint(exc)}"
        ) from None
    except (ConnectionRefusedError, socket.gaierror) as exc:
        raise _NoAnswer from exc
    except (TimeoutError, OSError, EOFError, AIOKafkaError) as exc:
        raise await _diagnose(settings, host, port, timeout_s) or _NoAnswer() from exc
    finally:
        if conn is not None:
            conn.close()


def _offered(exc: UnsupportedSaslMechanismError) -> str:
    text = str(exc)
    marker = "Enabled mechanisms are: "
    return f" (it offers {text.split(marker, 1)[1]})" if marker in text else ""


def _verify_hint(exc: ssl.SSLCertVerificationError) -> str:
    message = exc.verify_message or ""
    if "Hostname mismatch" in message or "IP address mismatch" in message:
        return " (connect by a name the certificate holds, or PROCESSOR_KAFKA_SSL_CHECK_HOSTNAME)"
    if "expired" in message or "not yet valid" in message:
        return " (renew the certificate, or check the clock)"
    return " (check PROCESSOR_KAFKA_SSL_CA_FILE)"


async def _diagnose(
    settings: Settings, host: str, port: int, timeout_s: float
) -> ConfigError | None:
    """The connection broke: find out what the port speaks, to say what to change."""
    protocol = settings.kafka_security_protocol
    where = f"{host}:{port}"
    speaks_tls = await _speaks_tls(host, port, timeout_s)
    if speaks_tls is None:
        return None  # nothing answers: the clients will say Kafka is unavailable
    if protocol not in TLS_PROTOCOLS and speaks_tls:
        return ConfigError(
            f"{where} is a TLS listener but {PROTOCOL} is {protocol}: use SSL or SASL_SSL"
        )
    if protocol in TLS_PROTOCOLS and not speaks_tls:
        return ConfigError(
            f"{where} does not speak TLS but {PROTOCOL} is {protocol}: "
            "use PLAINTEXT or SASL_PLAINTEXT, or the broker's TLS port"
        )
    mechanisms = await _sasl_mechanisms(host, port, speaks_tls, timeout_s)
    if protocol not in SASL_PROTOCOLS and mechanisms:
        return ConfigError(
            f"{where} requires SASL ({', '.join(mechanisms)}) but {PROTOCOL} is {protocol}: "
            f"use {'SASL_SSL' if speaks_tls else 'SASL_PLAINTEXT'} with a username and password"
        )
    if protocol in SASL_PROTOCOLS and mechanisms == []:
        return ConfigError(
            f"{where} does not use SASL but {PROTOCOL} is {protocol}: "
            f"use {'SSL' if speaks_tls else 'PLAINTEXT'}"
        )
    if protocol in TLS_PROTOCOLS:
        return ConfigError(
            f"TLS to {where}: the broker closed the connection after the handshake; it may "
            "require a client certificate it trusts (PROCESSOR_KAFKA_SSL_CERT_FILE / "
            "_KEY_FILE), or reject the one given (untrusted or expired)"
        )
    return ConfigError(f"{where} closed the connection: is it a Kafka listener?")


async def _speaks_tls(host: str, port: int, timeout_s: float) -> bool | None:
    """True if a TLS handshake works (certificates aside), False if the port answers
    otherwise, None if nothing answers."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        async with asyncio.timeout(min(timeout_s, 5.0)):
            _, writer = await asyncio.open_connection(host, port, ssl=context)
    except (ConnectionRefusedError, socket.gaierror, TimeoutError, ssl.SSLCertVerificationError):
        return None  # nothing (resolvable) listens, or it is TLS with a certificate issue
    except (OSError, EOFError):
        return False
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return True


async def _sasl_mechanisms(host: str, port: int, tls: bool, timeout_s: float) -> list[str] | None:
    """The SASL mechanisms the listener offers ([] if none), None if unknown."""
    ssl_context = None
    if tls:
        ssl_context = ssl.create_default_context()
        ssl_context.check_hostname = False
        ssl_context.verify_mode = ssl.CERT_NONE
    conn = None
    try:
        async with asyncio.timeout(min(timeout_s, 5.0)):
            conn = await create_conn(
                host,
                port,
                security_protocol="SSL" if tls else "PLAINTEXT",
                ssl_context=ssl_context,
                request_timeout_ms=int(timeout_s * 1000),
            )
            response = await conn.send(SaslHandShakeRequest("PLAIN"))
    except (TimeoutError, OSError, EOFError, AIOKafkaError):
        return None
    finally:
        if conn is not None:
            conn.close()
    return list(response.enabled_mechanisms)
