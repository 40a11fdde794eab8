"""Settings a deployment relies on keep meaning what they meant."""

from __future__ import annotations

import pytest

from processor.settings import Settings


class TestOpsHost:
    def test_defaults_to_loopback(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without either variable, the ops endpoints bind loopback only."""
        monkeypatch.delenv("PROCESSOR_OPS_HOST", raising=False)
        monkeypatch.delenv("PROCESSOR_INGRESS_HOST", raising=False)
        assert Settings().ops_host == "127.0.0.1"

    def test_former_variable_still_binds_the_ops_endpoints(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A deployment that set only PROCESSOR_INGRESS_HOST (it used to bind the worker's
        and notifier's /metrics too) keeps its probes and scrapes working."""
        monkeypatch.delenv("PROCESSOR_OPS_HOST", raising=False)
        monkeypatch.setenv("PROCESSOR_INGRESS_HOST", "0.0.0.0")  # noqa: S104
        assert Settings().ops_host == "0.0.0.0"  # noqa: S104

    def test_own_variable_wins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """PROCESSOR_OPS_HOST, when set, decides alone: the ingress can stay public while
        the ops endpoints stay on loopback."""
        monkeypatch.setenv("PROCESSOR_INGRESS_HOST", "0.0.0.0")  # noqa: S104
        monkeypatch.setenv("PROCESSOR_OPS_HOST", "127.0.0.1")
        settings = Settings()
        assert settings.ops_host == "127.0.0.1"
        assert settings.ingress_host == "0.0.0.0"  # noqa: S104
