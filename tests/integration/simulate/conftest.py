"""The ingress fixtures, shared with the simulator's integration tests."""

from tests.integration.ingress.conftest import http, start_ingress  # noqa: F401
