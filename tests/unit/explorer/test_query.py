"""Query parameters and cursors of the explorer API (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processor.explorer.exceptions import QueryError
from processor.explorer.query import (
    DEFAULT_LIMIT,
    decode_cursor,
    encode_cursor,
    parse_call_query,
    parse_stats_since,
    parse_time_ms,
)
from processor.explorer.store import Cursor


def q(**params: str) -> dict[str, list[str]]:
    return {name: [value] for name, value in params.items()}


class TestParseCallQuery:
    def test_no_parameters_mean_every_call_in_default_pages(self) -> None:
        """GET /calls with nothing set filters nothing and uses the default page size."""
        query = parse_call_query({})
        assert query.limit == DEFAULT_LIMIT
        assert (query.status, query.outcome, query.has_errors, query.after) == (None,) * 4

    def test_every_filter_is_read(self) -> None:
        """Each documented parameter lands in the query with its type."""
        query = parse_call_query(
            q(
                projectId="p-1",
                status="CALLING",
                outcome="OPEN",
                hasErrors="true",
                verdict="DUPLICATE",
                errorCode="NETWORK_ERROR",
                since="2026-06-01T00:00:00Z",
                until="1780358400000",
                limit="10",
            )
        )
        assert query.project_id == "p-1"
        assert query.status == "CALLING"
        assert query.outcome == "OPEN"
        assert query.has_errors is True
        assert query.verdict == "DUPLICATE"
        assert query.error_code == "NETWORK_ERROR"
        assert (query.since_ms, query.until_ms) == (1780272000000, 1780358400000)
        assert query.limit == 10

    def test_empty_values_mean_any(self) -> None:
        """An empty form field (the web page sends them) is no filter."""
        assert parse_call_query(q(status="", outcome="")).status is None

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            (q(status="RINGING"), "status"),
            (q(outcome="MAYBE"), "outcome"),
            (q(verdict="FINE"), "verdict"),
            (q(hasErrors="perhaps"), "hasErrors"),
            (q(limit="0"), "limit"),
            (q(limit="501"), "limit"),
            (q(limit="ten"), "limit"),
            (q(since="yesterday"), "since"),
            (q(since="2026-06-02", until="2026-06-01"), "until"),
            (q(cursor="bm90IGEgY3Vyc29y"), "cursor"),
            (q(sort="asc"), "sort"),
            ({"status": ["CALLING", "PENDING"]}, "status"),
            (q(projectId="x" * 201), "projectId"),
        ],
    )
    def test_bad_parameters_name_their_field(
        self, params: dict[str, list[str]], field: str
    ) -> None:
        """A bad value is refused with the parameter's name, for a 400 a user can act on."""
        with pytest.raises(QueryError) as caught:
            parse_call_query(params)
        assert caught.value.field == field


class TestTimes:
    def test_iso_without_zone_is_utc_and_digits_are_epoch_ms(self) -> None:
        """'2026-06-01T00:00:00' and its epoch milliseconds mean the same moment."""
        assert parse_time_ms("since", "2026-06-01T00:00:00") == 1780272000000
        assert parse_time_ms("since", "2026-06-01T02:00:00+02:00") == 1780272000000
        assert parse_time_ms("since", "1780272000000") == 1780272000000

    def test_stats_default_to_the_last_24_hours(self) -> None:
        """GET /stats without since covers the last day."""
        assert parse_stats_since({}, 100_000_000) == 100_000_000 - 86_400_000


class TestCursor:
    @given(st.integers(0, 2**53), st.text(min_size=1, max_size=80))
    def test_a_cursor_round_trips(self, first_seen_ms: int, call_id: str) -> None:
        """Any position, including call ids with ':' or non-ASCII text, comes back as it was."""
        cursor = Cursor(first_seen_ms, call_id)
        assert decode_cursor(encode_cursor(cursor)) == cursor

    def test_a_cursor_is_url_safe(self) -> None:
        """The cursor can be pasted into a query string as it is."""
        text = encode_cursor(Cursor(1, "a/b+c?d&e"))
        assert all(c.isalnum() or c in "-_" for c in text)

    @pytest.mark.parametrize("text", ["", "!!!", "djE6", "djE6YWJjOg", "eDox"])
    def test_garbage_is_a_query_error(self, text: str) -> None:
        """A made-up or truncated cursor is refused, not silently restarted."""
        with pytest.raises(QueryError):
            decode_cursor(text)
