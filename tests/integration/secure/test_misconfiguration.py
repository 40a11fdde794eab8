"""A misconfigured Kafka connection fails fast, with a non-zero exit and one clear line.

Each case runs a real command (``processor topics create`` unless said otherwise)
against the secured node or the plaintext test broker and checks its exit code, that
stderr is exactly one line saying what is wrong, that no secret is in it, and that it
took seconds (no hang, no retry loop, no stack trace).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.integration.brokers import SecureNode
from tests.support.certs import write_pem

pytestmark = pytest.mark.secure

WRONG_PASSWORD = "not-the-password-4711"


def run(env: dict[str, Any], *command: str) -> tuple[int, str, float]:
    """Exit code, stderr and seconds of ``processor <command>`` with only ``env`` set."""
    full = {
        "PATH": "/usr/bin:/bin",
        "PROCESSOR_LOG_JSON": "true",
        **{f"PROCESSOR_{k.upper()}": str(v) for k, v in env.items() if v is not None},
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "processor", *(command or ("topics", "create"))],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode, result.stderr, time.monotonic() - started


def assert_one_line(code: int, stderr: str, seconds: float, *phrases: str) -> None:
    """Non-zero exit, one line on stderr containing ``phrases``, within 15 s."""
    assert code != 0
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    assert seconds < 15, f"took {seconds:.1f} s"


def certificate(
    folder: Path,
    name: str,
    *,
    key: rsa.RSAPrivateKey | None = None,
    issuer_key: rsa.RSAPrivateKey | None = None,
    issuer: x509.Name | None = None,
    subject: str = "test CA",
    expired: bool = False,
) -> tuple[Path, Path]:
    """A PEM certificate (a CA unless ``issuer`` is given) and its key, made here."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name_ = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    start, end = (
        (now - dt.timedelta(days=30), now - dt.timedelta(days=1))
        if expired
        else (
            now - dt.timedelta(days=1),
            now + dt.timedelta(days=30),
        )
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name_)
        .issuer_name(issuer or name_)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return write_pem(folder, name, cert, key)


def scram(node: SecureNode, **overrides: Any) -> dict[str, Any]:
    """SASL_SSL SCRAM-SHA-512 settings for the secured node, with ``overrides``."""
    return {**node.scram("SCRAM-SHA-512"), **overrides}


class TestCredentials:
    @pytest.mark.parametrize(
        "command",
        [("topics", "create"), ("worker",), ("ingress",), ("notifier",), ("replay", "--from-dlq")],
        ids=lambda c: c[0],
    )
    def test_wrong_password_names_the_user(
        self, command: tuple[str, ...], secure_node: SecureNode
    ) -> None:
        """Every command given a wrong SCRAM password exits at once with "SASL
        authentication failed for user recho", and never prints the password."""
        env = scram(secure_node, kafka_sasl_password_file=None, kafka_sasl_password=WRONG_PASSWORD)
        code, stderr, seconds = run(env, *command)
        assert_one_line(code, stderr, seconds, "SASL authentication failed for user recho")
        assert WRONG_PASSWORD not in stderr

    def test_unknown_mechanism_is_a_settings_error(self, secure_node: SecureNode) -> None:
        """A mechanism the processor does not speak (GSSAPI) is refused before any
        connection, naming the setting and the mechanisms it does speak."""
        code, stderr, seconds = run(scram(secure_node, kafka_sasl_mechanism="GSSAPI"))
        assert_one_line(code, stderr, seconds, "PROCESSOR_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
        assert code == 2

    def test_missing_password_is_a_settings_error(self, secure_node: SecureNode) -> None:
        """SASL without a password says which settings are missing."""
        code, stderr, seconds = run(scram(secure_node, kafka_sasl_password_file=None))
        assert_one_line(code, stderr, seconds, "PROCESSOR_KAFKA_SASL_PASSWORD")

    def test_unreadable_password_file_names_the_file(
        self, secure_node: SecureNode, tmp_path: Path
    ) -> None:
        """A password file that does not exist is named, with the reason."""
        missing = tmp_path / "nope.password"
        code, stderr, seconds = run(scram(secure_node, kafka_sasl_password_file=missing))
        assert_one_line(code, stderr, seconds, str(missing), "No such file")


class TestTrust:
    def test_untrusted_broker_certificate(self, secure_node: SecureNode, tmp_path: Path) -> None:
        """A CA file that did not sign the broker's certificate: "not trusted"."""
        other_ca, _ = certificate(tmp_path, "other-ca")
        code, stderr, seconds = run(scram(secure_node, kafka_ssl_ca_file=other_ca))
        assert_one_line(code, stderr, seconds, "certificate is not trusted", "CA_FILE")

    def test_expired_certificate(self, secure_node: SecureNode, tmp_path: Path) -> None:
        """The broker's chain ends at an expired CA certificate: "certificate has expired"."""
        ca_key = serialization.load_pem_private_key(
            (secure_node.home / "tls" / "ca.key").read_bytes(), password=None
        )
        assert isinstance(ca_key, rsa.RSAPrivateKey)
        ca = x509.load_pem_x509_certificate(secure_node.ca_file.read_bytes())
        subject = ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        expired_ca, _ = certificate(
            tmp_path, "expired-ca", key=ca_key, subject=str(subject), expired=True
        )
        code, stderr, seconds = run(scram(secure_node, kafka_ssl_ca_file=expired_ca))
        assert_one_line(code, stderr, seconds, "certificate has expired")

    def test_mtls_without_client_certificate(self, secure_node: SecureNode) -> None:
        """The mutual-TLS listener without a client certificate: the message says one
        is needed instead of hanging on the closed connection."""
        env = {**secure_node.mtls(), "kafka_ssl_cert_file": None, "kafka_ssl_key_file": None}
        code, stderr, seconds = run(env)
        assert_one_line(code, stderr, seconds, "client certificate")

    def test_mtls_with_untrusted_client_certificate(
        self, secure_node: SecureNode, tmp_path: Path
    ) -> None:
        """A client certificate the broker's CA did not sign is rejected with the same
        clear line."""
        issuer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rogue CA")])
        cert, key = certificate(
            tmp_path, "rogue-client", issuer=issuer, issuer_key=issuer_key, subject="rogue"
        )
        env = {**secure_node.mtls(), "kafka_ssl_cert_file": cert, "kafka_ssl_key_file": key}
        code, stderr, seconds = run(env)
        assert_one_line(code, stderr, seconds, "client certificate", "untrusted or expired")

    def test_encrypted_key_without_password_fails_instead_of_prompting(
        self, secure_node: SecureNode, tmp_path: Path
    ) -> None:
        """An encrypted client key and no key password: one line naming the setting, not
        a password prompt that would hang a container."""
        key = serialization.load_pem_private_key(secure_node.client_key.read_bytes(), None)
        encrypted = tmp_path / "client-encrypted.key"
        encrypted.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"key-secret"),
            )
        )
        env = {**secure_node.mtls(), "kafka_ssl_key_file": encrypted}
        code, stderr, seconds = run(env)
        assert_one_line(code, stderr, seconds, "PROCESSOR_KAFKA_SSL_KEY_PASSWORD")


class TestProtocolMismatch:
    def test_tls_to_a_plaintext_port(self, secure_node: SecureNode, kafka_bootstrap: str) -> None:
        """SASL_SSL settings pointed at a plaintext broker: "does not speak TLS"."""
        code, stderr, seconds = run(scram(secure_node, kafka_bootstrap_servers=kafka_bootstrap))
        assert_one_line(code, stderr, seconds, "does not speak TLS", "PLAINTEXT")

    def test_plaintext_to_a_tls_port(self, secure_node: SecureNode) -> None:
        """PLAINTEXT settings pointed at the SASL_SSL listener: "is a TLS listener"."""
        code, stderr, seconds = run({"kafka_bootstrap_servers": secure_node.sasl_bootstrap})
        assert_one_line(code, stderr, seconds, "is a TLS listener", "SASL_SSL")

    def test_tls_without_sasl_to_a_sasl_listener(self, secure_node: SecureNode) -> None:
        """SSL (no SASL) to the SASL_SSL listener: the line lists its mechanisms."""
        env = {"kafka_bootstrap_servers": secure_node.sasl_bootstrap}
        code, stderr, seconds = run(
            {**env, "kafka_security_protocol": "SSL", "kafka_ssl_ca_file": secure_node.ca_file}
        )
        assert_one_line(code, stderr, seconds, "requires SASL", "SCRAM-SHA-512")

    def test_probe_reports_misconfiguration(self, secure_node: SecureNode) -> None:
        """kafka.sh's readiness probe tells a misconfiguration (exit 2) from a broker that
        is not up yet (exit 1)."""
        env = {
            "PATH": "/usr/bin:/bin",
            "PROCESSOR_KAFKA_BOOTSTRAP_SERVERS": secure_node.sasl_bootstrap,
        }
        result = subprocess.run(
            [sys.executable, "-m", "processor.kafka.probe"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert "is a TLS listener" in result.stderr
