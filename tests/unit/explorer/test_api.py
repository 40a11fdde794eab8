"""The explorer's HTTP answers over a real SQLite store fed without a broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.errors import ConfigError
from processor.explorer.api import ExplorerApp, check_exposure
from processor.explorer.backends import sqlite_dialect
from processor.explorer.rows import Decoder
from processor.explorer.sql import SqlStore
from processor.settings import Settings
from tests.unit.explorer.records import ALERTS, EVENTS, STATE, alert, event, record, state

ERROR = {
    "code": "NETWORK_ERROR",
    "message": "Upstream socket reset",
    "timestamp": "2026-06-01T09:15:02.418Z",
    "where": "OutboundCallAdapter.connect",
    "phase": "CONNECTING",
    "stacktrace": "",
}


async def _fill(store: SqlStore) -> None:
    decoder = Decoder(EVENTS, STATE, ALERTS)
    records = [
        record(EVENTS, 0, event("c-1", 0), "c-1"),
        record(EVENTS, 1, event("c-1", 1, eventType="OUTBOUND_CALL_ERROR", hasErrors=True,
                                errors=[ERROR], previousStatus="PENDING", status="ERROR"), "c-1"),
        record(EVENTS, 2, event("c-1", 2, verdict="DUPLICATE", previousStatus="ERROR",
                                status="ERROR"), "c-1"),
        record(STATE, 0, state("c-1", outcome="ERROR", errorCount=1,
                               errorCodes=["NETWORK_ERROR"]), "c-1"),
        record(ALERTS, 0, alert("c-1", 1), "c-1"),
        record(STATE, 1, state("c-2", firstSeenMs=1_780_272_100_000), "c-2"),
    ]  # fmt: skip
    await store.apply(decoder.decode(records))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    made = SqlStore(sqlite_dialect(tmp_path / "store.db"))
    await made.open()
    await _fill(made)
    yield made
    await made.close()


def _client(store: SqlStore, **overrides: Any) -> httpx.AsyncClient:
    app = ExplorerApp(Settings(**overrides), store, lambda: True)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


class TestCallPage:
    async def test_the_call_page_shows_the_timeline_errors_and_marks(self, store: SqlStore) -> None:
        """The HTML page of a call lists its steps, the error expanded with its message,
        the DUPLICATE step marked, and links the alert to its event."""
        async with _client(store) as client:
            page = await client.get("/ui/calls/c-1")
        assert page.status_code == 200
        html = page.text
        assert "Upstream socket reset" in html
        assert 'class="badge verdict-DUPLICATE"' in html
        assert 'href="#alert-' + "a" * 32 + '"' in html
        assert 'href="#event-0-1"' in html

    async def test_an_unknown_call_is_a_readable_404(self, store: SqlStore) -> None:
        """Searching a callId that is not stored answers a 404 page saying so."""
        async with _client(store) as client:
            found = await client.get("/ui/search?callId=c-9", follow_redirects=True)
            api = await client.get("/calls/c-9")
        assert found.status_code == 404
        assert "c-9" in found.text
        assert api.status_code == 404
        assert api.json()["error"] == "not_found"

    async def test_overview_and_list_pages_render(self, store: SqlStore) -> None:
        """The overview shows the outcome and error-code charts; the list filters."""
        async with _client(store) as client:
            overview = await client.get("/?since=0")
            listed = await client.get("/ui/calls?outcome=ERROR")
            bad = await client.get("/ui/calls?outcome=NOPE")
        assert overview.status_code == 200
        assert "<svg" in overview.text
        assert "NETWORK_ERROR" in overview.text
        assert "c-1" in listed.text
        assert "c-2" not in listed.text
        assert bad.status_code == 400
        assert "outcome" in bad.text


class TestAuth:
    async def test_tokens_are_required_and_any_configured_one_works(self, store: SqlStore) -> None:
        """With two tokens (rotation) either one is accepted, none or a wrong one is a 401;
        health, readiness and metrics stay open for probes."""
        async with _client(store, explorer_tokens="old-token,new-token") as client:
            assert (await client.get("/calls/c-1")).status_code == 401
            wrong = {"Authorization": "Bearer nope"}
            assert (await client.get("/calls/c-1", headers=wrong)).status_code == 401
            for token in ("old-token", "new-token"):
                ok = await client.get("/calls/c-1", headers={"Authorization": f"Bearer {token}"})
                assert ok.status_code == 200
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/metrics")).status_code == 200

    async def test_a_browser_signs_in_once_with_a_token(self, store: SqlStore) -> None:
        """A page without the cookie redirects to /login; after posting a good token the
        pages open (the token travels in an HttpOnly cookie)."""
        async with _client(store, explorer_tokens="s3cret") as client:
            first = await client.get("/ui/calls/c-1")
            assert first.status_code == 303
            assert first.headers["location"].startswith("/login")
            bad = await client.post("/login", data={"token": "nope", "next": "/"})
            assert bad.status_code == 401
            good = await client.post("/login", data={"token": "s3cret", "next": "/ui/calls/c-1"})
            assert good.status_code == 303
            assert "HttpOnly" in good.headers["set-cookie"]
            page = await client.get("/ui/calls/c-1")
            assert page.status_code == 200

    def test_no_tokens_only_on_loopback(self) -> None:
        """Without tokens the explorer binds localhost only; a public bind is refused."""
        assert check_exposure(Settings(explorer_host="127.0.0.1")) is None
        with pytest.raises(ConfigError):
            check_exposure(Settings(explorer_host="0.0.0.0"))  # noqa: S104
        assert check_exposure(Settings(explorer_host="0.0.0.0", explorer_tokens="t")) is not None  # noqa: S104


class TestNeverAServerError:
    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        path=st.sampled_from(["/calls", "/stats", "/ui/calls", "/", "/calls/x", "/ui/search"]),
        query=st.dictionaries(
            st.sampled_from(["status", "outcome", "limit", "since", "until", "cursor",
                             "hasErrors", "verdict", "callId", "junk"]),
            st.text(max_size=30),
            max_size=4,
        ),
    )  # fmt: skip
    async def test_any_query_string_gets_a_2xx_3xx_or_4xx(
        self, store: SqlStore, path: str, query: dict[str, str]
    ) -> None:
        """Whatever parameters a user types, the answer is never a 5xx."""
        async with _client(store) as client:
            response = await client.get(path, params=query)
        assert response.status_code < 500, response.text

    async def test_the_openapi_document_lists_the_routes(self, store: SqlStore) -> None:
        """/openapi.json describes the three API routes and their models."""
        async with _client(store) as client:
            document = (await client.get("/openapi.json")).json()
        assert {"/calls/{callId}", "/calls", "/stats"} <= set(document["paths"])
        assert {"CallDetail", "CallPage", "Stats", "Problem"} <= set(
            document["components"]["schemas"]
        )
