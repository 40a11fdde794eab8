"""The ingress's credentials, read once at start: RSA public keys and bearer tokens.

Every problem is a :class:`~processor.errors.ConfigError` naming the file or
variable, so a bad configuration fails the process before it binds.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from processor.errors import ConfigError

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)
_PUBLIC_KEY_LABELS: Final = frozenset({"PUBLIC KEY", "RSA PUBLIC KEY"})


def load_public_keys(pem: bytes, *, source: str) -> list[RSAPublicKey]:
    """Every RSA public key in ``pem`` (one or more concatenated PEM blocks).

    ``source`` names where the text came from, for the error message. Raises
    :class:`ConfigError` if there is no PEM block, or any block is not an RSA public key.
    """
    if b"\\n" in pem and b"\n" not in pem.strip():
        pem = pem.replace(b"\\n", b"\n")  # a one-line env var with escaped newlines
    blocks = list(_PEM_BLOCK.finditer(pem))
    if not blocks:
        raise ConfigError(f"{source}: no PEM block found; expected -----BEGIN PUBLIC KEY-----")
    keys: list[RSAPublicKey] = []
    for number, block in enumerate(blocks, start=1):
        where = f"{source} (PEM block {number})" if len(blocks) > 1 else source
        label = block.group(1).decode("ascii")
        if "PRIVATE" in label:
            raise ConfigError(
                f"{where} is a private key ({label}); only public keys belong here, "
                "and the private key should not be on this host at all"
            )
        if label == "CERTIFICATE":
            raise ConfigError(
                f"{where} is a certificate; extract its key with `openssl x509 -pubkey -noout`"
            )
        if label not in _PUBLIC_KEY_LABELS:
            raise ConfigError(f"{where} is a PEM '{label}' block, not a public key")
        try:
            key = serialization.load_pem_public_key(block.group(0))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ConfigError(f"{where} is not a readable PEM public key") from exc
        if not isinstance(key, RSAPublicKey):
            raise ConfigError(f"{where} is a {type(key).__name__}, not an RSA public key")
        keys.append(key)
    return keys


def load_public_keys_dir(directory: Path) -> list[RSAPublicKey]:
    """Every RSA public key in ``directory/*.pem``, files in name order."""
    if not directory.is_dir():
        raise ConfigError(f"public keys folder {directory} does not exist or is not a folder")
    paths = sorted(directory.glob("*.pem"))
    if not paths:
        raise ConfigError(f"public keys folder {directory} holds no *.pem file")
    keys: list[RSAPublicKey] = []
    for path in paths:
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read public key file {path}: {exc.strerror}") from exc
        keys += load_public_keys(pem, source=str(path))
    return keys


def load_bearer_tokens_file(path: Path) -> list[str]:
    """The tokens in ``path``: one per line; blank lines and ``#`` comment lines ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read bearer tokens file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"bearer tokens file {path} is not UTF-8 text") from exc
    tokens: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        token = line.strip()
        if not token or token.startswith("#"):
            continue
        if len(token.split()) != 1:
            raise ConfigError(
                f"{path}:{number}: a token cannot contain whitespace "
                "(comments go on their own line, starting with #)"
            )
        tokens.append(token)
    return tokens


def token_digest(token: str | bytes) -> bytes:
    raw = token.encode() if isinstance(token, str) else token
    if not raw or len(raw.split()) != 1:
        raise ConfigError("a bearer token must be non-empty and contain no whitespace")
    return hashlib.sha256(raw).digest()
