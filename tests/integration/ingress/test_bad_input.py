"""Bad input gets a clear 4xx JSON error, never a 5xx; odd but keyed input is accepted."""

from __future__ import annotations

import httpx
import orjson

from processor.settings import Settings
from tests.factories import make_envelope, make_envelope_bytes, to_bytes
from tests.integration.conftest import ReadTopic
from tests.integration.ingress.conftest import StartIngress, json_headers

PATH = "/webhooks/recho"


class TestRejections:
    async def test_each_bad_input_class(
        self, settings: Settings, start_ingress: StartIngress, http: httpx.AsyncClient
    ) -> None:
        """415 for non-JSON content types, 400 for non-JSON bodies and missing callId,
        404 for other routes, 405 for other methods, each with a JSON error body."""
        url = await start_ingress(settings)
        body = make_envelope_bytes()
        cases = [
            (await http.post(url + PATH, content=body, headers={"content-type": "text/plain"}),
             415, "unsupported_media_type"),
            (await http.post(url + PATH, content=b"{not json", headers=json_headers()),
             400, "invalid_body"),
            (await http.post(url + PATH, content=b"[1, 2]", headers=json_headers()),
             400, "invalid_body"),
            (await http.post(url + PATH, content=to_bytes({"body": {"data": {}}}),
                             headers=json_headers()), 400, "invalid_body"),
            (await http.post(url + PATH, content=to_bytes(make_envelope(call_id="")),
                             headers=json_headers()), 400, "invalid_body"),
            (await http.post(url + "/elsewhere", content=body, headers=json_headers()),
             404, "not_found"),
            (await http.get(url + PATH), 405, "method_not_allowed"),
            (await http.put(url + PATH, content=body, headers=json_headers()),
             405, "method_not_allowed"),
        ]  # fmt: skip
        for response, status, error in cases:
            assert response.status_code == status, (status, response.text)
            payload = response.json()
            assert payload["error"] == error
            assert payload["message"]
            assert payload["requestId"]
        missing = cases[3][0].json()
        assert "callId" in missing["message"] or missing.get("field") == "body.data.callId"

    async def test_body_limit_just_under_and_just_over(
        self, settings_factory: object, start_ingress: StartIngress, http: httpx.AsyncClient
    ) -> None:
        """A body of exactly the limit is accepted; one byte more is 413, also when the
        client streams it without a Content-Length."""
        from processor.kafka.admin import create_topics

        settings = settings_factory(ingress_max_body_bytes=4096)  # type: ignore[operator]
        await create_topics(settings)
        url = await start_ingress(settings)
        base = make_envelope()
        base["padding"] = ""
        filler = 4096 - len(to_bytes(base))
        base["padding"] = "x" * filler
        exact = to_bytes(base)
        assert len(exact) == 4096
        ok = await http.post(url + PATH, content=exact, headers=json_headers())
        assert ok.status_code == 202, ok.text
        base["padding"] += "x"
        over = to_bytes(base)
        too_big = await http.post(url + PATH, content=over, headers=json_headers())
        assert too_big.status_code == 413
        assert too_big.json()["error"] == "body_too_large"

        async def stream() -> object:
            for i in range(0, len(over), 1000):
                yield over[i : i + 1000]

        streamed = await http.post(url + PATH, content=stream(), headers=json_headers())
        assert streamed.status_code == 413


class TestAcceptedOddities:
    async def test_unknown_event_type_is_accepted_flagged_and_written_as_is(
        self,
        settings: Settings,
        start_ingress: StartIngress,
        http: httpx.AsyncClient,
        read_topic: ReadTopic,
    ) -> None:
        """An unknown eventType with an extra field is accepted, flagged in the answer
        and in the Kafka record's headers, and written byte for byte."""
        url = await start_ingress(settings)
        payload = make_envelope(event_type="OUTBOUND_CALL_TELEPORTED", call_id="odd-1")
        payload["futureField"] = {"x": 1}
        raw = b'{"spacing" :  1, ' + to_bytes(payload)[1:]
        response = await http.post(url + PATH, content=raw, headers=json_headers())
        assert response.status_code == 202, response.text
        assert "unknown_event_type" in response.json()["flags"]
        assert "unknown_event_type" in response.headers["x-recho-flags"]
        [record] = await read_topic(settings.topic_webhooks, 1)
        assert record.value == raw
        assert record.key == b"odd-1"
        headers = dict(record.headers)
        assert b"unknown_event_type" in headers["recho-flags"]
        assert headers["recho-auth-mode"] == b"NONE"
        assert int(headers["recho-received-at-ms"]) > 0
        assert len(headers["recho-content-sha256"]) == 64
        assert headers["recho-request-id"].decode() == response.json()["requestId"]

    async def test_off_schema_body_with_call_id_is_accepted(
        self,
        settings: Settings,
        start_ingress: StartIngress,
        http: httpx.AsyncClient,
        read_topic: ReadTopic,
    ) -> None:
        """A body that breaks the schema (errors is a string) but has a callId is
        accepted and flagged off_schema: rejecting it would be retried forever."""
        url = await start_ingress(settings)
        payload = make_envelope(call_id="odd-2")
        payload["body"]["errors"] = "boom"
        response = await http.post(url + PATH, content=to_bytes(payload), headers=json_headers())
        assert response.status_code == 202, response.text
        assert response.json()["flags"] == ["off_schema"]
        [record] = await read_topic(settings.topic_webhooks, 1)
        assert orjson.loads(record.value)["body"]["errors"] == "boom"


class TestProjectAllowList:
    async def test_only_allowed_projects_are_accepted(
        self,
        settings_factory: object,
        start_ingress: StartIngress,
        http: httpx.AsyncClient,
        read_topic: ReadTopic,
    ) -> None:
        """With an allow-list, an allowed projectId is accepted and another gets 403
        naming the field; nothing refused reaches Kafka."""
        from processor.kafka.admin import create_topics

        settings = settings_factory(auth_allowed_project_ids="proj-ok")  # type: ignore[operator]
        await create_topics(settings)
        url = await start_ingress(settings)
        ok = make_envelope_bytes(call_id="al-1", project_id="proj-ok")
        other = make_envelope_bytes(call_id="al-2", project_id="proj-other")
        accepted = await http.post(url + PATH, content=ok, headers=json_headers())
        assert accepted.status_code == 202, accepted.text
        refused = await http.post(url + PATH, content=other, headers=json_headers())
        assert refused.status_code == 403
        assert refused.json()["error"] == "project_not_allowed"
        assert refused.json()["field"] == "projectId"
        records = await read_topic(settings.topic_webhooks, 2, timeout_s=3)
        assert [r.key for r in records] == [b"al-1"]


class TestBodyErrors:
    async def test_non_json_bodies_are_named_plainly(
        self, settings: Settings, start_ingress: StartIngress, http: httpx.AsyncClient
    ) -> None:
        """Infinity, 1e400 and NaN anywhere in a body are rejected alike (RFC 8259) with
        the position; a JSON array is "the body must be a JSON object"; a broken literal
        says "not valid JSON" with its position and no parser internals."""
        url = await start_ingress(settings)
        base = make_envelope_bytes()[:-1]
        for token in (b"Infinity", b"1e400", b"NaN"):
            response = await http.post(
                url + PATH, content=base + b',"x":' + token + b"}", headers=json_headers()
            )
            assert response.status_code == 400, (token, response.text)
            assert response.json()["message"].startswith("the body is not valid JSON (line 1")
        array = await http.post(url + PATH, content=b"[1, 2]", headers=json_headers())
        assert array.status_code == 400
        assert array.json()["message"] == "the body must be a JSON object"
        literal = await http.post(url + PATH, content=b'{"a": trux}', headers=json_headers())
        assert literal.status_code == 400
        assert literal.json()["message"] == "the body is not valid JSON (line 1, column 7)"
