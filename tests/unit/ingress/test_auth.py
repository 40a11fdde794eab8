"""Webhook authentication (spec §2), checked against signatures made by the openssl CLI.

The signatures here never come from our own signer: openssl signs ``<timestamp>.<raw body>``
exactly as the platform is documented to, so a mistake shared by our signer and our verifier
cannot hide.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from processor.errors import AuthError, ConfigError
from processor.ingress.auth import (
    AUTH_FAILURE_REASONS,
    Authenticator,
    load_public_keys,
)
from processor.settings import AuthMode, Settings
from tests.factories import SPEC_EXAMPLE_BYTES

OPENSSL = "/usr/bin/openssl"
NOW = 1_767_225_600
NOW_B = str(NOW).encode()
BODY = SPEC_EXAMPLE_BYTES[9]  # OUTBOUND_CALL_ERROR, compact JSON as the platform sends it
TOKEN = "tok-2f9c1b7e5d3a4c6b8e0f"
OLD_TOKEN = "tok-old-77aa01"
PSS = ("-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32")


def _openssl(*args: str | Path) -> None:
    subprocess.run([OPENSSL, *map(str, args)], check=True, capture_output=True)


@dataclass
class OpensslKey:
    """An RSA key pair made by the openssl CLI, which also signs with it."""

    private: Path
    public: Path
    _names: itertools.count[int] = field(default_factory=itertools.count)

    def sign(self, timestamp: bytes, body: bytes, *options: str) -> bytes:
        """Base64 of openssl's signature over ``timestamp + b"." + body``."""
        n = next(self._names)
        message = self.private.with_name(f"{self.private.stem}-msg-{n}")
        signature = self.private.with_name(f"{self.private.stem}-sig-{n}")
        message.write_bytes(timestamp + b"." + body)
        _openssl("dgst", "-sha256", *options, "-sign", self.private, "-out", signature, message)
        return base64.b64encode(signature.read_bytes())

    def public_key(self) -> RSAPublicKey:
        """The public key as the ingress loads it."""
        [key] = load_public_keys(self.public.read_bytes(), source=str(self.public))
        return key


@pytest.fixture(scope="session")
def openssl_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, OpensslKey]:
    """Three independent RSA 2048 key pairs, "a", "b" and "c", made once per session."""
    if not Path(OPENSSL).is_file():
        pytest.fail(f"{OPENSSL} is needed to sign test webhooks independently; install openssl")
    folder = tmp_path_factory.mktemp("openssl-keys")
    keys = {}
    for name in ("a", "b", "c"):
        private, public = folder / f"{name}.key", folder / f"{name}.pub"
        _openssl(
            "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", private
        )
        _openssl("pkey", "-in", private, "-pubout", "-out", public)
        keys[name] = OpensslKey(private, public)
    return keys


@pytest.fixture(scope="session")
def key_a(openssl_keys: dict[str, OpensslKey]) -> OpensslKey:
    """The key the platform signs with in most tests."""
    return openssl_keys["a"]


@pytest.fixture(scope="session")
def signature_auth(key_a: OpensslKey) -> Authenticator:
    """SIGNATURE_RSA_SHA256 mode with key "a" and the default ±300 s window."""
    return Authenticator(AuthMode.SIGNATURE_RSA_SHA256, public_keys=[key_a.public_key()])


def verify(
    auth: Authenticator,
    *,
    authorization: bytes | None = None,
    signature: bytes | None = None,
    timestamp: bytes | None = None,
    body: bytes = BODY,
    now_s: float = NOW,
) -> None:
    """``auth.verify`` with defaults for what a test does not care about."""
    auth.verify(
        authorization=authorization,
        signature=signature,
        timestamp=timestamp,
        body=body,
        now_s=now_s,
    )


def rejection(auth: Authenticator, **request: bytes | float | None) -> AuthError:
    """The AuthError ``verify`` raises for ``request``; its reason must be a known one."""
    with pytest.raises(AuthError) as caught:
        verify(auth, **request)  # type: ignore[arg-type]
    assert caught.value.reason in AUTH_FAILURE_REASONS
    return caught.value


class TestFailureReasons:
    """The bounded set of reasons, used as a Prometheus label."""

    def test_reasons_are_unique_snake_case(self) -> None:
        """Every reason is a distinct, short snake_case label value."""
        assert len(set(AUTH_FAILURE_REASONS)) == len(AUTH_FAILURE_REASONS) == 10
        assert all(r.replace("_", "").isalpha() and r.islower() for r in AUTH_FAILURE_REASONS)


class TestNoneMode:
    """NONE: every request passes, whatever it carries."""

    def test_passes_without_credentials(self) -> None:
        """A request with no auth header at all is accepted."""
        verify(Authenticator(AuthMode.NONE))

    def test_passes_with_garbage_credentials(self) -> None:
        """Headers meant for other modes are ignored, even if invalid."""
        verify(
            Authenticator(AuthMode.NONE),
            authorization=b"Bearer nope",
            signature=b"!!",
            timestamp=b"yesterday",
        )


class TestBearerMode:
    """BEARER: ``Authorization: Bearer <token>`` against the accepted tokens."""

    auth = Authenticator(AuthMode.BEARER, bearer_tokens=[TOKEN])

    def test_valid_token_passes(self) -> None:
        """The configured token is accepted."""
        verify(self.auth, authorization=f"Bearer {TOKEN}".encode())

    def test_scheme_is_case_insensitive(self) -> None:
        """'bearer' and 'BEARER' name the same scheme (RFC 7235)."""
        verify(self.auth, authorization=f"bearer {TOKEN}".encode())
        verify(self.auth, authorization=f"BEARER {TOKEN}".encode())

    def test_signature_headers_are_ignored(self) -> None:
        """In BEARER mode, signature headers neither help nor hurt."""
        verify(self.auth, authorization=f"Bearer {TOKEN}".encode(), signature=b"x", timestamp=b"y")

    @pytest.mark.parametrize(
        "presented", ["tok-wrong", TOKEN + "x", TOKEN[:-1], TOKEN.upper(), f"{TOKEN},{TOKEN}"]
    )
    def test_wrong_token_is_invalid(self, presented: str) -> None:
        """Any other token, including a prefix or extension of a valid one, is invalid_token."""
        error = rejection(self.auth, authorization=f"Bearer {presented}".encode())
        assert error.reason == "invalid_token"

    @pytest.mark.parametrize("authorization", [None, b""])
    def test_missing_header(self, authorization: bytes | None) -> None:
        """No (or an empty) Authorization header is missing_token, saying which."""
        error = rejection(self.auth, authorization=authorization)
        assert error.reason == "missing_token"
        state = "is missing" if authorization is None else "is empty"
        assert f"Authorization header {state}" in error.message

    @pytest.mark.parametrize(
        "authorization",
        [
            TOKEN.encode(),
            f"Basic {TOKEN}".encode(),
            f"Token {TOKEN}".encode(),
            b"Bearer",
            b"Bearer   ",
        ],
    )
    def test_wrong_scheme_or_no_token(self, authorization: bytes) -> None:
        """A header without the Bearer scheme, or with no token after it, is missing_token."""
        assert rejection(self.auth, authorization=authorization).reason == "missing_token"

    def test_rotation_accepts_both_tokens(self) -> None:
        """With an old and a new token configured, both are accepted during the overlap."""
        auth = Authenticator(AuthMode.BEARER, bearer_tokens=[OLD_TOKEN, TOKEN])
        verify(auth, authorization=f"Bearer {OLD_TOKEN}".encode())
        verify(auth, authorization=f"Bearer {TOKEN}".encode())

    def test_rotation_old_token_removed_is_rejected(self) -> None:
        """Once the old token is removed from the configuration it is invalid_token."""
        auth = Authenticator(AuthMode.BEARER, bearer_tokens=[TOKEN])
        error = rejection(auth, authorization=f"Bearer {OLD_TOKEN}".encode())
        assert error.reason == "invalid_token"

    def test_messages_never_contain_tokens(self) -> None:
        """Neither the presented nor a configured token appears in the error or repr."""
        auth = Authenticator(AuthMode.BEARER, bearer_tokens=[TOKEN, OLD_TOKEN])
        error = rejection(auth, authorization=b"Bearer tok-guess-123")
        for secret in (TOKEN, OLD_TOKEN, "tok-guess-123"):
            assert secret not in str(error)
            assert secret not in error.message
            assert secret not in repr(auth)


class TestSignatureMode:
    """SIGNATURE_RSA_SHA256: base64 PKCS#1 v1.5 signature over '<timestamp>.<raw body>'."""

    def test_openssl_signature_passes(
        self, signature_auth: Authenticator, key_a: OpensslKey
    ) -> None:
        """A signature made by openssl over the exact bytes is accepted."""
        verify(signature_auth, signature=key_a.sign(NOW_B, BODY), timestamp=NOW_B)

    def test_raw_utf8_body_passes(self, signature_auth: Authenticator, key_a: OpensslKey) -> None:
        """Non-ASCII bodies are verified over their raw UTF-8 bytes."""
        body = '{"subject":"Ünïcode — ☎","n":1}'.encode()
        verify(signature_auth, signature=key_a.sign(NOW_B, body), timestamp=NOW_B, body=body)

    def test_key_rotation(self, openssl_keys: dict[str, OpensslKey]) -> None:
        """With keys a and b configured, either one's signature passes; key c's does not."""
        a, b, c = openssl_keys["a"], openssl_keys["b"], openssl_keys["c"]
        auth = Authenticator(
            AuthMode.SIGNATURE_RSA_SHA256, public_keys=[a.public_key(), b.public_key()]
        )
        verify(auth, signature=a.sign(NOW_B, BODY), timestamp=NOW_B)
        verify(auth, signature=b.sign(NOW_B, BODY), timestamp=NOW_B)
        error = rejection(auth, signature=c.sign(NOW_B, BODY), timestamp=NOW_B)
        assert error.reason == "bad_signature"

    @pytest.mark.parametrize("position", [0, len(BODY) // 2, len(BODY) - 1])
    def test_body_changed_by_one_byte(
        self, signature_auth: Authenticator, key_a: OpensslKey, position: int
    ) -> None:
        """Flipping a single bit of one body byte makes the signature bad."""
        tampered = bytearray(BODY)
        tampered[position] ^= 0x01
        error = rejection(
            signature_auth,
            signature=key_a.sign(NOW_B, BODY),
            timestamp=NOW_B,
            body=bytes(tampered),
        )
        assert error.reason == "bad_signature"

    def test_reserialized_json_is_not_the_signed_body(
        self, signature_auth: Authenticator, key_a: OpensslKey
    ) -> None:
        """The same JSON with other whitespace does not verify: raw bytes are what is signed."""
        reserialized = json.dumps(json.loads(BODY)).encode()
        assert json.loads(reserialized) == json.loads(BODY)
        signature = key_a.sign(NOW_B, reserialized)
        error = rejection(signature_auth, signature=signature, timestamp=NOW_B)
        assert error.reason == "bad_signature"

    def test_timestamp_replaced_after_signing(
        self, signature_auth: Authenticator, key_a: OpensslKey
    ) -> None:
        """A replayed signature with a fresher timestamp header is bad_signature."""
        signature = key_a.sign(NOW_B, BODY)
        fresher = str(NOW + 1).encode()
        error = rejection(signature_auth, signature=signature, timestamp=fresher, now_s=NOW + 1)
        assert error.reason == "bad_signature"

    def test_pss_signature_is_rejected(
        self, signature_auth: Authenticator, key_a: OpensslKey
    ) -> None:
        """Only PKCS#1 v1.5 padding is verified; an RSA-PSS signature is bad_signature."""
        signature = key_a.sign(NOW_B, BODY, *PSS)
        error = rejection(signature_auth, signature=signature, timestamp=NOW_B)
        assert error.reason == "bad_signature"

    def test_signature_of_wrong_length(self, signature_auth: Authenticator) -> None:
        """Valid base64 that is too short to be an RSA 2048 signature is bad_signature."""
        signature = base64.b64encode(b"\x01" * 16)
        error = rejection(signature_auth, signature=signature, timestamp=NOW_B)
        assert error.reason == "bad_signature"

    @pytest.mark.parametrize("signature", [None, b""])
    def test_missing_signature(
        self, signature_auth: Authenticator, signature: bytes | None
    ) -> None:
        """No (or an empty) X-Recho-Signature header is missing_signature; the message
        says which of the two it was."""
        error = rejection(signature_auth, signature=signature, timestamp=NOW_B)
        assert error.reason == "missing_signature"
        state = "is missing" if signature is None else "is empty"
        assert error.message == f"the X-Recho-Signature header {state}"

    @pytest.mark.parametrize("timestamp", [None, b""])
    def test_missing_timestamp(
        self, signature_auth: Authenticator, key_a: OpensslKey, timestamp: bytes | None
    ) -> None:
        """No (or an empty) X-Recho-Timestamp header is missing_timestamp."""
        error = rejection(signature_auth, signature=key_a.sign(NOW_B, BODY), timestamp=timestamp)
        assert error.reason == "missing_timestamp"

    def test_bearer_header_does_not_replace_signature(self, signature_auth: Authenticator) -> None:
        """In SIGNATURE mode a bearer token alone is missing_signature."""
        error = rejection(signature_auth, authorization=f"Bearer {TOKEN}".encode())
        assert error.reason == "missing_signature"

    def test_signature_not_base64(self, signature_auth: Authenticator, key_a: OpensslKey) -> None:
        """Characters outside the base64 alphabet are malformed_signature."""
        error = rejection(signature_auth, signature=b"not*base64!", timestamp=NOW_B)
        assert error.reason == "malformed_signature"

    def test_signature_base64_variants_rejected(
        self, signature_auth: Authenticator, key_a: OpensslKey
    ) -> None:
        """Unpadded or whitespace-broken base64 is malformed_signature (standard base64 only)."""
        signature = key_a.sign(NOW_B, BODY)
        assert signature.endswith(b"==")  # 256 bytes encode to 342 chars + "=="
        for variant in (signature.rstrip(b"="), signature[:100] + b" " + signature[100:]):
            error = rejection(signature_auth, signature=variant, timestamp=NOW_B)
            assert error.reason == "malformed_signature"

    def test_oversized_signature_is_malformed(self, signature_auth: Authenticator) -> None:
        """A huge signature header is refused without decoding it."""
        error = rejection(signature_auth, signature=b"QUFB" * 10_000, timestamp=NOW_B)
        assert error.reason == "malformed_signature"

    def test_messages_never_contain_the_signature(
        self, signature_auth: Authenticator, openssl_keys: dict[str, OpensslKey]
    ) -> None:
        """Neither the received signature nor any part of it appears in the error."""
        signature = openssl_keys["c"].sign(NOW_B, BODY)
        error = rejection(signature_auth, signature=signature, timestamp=NOW_B)
        assert signature.decode() not in str(error)
        assert signature.decode()[:16] not in str(error)
        assert "BEGIN" not in str(error)

    @given(signature=st.binary(max_size=400), timestamp=st.binary(max_size=40))
    @settings(max_examples=300, deadline=None)
    def test_arbitrary_headers_only_raise_auth_error(
        self, signature_auth: Authenticator, signature: bytes, timestamp: bytes
    ) -> None:
        """Whatever bytes arrive, the outcome is an AuthError with a known reason."""
        rejection(signature_auth, signature=signature, timestamp=timestamp)


class TestTimestamp:
    """X-Recho-Timestamp: format and the ±tolerance window, checked before RSA."""

    @pytest.mark.parametrize("offset", [-300, 300, 0])
    def test_edge_of_window_passes(
        self, signature_auth: Authenticator, key_a: OpensslKey, offset: int
    ) -> None:
        """A timestamp exactly 300 s old or 300 s ahead is still accepted."""
        stamp = str(NOW + offset).encode()
        verify(signature_auth, signature=key_a.sign(stamp, BODY), timestamp=stamp)

    def test_stale(self, signature_auth: Authenticator, key_a: OpensslKey) -> None:
        """301 s old is stale_timestamp, with a message a human can act on."""
        stamp = str(NOW - 301).encode()
        error = rejection(signature_auth, signature=key_a.sign(stamp, BODY), timestamp=stamp)
        assert error.reason == "stale_timestamp"
        assert (
            error.message == "X-Recho-Timestamp is 301 s older than now, outside the ±300 s window"
        )

    def test_future(self, signature_auth: Authenticator, key_a: OpensslKey) -> None:
        """301 s ahead is future_timestamp."""
        stamp = str(NOW + 301).encode()
        error = rejection(signature_auth, signature=key_a.sign(stamp, BODY), timestamp=stamp)
        assert error.reason == "future_timestamp"
        assert "301 s ahead of now" in error.message

    def test_fraction_of_a_second_over_is_stale(self, signature_auth: Authenticator) -> None:
        """The window is exact: 300.2 s old is stale, and reported as 301 s, not 300."""
        error = rejection(signature_auth, signature=b"AAAA", timestamp=NOW_B, now_s=NOW + 300.2)
        assert error.reason == "stale_timestamp"
        assert "301 s older" in error.message

    def test_window_checked_before_signature(self, signature_auth: Authenticator) -> None:
        """A stale request is rejected as stale even when its signature is garbage."""
        error = rejection(signature_auth, signature=b"***", timestamp=str(NOW - 3600).encode())
        assert error.reason == "stale_timestamp"

    def test_milliseconds_are_called_out(self, signature_auth: Authenticator) -> None:
        """A millisecond timestamp is future_timestamp with a hint about the unit."""
        error = rejection(signature_auth, signature=b"AAAA", timestamp=str(NOW * 1000).encode())
        assert error.reason == "future_timestamp"
        assert "milliseconds" in error.message

    def test_configured_tolerance(self, key_a: OpensslKey) -> None:
        """The window follows timestamp_tolerance_s."""
        auth = Authenticator(
            AuthMode.SIGNATURE_RSA_SHA256,
            public_keys=[key_a.public_key()],
            timestamp_tolerance_s=60,
        )
        stamp = str(NOW - 61).encode()
        error = rejection(auth, signature=key_a.sign(stamp, BODY), timestamp=stamp)
        assert error.reason == "stale_timestamp"
        assert "±60 s window" in error.message

    @pytest.mark.parametrize("stamp", [NOW_B + b".25", NOW_B + b".5", b"000" + NOW_B])
    def test_only_the_documented_form_passes(
        self, signature_auth: Authenticator, key_a: OpensslKey, stamp: bytes
    ) -> None:
        """A fraction or leading zeros are refused even when correctly signed: the docs
        say whole epoch seconds, and the message says exactly that."""
        error = rejection(signature_auth, signature=key_a.sign(stamp, BODY), timestamp=stamp)
        assert error.reason == "invalid_timestamp"
        assert "whole seconds as digits without a leading zero" in error.message

    @pytest.mark.parametrize(
        "stamp",
        [
            b"abc",
            b"-1767225600",
            b"+1767225600",
            b"1.7672256e9",
            b"1_767_225_600",
            b" 1767225600",
            b"1767225600 ",
            b"0x695",
            b"nan",
            b"inf",
            b"1767225600.",
            "١٧٦٧٢٢٥٦٠٠".encode(),
            b"2026-01-01T00:00:00Z",
        ],
    )
    def test_not_epoch_seconds(
        self, signature_auth: Authenticator, key_a: OpensslKey, stamp: bytes
    ) -> None:
        """Anything but ASCII digits is invalid_timestamp."""
        error = rejection(signature_auth, signature=key_a.sign(stamp, BODY), timestamp=stamp)
        assert error.reason == "invalid_timestamp"


class TestConstructor:
    """Building an Authenticator directly: what each mode requires."""

    def test_bearer_needs_a_token(self) -> None:
        """BEARER with no token is a ConfigError naming the settings to set."""
        with pytest.raises(ConfigError, match="PROCESSOR_AUTH_BEARER_TOKENS"):
            Authenticator(AuthMode.BEARER)

    def test_signature_needs_a_key(self) -> None:
        """SIGNATURE_RSA_SHA256 with no key is a ConfigError naming the settings to set."""
        with pytest.raises(ConfigError, match="PROCESSOR_AUTH_PUBLIC_KEYS_DIR"):
            Authenticator(AuthMode.SIGNATURE_RSA_SHA256)

    def test_mode_given_as_text_is_checked_too(self) -> None:
        """A mode passed as its wire string gets the same checks as the enum member."""
        with pytest.raises(ConfigError, match="no bearer token"):
            Authenticator("BEARER")  # type: ignore[arg-type]
        assert Authenticator("NONE").mode is AuthMode.NONE  # type: ignore[arg-type]

    @pytest.mark.parametrize("token", ["", "two words", " "])
    def test_token_must_be_one_word(self, token: str) -> None:
        """An empty token or one with whitespace can never match a header: ConfigError."""
        with pytest.raises(ConfigError, match="whitespace"):
            Authenticator(AuthMode.BEARER, bearer_tokens=[token])

    def test_repr_counts_but_hides(self) -> None:
        """The repr, fit for a startup log, shows counts but no token."""
        auth = Authenticator(AuthMode.BEARER, bearer_tokens=[TOKEN, OLD_TOKEN])
        assert repr(auth) == (
            "Authenticator(mode=BEARER, bearer_tokens=2, public_keys=0, timestamp_tolerance_s=300)"
        )


class TestFromSettings:
    """Authenticator.from_settings: loading tokens and keys once, failing loudly."""

    def test_bearer_tokens_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Comma-separated tokens in PROCESSOR_AUTH_BEARER_TOKENS are all accepted."""
        monkeypatch.setenv("PROCESSOR_AUTH_MODE", "BEARER")
        monkeypatch.setenv("PROCESSOR_AUTH_BEARER_TOKENS", f"{OLD_TOKEN}, {TOKEN}")
        auth = Authenticator.from_settings(Settings())
        verify(auth, authorization=f"Bearer {OLD_TOKEN}".encode())
        verify(auth, authorization=f"Bearer {TOKEN}".encode())

    def test_bearer_tokens_file(self, tmp_path: Path) -> None:
        """A tokens file's lines are tokens; blank lines and # comments are skipped."""
        tokens_file = tmp_path / "tokens"
        tokens_file.write_text(f"# rotated 2026-01-05\n\n  {OLD_TOKEN}  \n{TOKEN}\n# end\n")
        settings = Settings(auth_mode=AuthMode.BEARER, auth_bearer_tokens_file=tokens_file)
        auth = Authenticator.from_settings(settings)
        assert auth.bearer_token_count == 2
        verify(auth, authorization=f"Bearer {OLD_TOKEN}".encode())
        verify(auth, authorization=f"Bearer {TOKEN}".encode())
        assert rejection(auth, authorization=b"Bearer #").reason == "invalid_token"

    def test_tokens_from_list_and_file_combine(self, tmp_path: Path) -> None:
        """Tokens from the setting and the file are all accepted."""
        tokens_file = tmp_path / "tokens"
        tokens_file.write_text(f"{TOKEN}\n")
        settings = Settings(
            auth_mode=AuthMode.BEARER,
            auth_bearer_tokens=[SecretStr(OLD_TOKEN)],
            auth_bearer_tokens_file=tokens_file,
        )
        assert Authenticator.from_settings(settings).bearer_token_count == 2

    def test_tokens_file_with_inline_comment(self, tmp_path: Path) -> None:
        """A token followed by a comment on its line is a ConfigError with file and line."""
        tokens_file = tmp_path / "tokens"
        tokens_file.write_text(f"# header\n{TOKEN}  # new one\n")
        settings = Settings(auth_mode=AuthMode.BEARER, auth_bearer_tokens_file=tokens_file)
        with pytest.raises(ConfigError, match=r"tokens:2: a token cannot contain whitespace"):
            Authenticator.from_settings(settings)

    def test_tokens_file_missing(self, tmp_path: Path) -> None:
        """A tokens file that does not exist is a ConfigError."""
        settings = Settings(auth_mode=AuthMode.BEARER, auth_bearer_tokens_file=tmp_path / "absent")
        with pytest.raises(ConfigError, match="cannot read bearer tokens file"):
            Authenticator.from_settings(settings)

    def test_bearer_with_only_comments_is_unconfigured(self, tmp_path: Path) -> None:
        """A tokens file with no token leaves BEARER mode without tokens: ConfigError."""
        tokens_file = tmp_path / "tokens"
        tokens_file.write_text("# nothing yet\n\n")
        settings = Settings(auth_mode=AuthMode.BEARER, auth_bearer_tokens_file=tokens_file)
        with pytest.raises(ConfigError, match="no bearer token"):
            Authenticator.from_settings(settings)

    def test_keys_dir_with_two_keys(
        self, tmp_path: Path, openssl_keys: dict[str, OpensslKey]
    ) -> None:
        """Every *.pem in the keys folder may verify; other files are ignored."""
        for name in ("a", "b"):
            (tmp_path / f"{name}.pem").write_bytes(openssl_keys[name].public.read_bytes())
        (tmp_path / "README.txt").write_text("not a key")
        settings = Settings(auth_mode=AuthMode.SIGNATURE_RSA_SHA256, auth_public_keys_dir=tmp_path)
        auth = Authenticator.from_settings(settings)
        assert auth.public_key_count == 2
        for name in ("a", "b"):
            verify(auth, signature=openssl_keys[name].sign(NOW_B, BODY), timestamp=NOW_B)
        error = rejection(auth, signature=openssl_keys["c"].sign(NOW_B, BODY), timestamp=NOW_B)
        assert error.reason == "bad_signature"

    def test_pem_string_with_two_keys(self, openssl_keys: dict[str, OpensslKey]) -> None:
        """Two concatenated PEM public keys in the setting are both loaded."""
        pem = openssl_keys["a"].public.read_text() + openssl_keys["b"].public.read_text()
        settings = Settings(
            auth_mode=AuthMode.SIGNATURE_RSA_SHA256,
            auth_public_keys_pem=SecretStr(pem),
            auth_timestamp_tolerance_s=30,
        )
        auth = Authenticator.from_settings(settings)
        assert (auth.public_key_count, auth.timestamp_tolerance_s) == (2, 30)
        for name in ("a", "b"):
            verify(auth, signature=openssl_keys[name].sign(NOW_B, BODY), timestamp=NOW_B)

    def test_pem_string_with_escaped_newlines(self, key_a: OpensslKey) -> None:
        """A PEM put on one line with literal \\n (common in .env files) still loads."""
        pem = key_a.public.read_text().replace("\n", "\\n")
        settings = Settings(
            auth_mode=AuthMode.SIGNATURE_RSA_SHA256, auth_public_keys_pem=SecretStr(pem)
        )
        auth = Authenticator.from_settings(settings)
        verify(auth, signature=key_a.sign(NOW_B, BODY), timestamp=NOW_B)

    def test_dir_and_pem_combine(self, tmp_path: Path, openssl_keys: dict[str, OpensslKey]) -> None:
        """Keys from the folder and from the PEM setting are all accepted."""
        (tmp_path / "a.pem").write_bytes(openssl_keys["a"].public.read_bytes())
        settings = Settings(
            auth_mode=AuthMode.SIGNATURE_RSA_SHA256,
            auth_public_keys_dir=tmp_path,
            auth_public_keys_pem=SecretStr(openssl_keys["b"].public.read_text()),
        )
        assert Authenticator.from_settings(settings).public_key_count == 2

    def test_signature_without_keys(self) -> None:
        """SIGNATURE_RSA_SHA256 with neither a folder nor a PEM is a ConfigError."""
        with pytest.raises(ConfigError, match="no public key is configured"):
            Authenticator.from_settings(Settings(auth_mode=AuthMode.SIGNATURE_RSA_SHA256))

    def test_bearer_without_tokens(self) -> None:
        """BEARER with neither tokens nor a tokens file is a ConfigError."""
        with pytest.raises(ConfigError, match="no bearer token is configured"):
            Authenticator.from_settings(Settings(auth_mode=AuthMode.BEARER))

    def test_private_key_in_keys_dir(self, tmp_path: Path, key_a: OpensslKey) -> None:
        """A private key among the public keys is a ConfigError that says so."""
        (tmp_path / "a.pem").write_bytes(key_a.public.read_bytes())
        (tmp_path / "leaked.pem").write_bytes(key_a.private.read_bytes())
        settings = Settings(auth_mode=AuthMode.SIGNATURE_RSA_SHA256, auth_public_keys_dir=tmp_path)
        with pytest.raises(ConfigError, match=r"leaked\.pem is a private key") as caught:
            Authenticator.from_settings(settings)
        assert "MII" not in str(caught.value)  # no key material in the message

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"hello, I am not a key\n", "no PEM block found"),
            (
                b"-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n",
                "not a readable PEM public key",
            ),
            (
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "is a certificate",
            ),
            (b"", "no PEM block found"),
        ],
    )
    def test_garbage_in_keys_dir(self, tmp_path: Path, content: bytes, message: str) -> None:
        """A .pem file that holds no usable public key is a ConfigError naming the file."""
        (tmp_path / "bad.pem").write_bytes(content)
        settings = Settings(auth_mode=AuthMode.SIGNATURE_RSA_SHA256, auth_public_keys_dir=tmp_path)
        with pytest.raises(ConfigError, match=message) as caught:
            Authenticator.from_settings(settings)
        assert "bad.pem" in str(caught.value)

    def test_non_rsa_key(self, tmp_path: Path) -> None:
        """An EC public key is a ConfigError: only RSA keys can verify RSA-SHA256."""
        private, public = tmp_path / "ec.key", tmp_path / "ec.pem"
        _openssl(
            "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", private
        )
        _openssl("pkey", "-in", private, "-pubout", "-out", public)
        private.unlink()
        settings = Settings(auth_mode=AuthMode.SIGNATURE_RSA_SHA256, auth_public_keys_dir=tmp_path)
        with pytest.raises(ConfigError, match="not an RSA public key"):
            Authenticator.from_settings(settings)

    def test_second_pem_block_broken(self, key_a: OpensslKey) -> None:
        """In concatenated PEM text, the message says which block is wrong."""
        pem = key_a.public.read_text() + key_a.private.read_text()
        settings = Settings(
            auth_mode=AuthMode.SIGNATURE_RSA_SHA256, auth_public_keys_pem=SecretStr(pem)
        )
        with pytest.raises(ConfigError, match=r"PEM block 2\) is a private key"):
            Authenticator.from_settings(settings)

    @pytest.mark.parametrize("make", ["empty", "absent", "file"])
    def test_unusable_keys_dir(self, tmp_path: Path, make: str) -> None:
        """An empty, missing or non-folder keys path is a ConfigError."""
        folder = tmp_path / "keys"
        if make == "empty":
            folder.mkdir()
        elif make == "file":
            folder.write_text("x")
        settings = Settings(auth_mode=AuthMode.SIGNATURE_RSA_SHA256, auth_public_keys_dir=folder)
        with pytest.raises(ConfigError, match="public keys folder"):
            Authenticator.from_settings(settings)

    def test_only_the_mode_in_use_is_loaded(self, tmp_path: Path) -> None:
        """Key settings are ignored in NONE and BEARER mode, so a stale path does not matter."""
        settings = Settings(
            auth_mode=AuthMode.BEARER,
            auth_bearer_tokens=[SecretStr(TOKEN)],
            auth_public_keys_dir=tmp_path / "absent",
        )
        assert Authenticator.from_settings(settings).public_key_count == 0
        none = Settings(auth_mode=AuthMode.NONE, auth_public_keys_dir=tmp_path / "absent")
        verify(Authenticator.from_settings(none))


class TestRepeatedHeaders:
    """An auth header sent twice is refused instead of letting one copy win."""

    def test_repeated_headers_of_the_mode_are_refused(self, signature_auth: Authenticator) -> None:
        """In signature mode a second X-Recho-Signature or X-Recho-Timestamp is
        repeated_header, naming the header; in bearer mode a second Authorization is."""
        for name, shown in ((b"x-recho-signature", "X-Recho-Signature"),
                            (b"x-recho-timestamp", "X-Recho-Timestamp")):  # fmt: skip
            with pytest.raises(AuthError) as info:
                signature_auth.reject_repeated(name)
            assert info.value.reason == "repeated_header"
            assert shown in info.value.message
        bearer = Authenticator(AuthMode.BEARER, bearer_tokens=[TOKEN])
        with pytest.raises(AuthError, match="Authorization header appears more than once"):
            bearer.reject_repeated(b"authorization")

    def test_headers_the_mode_ignores_may_repeat(self) -> None:
        """NONE reads no auth header, so repeating one is no reason to refuse."""
        Authenticator(AuthMode.NONE).reject_repeated(b"authorization")
