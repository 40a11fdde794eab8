"""The ingress serves HTTPS itself when given a certificate and key."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from processor.settings import Settings
from tests.factories import make_envelope_bytes
from tests.integration.brokers import processes, wait_http_ok
from tests.integration.ingress.conftest import json_headers
from tests.support.certs import write_pem
from tests.support.servers import free_port


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return write_pem(folder, "ingress", cert, key)


class TestHttps:
    async def test_webhook_over_https(self, settings: Settings, tmp_path: Path) -> None:
        """With PROCESSOR_INGRESS_SSL_CERT_FILE/_KEY_FILE the ingress answers over TLS
        with that certificate (a client trusting it gets 202); plain HTTP gets nothing."""
        cert, key = self_signed(tmp_path)
        trust = ssl.create_default_context(cafile=str(cert))
        port = free_port()
        s = settings.model_copy(
            update={
                "ingress_port": port,
                "ingress_ssl_cert_file": cert,
                "ingress_ssl_key_file": key,
            }
        )
        with processes(tmp_path) as procs:
            procs.start("ingress", s, "ingress")
            await wait_http_ok(f"https://127.0.0.1:{port}/readyz", verify=trust)
            async with httpx.AsyncClient(verify=trust) as http:
                response = await http.post(
                    f"https://127.0.0.1:{port}{s.ingress_path}",
                    content=make_envelope_bytes(call_id="https-1"),
                    headers=json_headers(),
                )
            assert response.status_code == 202, response.text
            async with httpx.AsyncClient() as plain:
                try:
                    answer = await plain.get(f"http://127.0.0.1:{port}/healthz")
                    assert answer.status_code >= 400
                except httpx.TransportError:
                    pass  # the TLS server dropped the plaintext request: also right
