"""Deliver one webhook like the platform: sign it, POST it, retry until a 2xx or give up.

The simulator's HTTP edge (scenarios -> runner -> **sender** -> ingress). One pooled
``httpx.AsyncClient`` per run; every attempt is signed afresh in the configured auth mode
(spec §2), so a late retry carries a current ``X-Recho-Timestamp`` and passes the ingress's
replay window. The body bytes never change between attempts.

Retry policy. The platform retries every non-2xx with exponential backoff; its numbers are
unconfirmed (spec §6 q3). The simulator:

* treats any 2xx as accepted;
* retries 5xx, 408, 425, 429 and transport errors (refused, reset, timeout) with exponential
  backoff and equal jitter (:data:`DEFAULT_RETRY`, a :class:`~processor.retry.RetryPolicy`):
  before retry ``n`` it waits between half and all of ``min(cap_s, base_s * 2**(n-1))``,
  and at least the ``Retry-After`` the ingress asked for (capped at ``cap_s``); after
  ``max_attempts`` attempts, or when the next wait would pass ``budget_s`` since the first
  attempt, it gives up;
* rejects every other status (400, 401, 403, 413, 415, 3xx, ...) at once. Unlike the
  platform it does not retry those: the ingress answers the same bytes the same way, so a
  retry only hides a misconfiguration (a wrong key or token) behind minutes of backoff.
  Rejections are counted by status, so a misconfigured run shows at once.

Foreign errors stay inside: a transport failure becomes a :class:`Delivery` with
``status=None``; a missing token or an unreadable key is a
:class:`~processor.errors.ConfigError` when the sender is built.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import httpx

from processor.errors import ConfigError
from processor.retry import Jitter, RetryPolicy, is_retriable_status, parse_retry_after
from processor.settings import AuthMode, Settings
from processor.simulate.pacing import UNPACED, Pacing
from processor.simulate.signer import (
    PRIVATE_KEY_SUFFIX,
    PUBLIC_KEY_SUFFIX,
    Signer,
    generate_key_pair,
)

DEFAULT_KEY_DIR: Final = Path(".recho-dev-keys")
"""Where the development key pair lives when ``simulate_key_dir`` is not set."""
KEY_NAME: Final = "recho-dev"
TRANSPORT_ERROR: Final = "transport"
"""The status label of an attempt that got no HTTP answer."""
USER_AGENT: Final = "recho-simulator/1"
POOL_CONNECTIONS: Final = 16
"""Most connections per httpx pool (see :meth:`Sender.open`)."""


DEFAULT_RETRY: Final = RetryPolicy(
    budget_s=120.0,
    base_s=0.25,
    cap_s=15.0,
    max_attempts=8,
    jitter=Jitter.EQUAL,
    retry_after_within_cap=True,
)
"""How often and how patiently one webhook is re-sent (see the module docstring)."""
REQUEST_TIMEOUT_S: Final = 10.0
"""How long one attempt may take before it counts as a transport error."""


class DeliveryResult(StrEnum):
    """How the delivery of one webhook ended."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    """A status that is not retried (see the module docstring)."""
    GAVE_UP = "gave_up"
    """Retriable failures until the attempts or the time ran out."""
    STOPPED = "stopped"
    """The run stopped before an attempt could succeed; nothing more was sent."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """The end of one webhook's delivery."""

    result: DeliveryResult
    status: int | None
    """The last HTTP status; None if the last attempt got no answer (or none was made)."""
    attempts: int
    latency_s: float
    """Duration of the last attempt."""
    error: str | None = None
    """The transport error's class name when the last attempt got no answer."""

    @property
    def label(self) -> str:
        """The last answer as a bounded label: ``"202"``, ``"401"`` or ``"transport"``."""
        return TRANSPORT_ERROR if self.status is None else str(self.status)


AttemptHook = Callable[[str, float], None]
"""Called after every attempt with its status label and duration in seconds."""


def key_pair_paths(settings: Settings) -> tuple[Path, Path]:
    """Where the simulator's (private, public) key files are or will be."""
    folder = settings.simulate_key_dir or DEFAULT_KEY_DIR
    return folder / f"{KEY_NAME}{PRIVATE_KEY_SUFFIX}", folder / f"{KEY_NAME}{PUBLIC_KEY_SUFFIX}"


def ensure_key_pair(settings: Settings) -> tuple[Path, Path]:
    """The simulator's RSA key pair, generated into ``simulate_key_dir`` if missing.

    Point the ingress at the folder (``--auth-public-keys-dir``) to trust it.
    """
    private, _ = key_pair_paths(settings)
    try:
        return generate_key_pair(private.parent, KEY_NAME)
    except OSError as exc:
        raise ConfigError(f"cannot create the key pair in {private.parent}: {exc}") from exc


class Credentials:
    """The auth headers of one attempt, in the configured mode."""

    __slots__ = ("_mode", "_signer", "_token")

    def __init__(
        self, mode: AuthMode, *, token: str | None = None, signer: Signer | None = None
    ) -> None:
        if mode is AuthMode.BEARER and not token:
            raise ConfigError("BEARER mode needs simulate_bearer_token")
        if mode is AuthMode.SIGNATURE_RSA_SHA256 and signer is None:
            raise ConfigError("SIGNATURE_RSA_SHA256 mode needs a private key")
        self._mode = mode
        self._token = token
        self._signer = signer

    @classmethod
    def from_settings(cls, settings: Settings) -> Credentials:
        """Credentials for ``settings.auth_mode``; makes the key pair if it is missing."""
        mode = settings.auth_mode
        if mode is AuthMode.SIGNATURE_RSA_SHA256:
            private, _ = ensure_key_pair(settings)
            return cls(mode, signer=Signer.from_pem_file(private))
        token = settings.simulate_bearer_token
        return cls(mode, token=token.get_secret_value() if token else None)

    @property
    def mode(self) -> AuthMode:
        """The auth mode these credentials sign for."""
        return self._mode

    def headers(self, body: bytes, now_s: int) -> dict[str, str]:
        """The auth headers for ``body`` sent at ``now_s`` (epoch seconds)."""
        if self._signer is not None and self._mode is AuthMode.SIGNATURE_RSA_SHA256:
            return self._signer.sign(body, now_s)
        if self._token is not None and self._mode is AuthMode.BEARER:
            return Signer.bearer_headers(self._token)
        return {}


def check_target_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL; ConfigError otherwise."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"simulate_target_url {url!r} is not a URL: {exc}") from exc
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise ConfigError(f"simulate_target_url {url!r} must be an absolute http(s) URL")
    return url


class Sender:
    """Delivers webhook bodies to one URL with retries; share one per run (it pools)."""

    def __init__(
        self,
        client: httpx.AsyncClient | Sequence[httpx.AsyncClient],
        url: str,
        credentials: Credentials,
        *,
        retry: RetryPolicy | None = None,
        on_attempt: AttemptHook | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clients = [client] if isinstance(client, httpx.AsyncClient) else list(client)
        if not self._clients:
            raise ValueError("a sender needs at least one client")
        self._url = check_target_url(url)
        self._credentials = credentials
        self._retry = retry or DEFAULT_RETRY
        self._on_attempt = on_attempt
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not a secret)
        self._clock = clock

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        on_attempt: AttemptHook | None = None,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> AsyncIterator[Sender]:
        """A sender for ``settings`` with its own connection pools, closed on exit.

        One connection per concurrent call (each call has at most one request in flight),
        up to 1000, split into pools of at most :data:`POOL_CONNECTIONS`: httpx's pool
        scans all its connections for every request, so one big pool costs more CPU per
        request than the simulator spends on anything else.
        """
        url = check_target_url(settings.simulate_target_url)
        credentials = await asyncio.to_thread(Credentials.from_settings, settings)
        total = min(settings.simulate_concurrent_calls, 1000)
        pools = math.ceil(total / POOL_CONNECTIONS)
        size = math.ceil(total / pools)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        # pool=None: waiting for a free connection is our own back-pressure, not a failure.
        timeout = httpx.Timeout(request_timeout_s, pool=None)
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                # trust_env=False: settings are the only configuration (no proxy variables).
                await stack.enter_async_context(
                    httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False)
                )
                for _ in range(pools)
            ]
            yield cls(clients, url, credentials, retry=retry, on_attempt=on_attempt)

    async def send(self, body: bytes, pacing: Pacing = UNPACED, *, lane: int = 0) -> Delivery:
        """Deliver ``body`` until accepted, rejected, given up or stopped.

        ``lane`` picks the connection pool (e.g. the call's number), spreading calls evenly.
        """
        loop = asyncio.get_running_loop()
        client = self._clients[lane % len(self._clients)]
        first_at: float | None = None
        attempts = 0
        status: int | None = None
        error: str | None = None
        latency = 0.0
        while True:
            if await pacing.before_attempt():
                return Delivery(DeliveryResult.STOPPED, status, attempts, latency, error)
            attempts += 1
            started = loop.time()
            first_at = started if first_at is None else first_at
            retry_after: float | None = None
            try:
                response = await client.post(self._url, content=body, headers=self._headers(body))
            except httpx.RequestError as exc:
                status, error = None, type(exc).__name__
            else:
                status, error = response.status_code, None
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            latency = loop.time() - started
            label = TRANSPORT_ERROR if status is None else str(status)
            if self._on_attempt is not None:
                self._on_attempt(label, latency)
            if status is not None and 200 <= status < 300:
                return Delivery(DeliveryResult.ACCEPTED, status, attempts, latency)
            if status is not None and not is_retriable_status(status):
                return Delivery(DeliveryResult.REJECTED, status, attempts, latency)
            delay = self._retry.delay_s(attempts, self._rng, retry_after)
            if self._retry.exhausted(attempts, loop.time() + delay - first_at):
                return Delivery(DeliveryResult.GAVE_UP, status, attempts, latency, error)
            if await pacing.pause(delay):
                return Delivery(DeliveryResult.STOPPED, status, attempts, latency, error)

    def _headers(self, body: bytes) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **self._credentials.headers(body, int(self._clock())),
        }
