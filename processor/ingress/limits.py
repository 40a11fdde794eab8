"""The HTTP bounds of the ingress's protocol, and the phases a connection goes through."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from processor.settings import Settings


class Phase(IntEnum):
    """Where a connection is in its current request."""

    IDLE = 0  # between requests on a keep-alive connection
    HEAD = 1  # receiving the request line and headers
    BODY = 2  # headers done, the body is still coming
    APP = 3  # request complete; the app is answering
    DISCARD = 4  # answered early on a keep-alive connection; the body is thrown away
    LINGER = 5  # answered and write side shut; reading until the client closes


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """The bounds, in the units the protocol uses."""

    max_header_bytes: int
    max_headers: int
    header_timeout_s: float
    body_timeout_s: float
    keep_alive_s: float
    max_connections: int
    linger_s: float
    linger_max_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        """The limits of ``settings``."""
        return cls(
            max_header_bytes=settings.ingress_max_header_bytes,
            max_headers=settings.ingress_max_headers,
            header_timeout_s=settings.ingress_header_timeout_s,
            body_timeout_s=settings.ingress_body_timeout_s,
            keep_alive_s=settings.ingress_keep_alive_s,
            max_connections=settings.ingress_max_connections,
            linger_s=settings.ingress_linger_s,
            linger_max_bytes=settings.ingress_linger_max_bytes,
        )

    @property
    def sweep_interval_s(self) -> float:
        """How often timeouts are checked: a quarter of the shortest, within [50 ms, 1 s]."""
        shortest = min(self.header_timeout_s, self.body_timeout_s, self.keep_alive_s)
        if self.linger_s > 0:
            shortest = min(shortest, self.linger_s)
        return min(max(shortest / 4, 0.05), 1.0)
