"""The shared HTTP retry rules: which statuses are retried, Retry-After, backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processor.errors import ConfigError
from processor.retry import (
    MAX_RETRY_AFTER_S,
    Jitter,
    RetryPolicy,
    is_retriable_status,
    parse_retry_after,
)

NOW = datetime(2026, 10, 21, 7, 28, tzinfo=UTC)


class TestRetriableStatus:
    @pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 599])
    def test_not_now_answers_are_retried(self, status: int) -> None:
        """Timeouts, Too Early, Too Many Requests and every 5xx may succeed later."""
        assert is_retriable_status(status)

    @pytest.mark.parametrize("status", [200, 301, 400, 401, 403, 404, 413, 415, 422])
    def test_final_answers_are_not_retried(self, status: int) -> None:
        """Other statuses would be answered the same way again."""
        assert not is_retriable_status(status)


class TestParseRetryAfter:
    @given(st.integers(min_value=0, max_value=int(MAX_RETRY_AFTER_S)))
    def test_delay_seconds(self, seconds: int) -> None:
        """delay-seconds is read as that many seconds, with optional surrounding spaces."""
        assert parse_retry_after(f" {seconds} ") == seconds

    def test_decimal_seconds_are_accepted(self) -> None:
        """A fractional number of seconds is read too (lenient, as receivers send it)."""
        assert parse_retry_after("0.5") == 0.5

    @given(st.integers(min_value=0, max_value=int(MAX_RETRY_AFTER_S)))
    def test_http_date_is_seconds_from_now(self, seconds: int) -> None:
        """An HTTP-date (IMF-fixdate) is the time from now until then."""
        value = format_datetime(NOW + timedelta(seconds=seconds), usegmt=True)
        assert parse_retry_after(value, now_s=NOW.timestamp()) == pytest.approx(seconds)

    def test_past_date_means_now(self) -> None:
        """A date already past asks for no wait."""
        value = format_datetime(NOW - timedelta(hours=1), usegmt=True)
        assert parse_retry_after(value, now_s=NOW.timestamp()) == 0.0

    def test_obsolete_date_formats_are_read(self) -> None:
        """RFC 850 and asctime dates, which recipients must accept, are read as well."""
        now = NOW.timestamp()
        assert parse_retry_after("Wednesday, 21-Oct-26 07:29:00 GMT", now_s=now) == 60
        assert parse_retry_after("Wed Oct 21 07:29:00 2026", now_s=now) == 60

    @pytest.mark.parametrize(
        "value",
        [None, "", "soon", "-1", "+5", "1e3", "nan", "inf", "0x10", "86401", "99999999999"],
    )
    def test_unusable_values_are_ignored(self, value: str | None) -> None:
        """Absent, unreadable, negative or longer than a day: None (own backoff applies)."""
        assert parse_retry_after(value) is None

    def test_a_date_too_far_ahead_is_ignored(self) -> None:
        """A date more than a day away is not waited for."""
        value = format_datetime(NOW + timedelta(days=2), usegmt=True)
        assert parse_retry_after(value, now_s=NOW.timestamp()) is None

    @given(st.text(max_size=40))
    def test_never_raises_and_stays_in_bounds(self, value: str) -> None:
        """Whatever a server sends, the answer is None or a wait within the bound."""
        seconds = parse_retry_after(value, now_s=NOW.timestamp())
        assert seconds is None or 0 <= seconds <= MAX_RETRY_AFTER_S


policies = st.builds(
    RetryPolicy,
    budget_s=st.floats(0, 1000),
    base_s=st.floats(0, 10),
    cap_s=st.floats(0, 100),
    jitter=st.sampled_from(Jitter),
)


class TestRetryPolicy:
    @given(policies, st.integers(1, 60), st.integers(0, 2**32))
    def test_wait_stays_under_the_exponential_ceiling(
        self, policy: RetryPolicy, retry: int, seed: int
    ) -> None:
        """Each wait is within [0, min(cap, base * 2^(n-1))]; equal jitter waits at
        least half of that ceiling."""
        ceiling = min(policy.cap_s, policy.base_s * 2.0 ** (retry - 1))
        delay = policy.delay_s(retry, random.Random(seed))
        floor = ceiling / 2 if policy.jitter is Jitter.EQUAL else 0.0
        assert floor <= delay <= ceiling

    def test_full_jitter_spreads_over_the_whole_range(self) -> None:
        """Full jitter uses the whole [0, ceiling]: some waits are short, some near the top."""
        policy = RetryPolicy(budget_s=60, base_s=1.0, cap_s=30.0)
        delays = [policy.delay_s(3, random.Random(seed)) for seed in range(200)]
        assert min(delays) < 0.4
        assert max(delays) > 3.6

    @given(policies, st.integers(1, 20), st.floats(0, MAX_RETRY_AFTER_S))
    def test_retry_after_is_a_floor(
        self, policy: RetryPolicy, retry: int, retry_after: float
    ) -> None:
        """The server's Retry-After is waited at least (up to cap_s when so configured)."""
        delay = policy.delay_s(retry, random.Random(1), retry_after)
        assert delay >= retry_after
        capped = RetryPolicy(
            budget_s=1, base_s=policy.base_s, cap_s=policy.cap_s, retry_after_within_cap=True
        )
        assert capped.delay_s(retry, random.Random(1), retry_after) >= min(
            retry_after, policy.cap_s
        )
        assert capped.delay_s(retry, random.Random(1), retry_after) <= policy.cap_s

    def test_exhausted_by_attempts_or_budget(self) -> None:
        """The policy is spent after max_attempts attempts, or when the next attempt
        would start past the budget; without max_attempts only the budget counts."""
        limited = RetryPolicy(budget_s=10, max_attempts=3)
        assert not limited.exhausted(2, 9.9)
        assert limited.exhausted(3, 0.0)
        assert limited.exhausted(1, 10.1)
        assert not RetryPolicy(budget_s=10).exhausted(1000, 10.0)

    @pytest.mark.parametrize(
        "changes", [{"max_attempts": 0}, {"base_s": -1.0}, {"cap_s": -1.0}, {"budget_s": -1.0}]
    )
    def test_impossible_policies_are_config_errors(self, changes: dict[str, float]) -> None:
        """A policy that cannot work is refused when built."""
        with pytest.raises(ConfigError):
            RetryPolicy(**{"budget_s": 1.0, **changes})  # type: ignore[arg-type]
