"""The simulator's signer signs exactly like the platform: checked by openssl and the ingress."""

from __future__ import annotations

import base64
import binascii
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from processor.errors import ConfigError
from processor.ingress.auth import Authenticator, load_public_keys
from processor.settings import AuthMode, Settings
from processor.simulate.signer import Signer, generate_key_pair
from tests.factories import SPEC_EXAMPLE_BYTES

OPENSSL = "/usr/bin/openssl"
NOW = 1_767_225_600
BODY = SPEC_EXAMPLE_BYTES[9]


@pytest.fixture(scope="session")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One generated key pair for the whole session (RSA key generation is slow)."""
    return generate_key_pair(tmp_path_factory.mktemp("signer-keys"))


@pytest.fixture(scope="session")
def signer(key_pair: tuple[Path, Path]) -> Signer:
    """A signer with the session's private key."""
    return Signer.from_pem_file(key_pair[0])


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Umask 0 while the test runs, so file modes come from the code alone."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def openssl_verifies(public: Path, message: bytes, signature: bytes, folder: Path) -> bool:
    """Whether ``openssl dgst -sha256 -verify`` accepts ``signature`` over ``message``."""
    if not Path(OPENSSL).is_file():
        pytest.fail(f"{OPENSSL} is needed to check signatures independently; install openssl")
    (folder / "msg").write_bytes(message)
    (folder / "sig.bin").write_bytes(signature)
    result = subprocess.run(
        [OPENSSL, "dgst", "-sha256", "-verify", str(public), "-signature", "sig.bin", "msg"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and result.stdout.strip() == "Verified OK"


class TestGenerateKeyPair:
    """generate_key_pair: a usable RSA 2048 pair on disk, made once."""

    def test_files_and_formats(self, key_pair: tuple[Path, Path]) -> None:
        """Private key is unencrypted PKCS#8 PEM, public key SubjectPublicKeyInfo PEM, 2048 bit."""
        private, public = key_pair
        assert (private.name, public.name) == ("recho-dev.key", "recho-dev.pub.pem")
        assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
        assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----\n")
        key = serialization.load_pem_private_key(private.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        assert key.key_size == 2048

    @pytest.mark.usefixtures("permissive_umask")
    def test_private_key_is_owner_only(self, tmp_path: Path) -> None:
        """The private key file is mode 0600 even under umask 0; the public key is 0644."""
        private, public = generate_key_pair(tmp_path / "keys", name="k")
        assert private.stat().st_mode & 0o777 == 0o600
        assert public.stat().st_mode & 0o777 == 0o644
        assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["k.key", "k.pub.pem"]

    def test_existing_pair_is_reused(self, key_pair: tuple[Path, Path]) -> None:
        """A second call returns the same files with the same keys."""
        private, public = key_pair
        before = private.read_bytes(), public.read_bytes()
        assert generate_key_pair(private.parent) == key_pair
        assert (private.read_bytes(), public.read_bytes()) == before

    def test_public_key_is_restored_from_private(self, tmp_path: Path) -> None:
        """A missing or mismatched public file is rewritten from the private key."""
        _, public = generate_key_pair(tmp_path)
        expected = public.read_bytes()
        public.unlink()
        generate_key_pair(tmp_path)
        assert public.read_bytes() == expected
        public.write_bytes(b"stale key of an older pair")
        generate_key_pair(tmp_path)
        assert public.read_bytes() == expected

    def test_folder_serves_as_public_keys_dir(self, key_pair: tuple[Path, Path]) -> None:
        """The private key is not *.pem, so the folder can be the ingress's keys folder."""
        settings = Settings(
            auth_mode=AuthMode.SIGNATURE_RSA_SHA256, auth_public_keys_dir=key_pair[0].parent
        )
        assert Authenticator.from_settings(settings).public_key_count == 1


class TestSigner:
    """Signer: the headers the platform sends, verifiable by anyone holding the public key."""

    def test_headers(self, signer: Signer) -> None:
        """sign() returns exactly the two Recho headers; the timestamp is decimal seconds."""
        headers = signer.sign(BODY, NOW)
        assert set(headers) == {"X-Recho-Signature", "X-Recho-Timestamp"}
        assert headers["X-Recho-Timestamp"] == "1767225600"
        raw = binascii.a2b_base64(headers["X-Recho-Signature"], strict_mode=True)
        assert len(raw) == 256

    def test_openssl_verifies(
        self, signer: Signer, key_pair: tuple[Path, Path], tmp_path: Path
    ) -> None:
        """openssl accepts the signature over '<timestamp>.<body>' and rejects other bytes."""
        headers = signer.sign(BODY, NOW)
        signature = base64.b64decode(headers["X-Recho-Signature"])
        message = f"{NOW}.".encode() + BODY
        assert openssl_verifies(key_pair[1], message, signature, tmp_path)
        assert not openssl_verifies(key_pair[1], message + b" ", signature, tmp_path)

    def test_ingress_verifies(self, signer: Signer, key_pair: tuple[Path, Path]) -> None:
        """The ingress's Authenticator accepts what the signer produced."""
        [public_key] = load_public_keys(key_pair[1].read_bytes(), source="test")
        auth = Authenticator(AuthMode.SIGNATURE_RSA_SHA256, public_keys=[public_key])
        headers = signer.sign(BODY, NOW)
        auth.verify(
            authorization=None,
            signature=headers["X-Recho-Signature"].encode(),
            timestamp=headers["X-Recho-Timestamp"].encode(),
            body=BODY,
            now_s=NOW,
        )

    def test_public_key_pem_matches_file(self, signer: Signer, key_pair: tuple[Path, Path]) -> None:
        """public_key_pem() is what generate_key_pair wrote for the ingress."""
        assert signer.public_key_pem() == key_pair[1].read_bytes()

    def test_bearer_headers(self) -> None:
        """bearer_headers() builds the Authorization header the ingress accepts."""
        headers = Signer.bearer_headers("tok-123")
        assert headers == {"Authorization": "Bearer tok-123"}
        auth = Authenticator(AuthMode.BEARER, bearer_tokens=["tok-123"])
        auth.verify(
            authorization=headers["Authorization"].encode(),
            signature=None,
            timestamp=None,
            body=BODY,
            now_s=NOW,
        )

    def test_not_a_private_key(self, key_pair: tuple[Path, Path], tmp_path: Path) -> None:
        """Loading a public key or a missing file as a signer is a ConfigError naming it."""
        with pytest.raises(ConfigError, match=r"recho-dev\.pub\.pem: not an unencrypted PEM"):
            Signer.from_pem_file(key_pair[1])
        with pytest.raises(ConfigError, match="cannot read private key"):
            Signer.from_pem_file(tmp_path / "absent.key")
