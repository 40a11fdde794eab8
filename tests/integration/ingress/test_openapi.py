"""The OpenAPI document tells the truth, and fuzzing it finds no 5xx."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import jsonschema
import pytest

from processor.settings import Settings
from tests.factories import SPEC_EXAMPLES, make_envelope
from tests.integration.ingress.conftest import StartIngress, json_headers
from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[3]


class TestDocument:
    async def test_document_matches_routes_and_examples(
        self, settings: Settings, start_ingress: StartIngress, http: httpx.AsyncClient
    ) -> None:
        """/openapi.json is OpenAPI 3.1, lists every served route, its Envelope schema
        accepts every spec example, and a real 202 answer matches the Accepted schema."""
        url = await start_ingress(settings)
        document = (await http.get(url + "/openapi.json")).json()
        assert document["openapi"].startswith("3.1")
        assert set(document["paths"]) == {
            settings.ingress_path, "/healthz", "/readyz", "/metrics",
        }  # fmt: skip
        for path in document["paths"]:
            if path != settings.ingress_path:
                assert (await http.get(url + path)).status_code == 200
        schemas = document["components"]["schemas"]
        resolver = {"components": {"schemas": schemas}}

        def validate(instance: object, name: str) -> None:
            schema = {**schemas[name], "components": resolver["components"]}
            jsonschema.validate(instance, schema, cls=jsonschema.Draft202012Validator)

        for example in SPEC_EXAMPLES:
            validate(example, "Envelope")
        answer = await http.post(
            url + settings.ingress_path,
            content=httpx.Request("POST", url, json=make_envelope()).content,
            headers=json_headers(),
        )
        assert answer.status_code == 202
        validate(answer.json(), "Accepted")
        problem = await http.post(url + settings.ingress_path, content=b"{", headers=json_headers())
        validate(problem.json(), "Problem")
        documented = set(document["paths"][settings.ingress_path]["post"]["responses"])
        assert {"202", "400", "401", "413", "415", "503"} <= documented


class TestFuzz:
    async def test_schemathesis_finds_no_server_error(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        """schemathesis, driven by /openapi.json against a running ingress, gets no 5xx
        on any operation (bodies, headers, content types it generates)."""
        port = free_port()
        env = {
            **os.environ,
            "PROCESSOR_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "PROCESSOR_TOPIC_WEBHOOKS": settings.topic_webhooks,
            "PROCESSOR_INGRESS_PORT": str(port),
        }
        log = (tmp_path / "ingress.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "processor", "ingress"], env=env, stdout=log, stderr=log
        )
        try:
            async with httpx.AsyncClient() as http:
                for _ in range(200):
                    try:
                        if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.05)
                else:
                    pytest.fail("ingress did not become ready")
            result = await asyncio.to_thread(
                subprocess.run,
                [
                    str(Path(sys.executable).parent / "schemathesis"),
                    "run",
                    f"http://127.0.0.1:{port}/openapi.json",
                    "--checks",
                    "not_a_server_error",
                    "--max-examples",
                    "150",
                    "--generation-database",
                    "none",
                    "--request-timeout",
                    "20",
                ],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
                cwd=tmp_path,
            )
        finally:
            proc.terminate()
            proc.wait(30)
            log.close()
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        assert "No issues found" in result.stdout
