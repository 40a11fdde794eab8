"""The explorer's HTTP side: a plain ASGI app for the JSON API, the web pages and ops routes.

Routes: ``GET /calls/{callId}``, ``GET /calls``, ``GET /stats`` (JSON);
``GET /`` (overview), ``/ui/calls``, ``/ui/calls/{callId}``, ``/ui/search``
(HTML), ``/static/*``; ``/healthz``, ``/readyz``, ``/metrics``,
``/openapi.json``. Bad parameters get a 400 naming the field, unknown calls a
404, a store that cannot answer a 503 with Retry-After.

Auth is the ingress's bearer check (:class:`~processor.ingress.auth.Authenticator`):
any of ``explorer_tokens`` is accepted, so tokens rotate by adding the new
one first. Browsers present it once on ``/login`` and then carry it in an
HttpOnly, SameSite=Strict cookie. Without tokens there is no auth, which
:func:`check_exposure` allows only on a loopback address.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from importlib import resources
from pathlib import PurePosixPath
from urllib.parse import parse_qs, quote

import orjson
from pydantic import BaseModel

from processor import metrics
from processor.errors import AuthError, ConfigError
from processor.explorer import web
from processor.explorer.exceptions import QueryError, StoreError
from processor.explorer.openapi import build_openapi
from processor.explorer.query import (
    CALL_FILTERS,
    parse_call_query,
    parse_stats_since,
    validate_call_id,
)
from processor.explorer.store import CallQuery, Store
from processor.explorer.views import build_call, build_page, build_stats
from processor.http.asgi import Receive, Scope, Send
from processor.http.metrics_endpoint import render_metrics
from processor.ingress.auth import Authenticator
from processor.settings import AuthMode, Settings

COOKIE = "recho_explorer_token"
JSON = b"application/json"
HTML = b"text/html; charset=utf-8"
_STATIC_TYPES = {".css": b"text/css; charset=utf-8", ".js": b"text/javascript; charset=utf-8"}
_MAX_FORM_BYTES = 4096


@dataclass(slots=True)
class Response:
    """A complete answer."""

    status: int
    body: bytes
    content_type: bytes = JSON
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def problem(status: int, error: str, message: str, field_name: str | None = None) -> Response:
    """A JSON :class:`~processor.explorer.models.Problem` answer."""
    body: dict[str, str] = {"error": error, "message": message}
    if field_name is not None:
        body["field"] = field_name
    return Response(status, orjson.dumps(body))


def _json(model: BaseModel) -> Response:
    return Response(200, model.model_dump_json(by_alias=True).encode())


def _redirect(location: str, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(303, b"", HTML, [(b"location", location.encode()), *(headers or [])])


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> Authenticator | None:
    """The token check, or None (no auth) when that is safe; ConfigError when it is not."""
    tokens = [t.get_secret_value() for t in settings.explorer_tokens]
    if tokens:
        return Authenticator(AuthMode.BEARER, bearer_tokens=tokens)
    if not is_loopback(settings.explorer_host):
        raise ConfigError(
            f"explorer_host {settings.explorer_host} is not a loopback address: set "
            "PROCESSOR_EXPLORER_TOKENS (the explorer shows call data)"
        )
    return None


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers", [])}


def _cookie_token(headers: dict[bytes, bytes]) -> bytes | None:
    raw = headers.get(b"cookie")
    if not raw:
        return None
    try:
        jar: SimpleCookie = SimpleCookie(raw.decode("latin-1"))
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value.encode() if morsel is not None else None


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


class ExplorerApp:
    """ASGI app of ``processor explorer``."""

    def __init__(self, settings: Settings, store: Store, ready: Callable[[], bool]) -> None:
        self._store = store
        self._ready = ready
        self._auth = check_exposure(settings)
        self._openapi = orjson.dumps(build_openapi())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        route, response = "other", None
        try:
            route, response = await self._dispatch(scope, receive)
        except QueryError as exc:
            response = problem(400, "bad_query", exc.message, exc.field)
        except StoreError:
            response = problem(503, "store_unavailable", "the query store cannot answer now")
            response.headers.append((b"retry-after", b"1"))
        is_page = scope["path"] == "/" or scope["path"].startswith(("/ui/", "/login"))
        if is_page and response.status >= 400 and response.content_type == JSON:
            response = self._html_error(response)
        metrics.EXPLORER_QUERY_DURATION.labels(route).observe(time.perf_counter() - started)
        headers = [
            (b"content-type", response.content_type),
            (b"content-length", str(len(response.body)).encode()),
            (b"x-content-type-options", b"nosniff"),
            *response.headers,
        ]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _html_error(self, response: Response) -> Response:
        detail = orjson.loads(response.body)
        message = detail.get("message", "")
        if detail.get("field"):
            message = f"{detail['field']}: {message}"
        page = web.error_page(response.status, message)
        return Response(response.status, page.encode(), HTML, response.headers)

    async def _dispatch(self, scope: Scope, receive: Receive) -> tuple[str, Response]:
        method: str = scope["method"]
        path: str = scope["path"]
        params = parse_qs(
            scope.get("query_string", b"").decode("utf-8", "replace"), keep_blank_values=True
        )
        headers = _headers(scope)
        public = self._public(method, path)
        if public is not None:
            return "ops", public
        if path == "/login":
            return "page", await self._login(method, params, receive)
        if method not in ("GET", "HEAD"):
            return "other", problem(405, "method_not_allowed", f"{method} is not allowed here")
        api = path == "/calls" or path.startswith("/calls/") or path == "/stats"
        if not self._allowed(headers):
            if api:
                response = problem(401, "unauthorized", "a valid bearer token is required")
                response.headers.append((b"www-authenticate", b'Bearer realm="explorer"'))
                return "other", response
            target = path + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
            return "page", _redirect("/login?next=" + quote(target, safe=""))
        if api:
            return await self._api(path, params)
        return await self._page(path, params)

    def _public(self, method: str, path: str) -> Response | None:
        if method != "GET":
            return None
        if path == "/healthz":
            return Response(200, b'{"status":"alive"}')
        if path == "/readyz":
            ready = self._ready()
            return Response(200 if ready else 503, orjson.dumps({"ready": ready}))
        if path == "/metrics":
            body, content_type = render_metrics(metrics.EXPLORER_REGISTRY)
            return Response(200, body, content_type)
        if path == "/openapi.json":
            return Response(200, self._openapi)
        if path.startswith("/static/"):
            return _static(path.removeprefix("/static/"))
        return None

    def _allowed(self, headers: dict[bytes, bytes]) -> bool:
        if self._auth is None:
            return True
        cookie = _cookie_token(headers)
        presented = headers.get(b"authorization") or (b"Bearer " + cookie if cookie else None)
        try:
            self._auth.verify(
                authorization=presented, signature=None, timestamp=None, body=b"", now_s=0.0
            )
        except AuthError:
            return False
        return True

    async def _login(self, method: str, params: dict[str, list[str]], receive: Receive) -> Response:
        next_page = _safe_next(params.get("next", ["/"])[0])
        if method == "GET":
            return Response(200, web.login_page(next_page, failed=False).encode(), HTML)
        if method != "POST":
            return problem(405, "method_not_allowed", f"{method} is not allowed here")
        form = parse_qs((await _read_body(receive)).decode("utf-8", "replace"))
        token = form.get("token", [""])[0].strip()
        next_page = _safe_next(form.get("next", [next_page])[0])
        header = {b"authorization": b"Bearer " + token.encode()}
        if not token or not self._allowed(header):
            return Response(401, web.login_page(next_page, failed=True).encode(), HTML)
        cookie = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
        return _redirect(next_page, [(b"set-cookie", cookie.encode())])

    async def _api(self, path: str, params: dict[str, list[str]]) -> tuple[str, Response]:
        if path == "/stats":
            since_ms = parse_stats_since(params, int(time.time() * 1000))
            return "stats", _json(build_stats(await self._store.stats(since_ms), since_ms))
        if path == "/calls":
            query = parse_call_query(params)
            return "calls", _json(build_page(await self._store.list_calls(query), query.limit))
        call_id = validate_call_id(path.removeprefix("/calls/"))
        rows = await self._store.get_call(call_id)
        if rows is None:
            return "call", problem(404, "not_found", f"no call {call_id!r} is stored")
        return "call", _json(build_call(call_id, rows))

    async def _page(self, path: str, params: dict[str, list[str]]) -> tuple[str, Response]:
        if path == "/":
            now_ms = int(time.time() * 1000)
            since_ms = parse_stats_since(params, now_ms)
            stats = build_stats(await self._store.stats(since_ms), since_ms)
            recent = build_page(await self._store.list_calls(CallQuery(limit=15)), 15)
            page = web.overview_page(stats, recent, now_ms)
            return "page", Response(200, page.encode(), HTML)
        if path == "/ui/search":
            call_id = params.get("callId", [""])[0].strip()
            if not call_id:
                return "search", _redirect("/ui/calls")
            return "search", _redirect("/ui/calls/" + quote(validate_call_id(call_id), safe=""))
        if path == "/ui/calls":
            filters = {k: v for k, v in params.items() if k in CALL_FILTERS}
            query = parse_call_query(filters)
            listed = build_page(await self._store.list_calls(query), query.limit)
            chosen = {k: v[0] for k, v in filters.items() if k != "cursor"}
            return "page", Response(200, web.list_page(listed, chosen).encode(), HTML)
        if path.startswith("/ui/calls/"):
            call_id = validate_call_id(path.removeprefix("/ui/calls/"))
            rows = await self._store.get_call(call_id)
            if rows is None:
                return "page", problem(404, "not_found", f"No call {call_id!r} is stored.")
            return "page", Response(200, web.call_page(build_call(call_id, rows)).encode(), HTML)
        return "other", problem(404, "not_found", f"no route {path}")


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            raise QueryError("body", "form too large")
        if not message.get("more_body"):
            return body


def _static(name: str) -> Response:
    suffix = PurePosixPath(name).suffix
    if "/" in name or suffix not in _STATIC_TYPES:
        return problem(404, "not_found", f"no asset {name}")
    asset = resources.files("processor.explorer") / "static" / name
    if not asset.is_file():
        return problem(404, "not_found", f"no asset {name}")
    return Response(
        200, asset.read_bytes(), _STATIC_TYPES[suffix], [(b"cache-control", b"max-age=300")]
    )
