"""Security settings become one set of client options, and bad ones one clear line."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from processor.cli import main
from processor.errors import ConfigError
from processor.kafka.config import common_options
from processor.settings import Settings

PASSWORD = "s3cr3t-pa55word"


def sasl_ssl(**overrides: Any) -> Settings:
    """SASL_SSL settings with a password and the system CAs."""
    values: dict[str, Any] = {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_username": "recho",
        "kafka_sasl_password": PASSWORD,
        **overrides,
    }
    return Settings(**values)


class TestClientOptions:
    def test_plaintext_by_default(self) -> None:
        """Without security settings every client speaks PLAINTEXT, no TLS, no SASL."""
        options = common_options(Settings(), "worker")
        assert options["security_protocol"] == "PLAINTEXT"
        assert "ssl_context" not in options
        assert "sasl_mechanism" not in options

    def test_sasl_ssl_verifies_certificates_and_hostnames(self) -> None:
        """SASL_SSL: SCRAM-SHA-512 by default, a TLS context that verifies the broker's
        certificate and its hostname."""
        options = common_options(sasl_ssl(), "ingress")
        context = options["ssl_context"]
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True
        assert options["sasl_mechanism"] == "SCRAM-SHA-512"
        assert options["sasl_plain_username"] == "recho"
        assert options["sasl_plain_password"] == PASSWORD

    def test_hostname_check_can_be_turned_off(self) -> None:
        """PROCESSOR_KAFKA_SSL_CHECK_HOSTNAME=false keeps certificate checks, drops names."""
        context = common_options(sasl_ssl(kafka_ssl_check_hostname=False), "x")["ssl_context"]
        assert context.check_hostname is False
        assert context.verify_mode == ssl.CERT_REQUIRED

    def test_password_file_first_line(self, tmp_path: Path) -> None:
        """The password file's first line is the password (a trailing newline is not)."""
        file = tmp_path / "password"
        file.write_text(f"{PASSWORD}\n")
        settings = sasl_ssl(kafka_sasl_password=None, kafka_sasl_password_file=file)
        assert common_options(settings, "x")["sasl_plain_password"] == PASSWORD

    def test_missing_ca_file_is_named(self, tmp_path: Path) -> None:
        """A CA file that does not exist: a ConfigError naming the setting and the path."""
        missing = tmp_path / "ca.pem"
        with pytest.raises(ConfigError, match=r"PROCESSOR_KAFKA_SSL_CA_FILE .*ca\.pem"):
            common_options(sasl_ssl(kafka_ssl_ca_file=missing), "x")


class TestValidation:
    @pytest.mark.parametrize(
        ("values", "message"),
        [
            ({"kafka_security_protocol": "SASL_SSL"}, "needs PROCESSOR_KAFKA_SASL_USERNAME"),
            (
                {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "u"},
                "exactly one of",
            ),
        ],
    )
    def test_inconsistent_settings_are_refused(self, values: dict[str, Any], message: str) -> None:
        """Settings that cannot work together fail at start, saying which."""
        with pytest.raises(ValidationError, match=message):
            Settings(**values)

    def test_key_without_certificate_is_refused(self) -> None:
        """A client key without its certificate fails at start, naming both settings."""
        settings = Settings(kafka_security_protocol="SSL", kafka_ssl_key_file="/k.pem")
        with pytest.raises(ConfigError, match="needs PROCESSOR_KAFKA_SSL_CERT_FILE"):
            common_options(settings, "x")

    def test_min_insync_replicas_above_rf_is_refused(self) -> None:
        """min.insync.replicas above the replication factor would refuse every write."""
        settings = Settings(topic_replication_factor=2, topic_min_insync_replicas=3)
        with pytest.raises(ConfigError, match="above the replication factor"):
            settings.min_insync_replicas()

    def test_min_insync_replicas_defaults_to_min_of_2_and_rf(self) -> None:
        """min.insync.replicas of created topics: 1 for RF 1, 2 for RF 2 and 3, or as set."""
        assert Settings(topic_replication_factor=1).min_insync_replicas() == 1
        assert Settings(topic_replication_factor=3).min_insync_replicas() == 2
        explicit = Settings(topic_replication_factor=3, topic_min_insync_replicas=3)
        assert explicit.min_insync_replicas() == 3

    def test_secrets_stay_out_of_repr(self) -> None:
        """The SASL password never shows in the settings' repr (what logs would print)."""
        assert PASSWORD not in repr(sasl_ssl())
        assert PASSWORD not in str(sasl_ssl())


class TestCommandLine:
    def test_invalid_settings_are_one_line_without_values(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A bad value is reported on one line naming the setting, not echoing the value
        (it could be a secret typed into the wrong flag)."""
        code = main(["topics", "create", "--kafka-ssl-check-hostname", PASSWORD])
        err = capsys.readouterr().err
        assert code == 2
        assert len(err.strip().splitlines()) == 1
        assert "PROCESSOR_KAFKA_SSL_CHECK_HOSTNAME" in err
        assert PASSWORD not in err

    def test_unknown_mechanism_lists_the_known_ones(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unknown SASL mechanism names the three the processor speaks."""
        code = main(["worker", "--kafka-sasl-mechanism", "GSSAPI"])
        err = capsys.readouterr().err
        assert code == 2
        assert "'PLAIN', 'SCRAM-SHA-256' or 'SCRAM-SHA-512'" in err
