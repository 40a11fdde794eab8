"""Webhook authentication, the ingress's first check (spec §2).

An :class:`Authenticator` is built once at start from :class:`~processor.settings.Settings`:
tokens and public keys are read and parsed there, and only there, so a bad configuration
fails the process before it binds (:class:`~processor.errors.ConfigError`). After that,
:meth:`Authenticator.verify` is pure: header bytes and the raw body in, ``None`` or an
:class:`~processor.errors.AuthError` out. Its ``reason`` is one of
:class:`AuthFailure` (a bounded Prometheus label); its ``message`` is written for a
human, is sent back in the 401 answer, and never holds a token, key or signature.

Choices where the Recho docs are silent:

* **Bearer**: the scheme name is case-insensitive (RFC 7235). Tokens are kept only as
  SHA-256 digests and the presented token's digest is compared with *every* configured one
  (``hmac.compare_digest``), so timing reveals neither which token matched nor its length.
* **Timestamp**: exactly the documented form, Unix epoch seconds as ASCII digits without
  a leading zero (``1767225600``). Fractions (``1767225600.5``), leading zeros
  (``01767225600``), signs, exponents, whitespace and ``_`` are refused: one byte string per
  instant keeps the signed message unambiguous. The window ``|now - ts| <= tolerance`` is
  inclusive and is checked before the RSA verification, which is the expensive step.
* **Repeated headers**: a request carrying ``Authorization``, ``X-Recho-Signature`` or
  ``X-Recho-Timestamp`` more than once is refused (``repeated_header``) in the modes that
  read that header, rather than letting one copy silently win.
* **Empty headers**: a header that is present but empty is reported as empty, not missing.
* **Signature**: standard base64 (``+/``, padded), decoded strictly. RSA PKCS#1 v1.5 with
  SHA-256 over ``<timestamp header bytes>.<raw body bytes>``; PSS signatures do not verify.
  The message is hashed once and checked against each configured key (rotation: any match
  passes, there being no key-id header).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from processor.contract.headers import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_message_sha256
from processor.errors import AuthError, ConfigError
from processor.ingress.credentials import (
    load_bearer_tokens_file,
    load_public_keys,
    load_public_keys_dir,
    token_digest,
)
from processor.settings import AuthMode, Settings


class AuthFailure(StrEnum):
    """Why a request failed authentication: the ``AuthError.reason`` and its metric label."""

    # S105: these are reason labels that mention a token, not tokens.
    MISSING_TOKEN = "missing_token"  # noqa: S105
    INVALID_TOKEN = "invalid_token"  # noqa: S105
    MISSING_SIGNATURE = "missing_signature"
    MISSING_TIMESTAMP = "missing_timestamp"
    INVALID_TIMESTAMP = "invalid_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    MALFORMED_SIGNATURE = "malformed_signature"
    BAD_SIGNATURE = "bad_signature"
    REPEATED_HEADER = "repeated_header"


AUTH_FAILURE_REASONS: Final[tuple[str, ...]] = tuple(AuthFailure)
"""Every ``AuthError.reason`` :meth:`Authenticator.verify` can raise."""

# Up to 15 digits so that a millisecond timestamp (13 digits) is reported as such, not as
# "not a number"; bytes patterns match ASCII digits only.
_TIMESTAMP = re.compile(rb"[1-9][0-9]{0,14}")
# Epoch seconds reach 1e11 in the year 5138: anything above is milliseconds or worse.
_EPOCH_S_CEILING: Final = 1e11
# base64 of a 16384-bit signature is 2732 characters; longer is not worth decoding.
_MAX_SIGNATURE_CHARS: Final = 2732
_BEARER: Final = b"bearer "
_PKCS1V15: Final = padding.PKCS1v15()
_PREHASHED_SHA256: Final = utils.Prehashed(hashes.SHA256())
_SIGNATURE_HEADERS: Final = frozenset({b"x-recho-signature", b"x-recho-timestamp"})
_BEARER_HEADERS: Final = frozenset({b"authorization"})
_HEADER_DISPLAY: Final = {
    b"authorization": "Authorization",
    b"x-recho-signature": SIGNATURE_HEADER,
    b"x-recho-timestamp": TIMESTAMP_HEADER,
}
_VERIFIED_MODES: Final = frozenset({AuthMode.NONE, AuthMode.BEARER, AuthMode.SIGNATURE_RSA_SHA256})


class Authenticator:
    """Verifies one webhook request against the configured mode, keys and tokens."""

    __slots__ = ("_public_keys", "_token_digests", "mode", "timestamp_tolerance_s")

    def __init__(
        self,
        mode: AuthMode,
        *,
        bearer_tokens: Iterable[str | bytes] = (),
        public_keys: Iterable[RSAPublicKey] = (),
        timestamp_tolerance_s: int = 300,
    ) -> None:
        self.mode = AuthMode(mode)
        if self.mode not in _VERIFIED_MODES:  # fail closed if AuthMode grows a member
            raise ConfigError(f"auth mode {self.mode} is not implemented by the ingress")
        self.timestamp_tolerance_s = timestamp_tolerance_s
        self._token_digests = tuple(token_digest(token) for token in bearer_tokens)
        self._public_keys = tuple(public_keys)
        if timestamp_tolerance_s < 1:
            raise ConfigError(f"timestamp tolerance must be >= 1 s, got {timestamp_tolerance_s}")
        for key in self._public_keys:
            if not isinstance(key, RSAPublicKey):
                raise ConfigError(f"public keys must be RSA, got {type(key).__name__}")
        if self.mode is AuthMode.BEARER and not self._token_digests:
            raise ConfigError(
                "auth_mode is BEARER but no bearer token is configured: set "
                "PROCESSOR_AUTH_BEARER_TOKENS or PROCESSOR_AUTH_BEARER_TOKENS_FILE"
            )
        if self.mode is AuthMode.SIGNATURE_RSA_SHA256 and not self._public_keys:
            raise ConfigError(
                "auth_mode is SIGNATURE_RSA_SHA256 but no public key is configured: set "
                "PROCESSOR_AUTH_PUBLIC_KEYS_DIR or PROCESSOR_AUTH_PUBLIC_KEYS_PEM"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        """Load what ``settings.auth_mode`` needs (only that) and build the authenticator."""
        mode = settings.auth_mode
        tokens: list[str] = []
        keys: list[RSAPublicKey] = []
        if mode is AuthMode.BEARER:
            tokens += (token.get_secret_value() for token in settings.auth_bearer_tokens)
            if settings.auth_bearer_tokens_file is not None:
                tokens += load_bearer_tokens_file(settings.auth_bearer_tokens_file)
        elif mode is AuthMode.SIGNATURE_RSA_SHA256:
            if settings.auth_public_keys_dir is not None:
                keys += load_public_keys_dir(settings.auth_public_keys_dir)
            if settings.auth_public_keys_pem is not None:
                pem = settings.auth_public_keys_pem.get_secret_value().encode()
                keys += load_public_keys(pem, source="PROCESSOR_AUTH_PUBLIC_KEYS_PEM")
        return cls(
            mode,
            bearer_tokens=tokens,
            public_keys=keys,
            timestamp_tolerance_s=settings.auth_timestamp_tolerance_s,
        )

    @property
    def bearer_token_count(self) -> int:
        """How many bearer tokens are accepted (for the startup log)."""
        return len(self._token_digests)

    @property
    def public_key_count(self) -> int:
        """How many public keys may verify a signature (for the startup log)."""
        return len(self._public_keys)

    def __repr__(self) -> str:
        return (
            f"Authenticator(mode={self.mode.value}, bearer_tokens={self.bearer_token_count}, "
            f"public_keys={self.public_key_count}, "
            f"timestamp_tolerance_s={self.timestamp_tolerance_s})"
        )

    def verify(
        self,
        *,
        authorization: bytes | None,
        signature: bytes | None,
        timestamp: bytes | None,
        body: bytes,
        now_s: float,
    ) -> None:
        """Return if the request is authentic, else raise :class:`AuthError`.

        Header values are the raw bytes from the ASGI scope (``None`` when absent);
        ``body`` is the exact bytes received; ``now_s`` is the receive time in epoch seconds.
        """
        mode = self.mode
        if mode is AuthMode.SIGNATURE_RSA_SHA256:
            self._verify_signature(signature, timestamp, body, now_s)
        elif mode is AuthMode.BEARER:
            self._verify_bearer(authorization)

    def header_names(self) -> frozenset[bytes]:
        """The (lower-case) request headers this mode reads."""
        if self.mode is AuthMode.SIGNATURE_RSA_SHA256:
            return _SIGNATURE_HEADERS
        if self.mode is AuthMode.BEARER:
            return _BEARER_HEADERS
        return frozenset()

    def reject_repeated(self, name: bytes) -> None:
        """Raise ``repeated_header`` if this mode reads the header ``name`` that came twice."""
        if name in self.header_names():
            shown = _HEADER_DISPLAY.get(name, name.decode("latin-1"))
            raise AuthError(
                AuthFailure.REPEATED_HEADER,
                f"the {shown} header appears more than once; send it exactly once",
            )

    def _verify_bearer(self, authorization: bytes | None) -> None:
        if not authorization:
            state = "is missing" if authorization is None else "is empty"
            raise AuthError(
                AuthFailure.MISSING_TOKEN,
                f"the Authorization header {state}; expected 'Bearer <token>'",
            )
        if authorization[:7].lower() != _BEARER:
            raise AuthError(
                AuthFailure.MISSING_TOKEN,
                "the Authorization header does not use the Bearer scheme; "
                "expected 'Bearer <token>'",
            )
        token = authorization[7:].strip(b" ")
        if not token:
            raise AuthError(
                AuthFailure.MISSING_TOKEN, "the Authorization header has no token after 'Bearer'"
            )
        digest = hashlib.sha256(token).digest()
        matched = False
        for expected in self._token_digests:
            # No early exit: every configured token costs the same whichever matches.
            matched |= hmac.compare_digest(digest, expected)
        if not matched:
            raise AuthError(
                AuthFailure.INVALID_TOKEN, "the bearer token is not one of the accepted tokens"
            )

    def _verify_signature(
        self, signature: bytes | None, timestamp: bytes | None, body: bytes, now_s: float
    ) -> None:
        if not signature:
            state = "is missing" if signature is None else "is empty"
            raise AuthError(AuthFailure.MISSING_SIGNATURE, f"the {SIGNATURE_HEADER} header {state}")
        if not timestamp:
            state = "is missing" if timestamp is None else "is empty"
            raise AuthError(AuthFailure.MISSING_TIMESTAMP, f"the {TIMESTAMP_HEADER} header {state}")
        if _TIMESTAMP.fullmatch(timestamp) is None:
            raise AuthError(
                AuthFailure.INVALID_TIMESTAMP,
                f"{TIMESTAMP_HEADER} is not Unix epoch seconds (expected whole seconds as "
                "digits without a leading zero, e.g. 1767225600)",
            )
        self._check_window(now_s - float(timestamp))
        if len(signature) > _MAX_SIGNATURE_CHARS:
            raise AuthError(
                AuthFailure.MALFORMED_SIGNATURE, f"{SIGNATURE_HEADER} is too long to be valid"
            )
        try:
            raw_signature = binascii.a2b_base64(signature, strict_mode=True)
        except binascii.Error:
            raise AuthError(
                AuthFailure.MALFORMED_SIGNATURE,
                f"{SIGNATURE_HEADER} is not standard, padded base64",
            ) from None
        digest = signed_message_sha256(timestamp, body)
        for key in self._public_keys:
            try:
                key.verify(raw_signature, digest, _PKCS1V15, _PREHASHED_SHA256)
            except InvalidSignature:
                continue
            return
        raise AuthError(
            AuthFailure.BAD_SIGNATURE,
            f"{SIGNATURE_HEADER} does not verify with any accepted public key "
            f"(RSA PKCS#1 v1.5, SHA-256 over '<{TIMESTAMP_HEADER}>.<raw body>')",
        )

    def _check_window(self, age_s: float) -> None:
        tolerance_s = self.timestamp_tolerance_s
        if age_s > tolerance_s:
            raise AuthError(
                AuthFailure.STALE_TIMESTAMP,
                f"{TIMESTAMP_HEADER} is {_whole_seconds(age_s)} s older than now, "
                f"outside the ±{tolerance_s} s window",
            )
        if -age_s > tolerance_s:
            hint = ""
            if -age_s > _EPOCH_S_CEILING:
                hint = " (it looks like milliseconds; seconds are expected)"
            raise AuthError(
                AuthFailure.FUTURE_TIMESTAMP,
                f"{TIMESTAMP_HEADER} is {_whole_seconds(-age_s)} s ahead of now, "
                f"outside the ±{tolerance_s} s window{hint}",
            )


def _whole_seconds(seconds: float) -> int:
    """Round up, so "301 s older" is never printed as the 300 s limit it exceeds."""
    whole = int(seconds)
    return whole if whole == seconds else whole + 1


__all__ = [
    "AUTH_FAILURE_REASONS",
    "AuthFailure",
    "Authenticator",
    "load_bearer_tokens_file",
    "load_public_keys",
    "load_public_keys_dir",
]
