"""Sign webhooks the way the Recho platform does (spec §2), for the simulator and benchmarks.

The platform side of :mod:`processor.ingress.auth`: an RSA PKCS#1 v1.5 / SHA-256 signature
over ``<timestamp>.<raw body>``, sent as standard base64 in ``X-Recho-Signature`` next to
``X-Recho-Timestamp``. The ingress never imports this module.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from processor.contract.headers import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_message
from processor.errors import ConfigError

PRIVATE_KEY_SUFFIX = ".key"
"""Not ``.pem``: a folder of key pairs can then serve as the ingress's public keys folder."""
PUBLIC_KEY_SUFFIX = ".pub.pem"

_PRIVATE_KEY_MODE = 0o600
_PUBLIC_KEY_MODE = 0o644


def generate_key_pair(directory: Path, name: str = "recho-dev") -> tuple[Path, Path]:
    """Make (or reuse) an RSA 2048 key pair in ``directory``; return (private, public) paths.

    The private key is unencrypted PKCS#8 PEM, mode 0600, in ``<name>.key``; the public key
    is SubjectPublicKeyInfo PEM in ``<name>.pub.pem``. An existing private key is kept, and
    the public file is rewritten only if it is missing or does not match it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / f"{name}{PRIVATE_KEY_SUFFIX}"
    public_path = directory / f"{name}{PUBLIC_KEY_SUFFIX}"
    if not private_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Another process may have won the race; then its key is the one to use.
        _write_file(private_path, pem, _PRIVATE_KEY_MODE, replace=False)
    public_pem = Signer.from_pem_file(private_path).public_key_pem()
    if not public_path.exists() or public_path.read_bytes() != public_pem:
        _write_file(public_path, public_pem, _PUBLIC_KEY_MODE, replace=True)
    return private_path, public_path


class Signer:
    """Signs webhook bodies with one RSA private key, like the platform."""

    __slots__ = ("_private_key",)

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self._private_key = private_key

    @classmethod
    def from_pem(cls, pem: bytes) -> Signer:
        """A signer from an unencrypted PEM private key (PKCS#8 or PKCS#1)."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError("not an unencrypted PEM private key") from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError(f"the private key is a {type(key).__name__}, not RSA")
        return cls(key)

    @classmethod
    def from_pem_file(cls, path: Path) -> Signer:
        """A signer from a PEM private key file, e.g. one made by :func:`generate_key_pair`."""
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read private key {path}: {exc.strerror}") from exc
        try:
            return cls.from_pem(pem)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc

    def sign(self, body: bytes, timestamp: int) -> dict[str, str]:
        """The two signature headers for ``body`` sent at ``timestamp`` (epoch seconds)."""
        stamp = str(timestamp)
        signature = self._private_key.sign(
            signed_message(stamp.encode("ascii"), body), padding.PKCS1v15(), hashes.SHA256()
        )
        return {
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
            TIMESTAMP_HEADER: stamp,
        }

    @staticmethod
    def bearer_headers(token: str) -> dict[str, str]:
        """The header of a BEARER-mode request."""
        return {"Authorization": f"Bearer {token}"}

    def public_key_pem(self) -> bytes:
        """The matching public key as SubjectPublicKeyInfo PEM (what the ingress loads)."""
        return self._private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _write_file(path: Path, data: bytes, mode: int, *, replace: bool) -> None:
    """Write ``path`` whole or not at all, with ``mode`` from the first byte on.

    With ``replace=False`` an existing file is left as it is (no clobbering).
    """
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    temp_path = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as file:
            os.chmod(temp_path, mode)  # mkstemp makes 0600; the umask does not apply here
            file.write(data)
        if replace:
            os.replace(temp_path, path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(temp_path, path)
    finally:
        temp_path.unlink(missing_ok=True)
