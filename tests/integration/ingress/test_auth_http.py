"""Each authentication mode over HTTP, with signatures made by openssl."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from processor.settings import AuthMode, Settings
from tests.factories import make_envelope_bytes
from tests.integration.conftest import ReadTopic
from tests.integration.ingress.conftest import StartIngress, json_headers, openssl_sign

PATH = "/webhooks/recho"


class TestNoneMode:
    async def test_accepts_without_credentials(
        self, settings: Settings, start_ingress: StartIngress, http: httpx.AsyncClient
    ) -> None:
        """In NONE mode a webhook without any credential is accepted (202)."""
        url = await start_ingress(settings)
        response = await http.post(
            url + PATH, content=make_envelope_bytes(), headers=json_headers()
        )
        assert response.status_code == 202


class TestBearerMode:
    async def test_rotation_accepts_both_tokens_and_rejects_others(
        self,
        settings: Settings,
        start_ingress: StartIngress,
        http: httpx.AsyncClient,
        read_topic: ReadTopic,
    ) -> None:
        """Two configured tokens are both accepted; a wrong or missing token gets 401
        with the reason, and nothing rejected reaches Kafka."""
        configured = settings.model_copy(update={"auth_mode": AuthMode.BEARER}).model_validate(
            {**settings.model_dump(), "auth_mode": "BEARER", "auth_bearer_tokens": "old-t,new-t"}
        )
        url = await start_ingress(configured)
        body = make_envelope_bytes(call_id="bearer-1")
        for token in ("old-t", "new-t"):
            ok = await http.post(
                url + PATH, content=body, headers=json_headers(authorization=f"Bearer {token}")
            )
            assert ok.status_code == 202, ok.text
        wrong = await http.post(
            url + PATH, content=body, headers=json_headers(authorization="Bearer nope")
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"] == "invalid_token"
        assert "nope" not in wrong.text
        assert "old-t" not in wrong.text
        missing = await http.post(url + PATH, content=body, headers=json_headers())
        assert missing.status_code == 401
        assert missing.json()["error"] == "missing_token"
        records = await read_topic(settings.topic_webhooks, 3, timeout_s=5)
        assert len(records) == 2


class TestSignatureMode:
    async def test_openssl_signatures_with_key_rotation(
        self,
        settings: Settings,
        start_ingress: StartIngress,
        http: httpx.AsyncClient,
        rsa_keys: dict[str, Path],
        tmp_path: Path,
    ) -> None:
        """Signatures by openssl with either configured key are accepted; a third key,
        a tampered body, a stale or a future timestamp get 401 with the reason."""
        keys_dir = tmp_path / "keys"
        keys_dir.mkdir()
        for name in ("a", "b"):
            (keys_dir / f"{name}.pem").write_bytes(rsa_keys[f"{name}_public"].read_bytes())
        configured = Settings.model_validate(
            {
                **settings.model_dump(),
                "auth_mode": "SIGNATURE_RSA_SHA256",
                "auth_public_keys_dir": keys_dir,
            }
        )
        url = await start_ingress(configured)
        body = make_envelope_bytes(call_id="sig-1")
        now = str(int(time.time()))

        async def post(key: str, timestamp: str, sent: bytes) -> httpx.Response:
            signature = openssl_sign(rsa_keys[f"{key}_private"], timestamp, body, tmp_path)
            headers = json_headers(
                **{"x-recho-signature": signature, "x-recho-timestamp": timestamp}
            )
            return await http.post(url + PATH, content=sent, headers=headers)

        assert (await post("a", now, body)).status_code == 202
        assert (await post("b", now, body)).status_code == 202
        third = await post("c", now, body)
        assert (third.status_code, third.json()["error"]) == (401, "bad_signature")
        tampered = await post("a", now, body.replace(b"sig-1", b"sig-2"))
        assert (tampered.status_code, tampered.json()["error"]) == (401, "bad_signature")
        stale = await post("a", str(int(time.time()) - 400), body)
        assert (stale.status_code, stale.json()["error"]) == (401, "stale_timestamp")
        future = await post("a", str(int(time.time()) + 400), body)
        assert (future.status_code, future.json()["error"]) == (401, "future_timestamp")
        unsigned = await http.post(url + PATH, content=body, headers=json_headers())
        assert unsigned.status_code == 401
        assert unsigned.json()["error"] in {"missing_signature", "missing_timestamp"}


class TestHeaderForms:
    async def test_only_documented_timestamps_and_single_auth_headers_pass(
        self,
        settings: Settings,
        start_ingress: StartIngress,
        http: httpx.AsyncClient,
        rsa_keys: dict[str, Path],
        tmp_path: Path,
    ) -> None:
        """Correctly signed requests whose timestamp has a fraction or leading zeros get
        401 invalid_timestamp; an empty signature is reported as empty; a second
        X-Recho-Signature is 401 repeated_header instead of the last one winning."""
        configured = Settings.model_validate(
            {
                **settings.model_dump(),
                "auth_mode": "SIGNATURE_RSA_SHA256",
                "auth_public_keys_pem": rsa_keys["a_public"].read_text(),
            }
        )
        url = await start_ingress(configured)
        body = make_envelope_bytes(call_id="forms-1")
        now = str(int(time.time()))

        def signed(timestamp: str) -> list[tuple[str, str]]:
            signature = openssl_sign(rsa_keys["a_private"], timestamp, body, tmp_path)
            return [
                ("content-type", "application/json"),
                ("x-recho-signature", signature),
                ("x-recho-timestamp", timestamp),
            ]

        assert (await http.post(url + PATH, content=body, headers=signed(now))).status_code == 202
        for stamp in (now + ".5", "000" + now):
            response = await http.post(url + PATH, content=body, headers=signed(stamp))
            assert (response.status_code, response.json()["error"]) == (401, "invalid_timestamp")
        empty = [*signed(now)[:1], ("x-recho-signature", ""), ("x-recho-timestamp", now)]
        response = await http.post(url + PATH, content=body, headers=empty)
        assert response.status_code == 401
        assert response.json()["message"] == "the X-Recho-Signature header is empty"
        twice = [*signed(now), ("x-recho-signature", "AAAA")]
        response = await http.post(url + PATH, content=body, headers=twice)
        assert (response.status_code, response.json()["error"]) == (401, "repeated_header")
        assert "X-Recho-Signature" in response.json()["message"]

    async def test_repeated_authorization_is_refused(
        self, settings: Settings, start_ingress: StartIngress, http: httpx.AsyncClient
    ) -> None:
        """In BEARER mode two Authorization headers get 401 repeated_header, even when
        one of them holds a valid token."""
        configured = Settings.model_validate(
            {**settings.model_dump(), "auth_mode": "BEARER", "auth_bearer_tokens": "tok"}
        )
        url = await start_ingress(configured)
        headers = [
            ("content-type", "application/json"),
            ("authorization", "Bearer nope"),
            ("authorization", "Bearer tok"),
        ]
        response = await http.post(url + PATH, content=make_envelope_bytes(), headers=headers)
        assert (response.status_code, response.json()["error"]) == (401, "repeated_header")
