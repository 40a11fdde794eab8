"""Server-rendered HTML pages of the explorer: overview, call list, call page, login.

Plain strings with every value escaped; the stylesheet and a little script
are committed under ``static/`` and served by the same process, so nothing is
built at run time. Keyboard: ``/`` focuses the search box, ``j``/``k`` move
between rows or timeline steps, Enter opens the focused link.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote, urlencode

from processor.explorer.charts import bar_chart
from processor.explorer.models import AlertView, CallDetail, CallPage, EventView, Stats, iso
from processor.explorer.query import OUTCOMES, STATUSES, VERDICTS

_WINDOWS = (("1 h", 3600), ("24 h", 86400), ("7 days", 604800))


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def _call_link(call_id: str) -> str:
    return f'<a href="/ui/calls/{quote(call_id, safe="")}">{_e(call_id)}</a>'


def _time(ms: int | None) -> str:
    if ms is None:
        return "—"
    text = iso(ms) or ""
    return f'<time datetime="{text}">{text.replace("T", " ").replace("+00:00", " UTC")}</time>'


def _duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    return f"{ms / 1000:.1f} s" if ms < 120_000 else f"{ms / 60000:.1f} min"


def _layout(title: str, body: str, *, search: str = "") -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} · Recho call explorer</title>
<link rel="stylesheet" href="/static/explorer.css">
<script src="/static/explorer.js" defer></script>
</head><body>
<header><nav>
<a class="brand" href="/">Recho call explorer</a>
<a href="/">Overview</a><a href="/ui/calls">Calls</a>
<form class="search" action="/ui/search" method="get" role="search">
<label for="search-call-id" class="sr">Call id</label>
<input id="search-call-id" name="callId" placeholder="Find a call by callId  ( / )"
 value="{_e(search)}" autocomplete="off" required>
<button type="submit">Find</button></form>
</nav></header>
<main>{body}</main>
<footer>JSON: <a href="/openapi.json">/openapi.json</a> · keys: <kbd>/</kbd> search,
<kbd>j</kbd>/<kbd>k</kbd> next/previous, <kbd>Enter</kbd> open</footer>
</body></html>"""


def _badge(kind: str, value: str | None) -> str:
    if value is None:
        return '<span class="badge open">OPEN</span>'
    return f'<span class="badge {kind}-{_e(value)}">{_e(value)}</span>'


def overview_page(stats: Stats, recent: CallPage, now_ms: int) -> str:
    """Outcome and error-code charts, unexpected transitions, answer time, latest calls."""
    windows = " ".join(
        f'<a class="window" href="/?since={now_ms - seconds * 1000}">{label}</a>'
        for label, seconds in _WINDOWS
    )
    outcomes = bar_chart(
        "Calls by outcome",
        list(stats.by_outcome.items()),
        href="/ui/calls?outcome={label}",
    )
    codes = bar_chart(
        "Errors by code",
        list(stats.by_error_code.items()),
        href="/ui/calls?errorCode={label}",
    )
    transitions = "".join(
        f"<tr><td>{_badge('verdict', t.verdict)}</td><td>{_e(t.from_status)} → "
        f"{_e(t.to_status)}</td><td class='num'>{t.count:,}</td></tr>"
        for t in stats.unexpected_transitions
    )
    answer = stats.time_to_answer
    body = f"""
<h1>Overview <small>since {_time(stats.since_ms)}</small></h1>
<p class="windows">Window: {windows}</p>
<section class="tiles">
<div class="tile"><b>{stats.calls:,}</b><span>calls</span></div>
<div class="tile"><b>{sum(stats.by_error_code.values()):,}</b><span>errors</span></div>
<div class="tile"><b>{_duration(answer.p50_ms)}</b><span>time to answer p50</span></div>
<div class="tile"><b>{_duration(answer.p95_ms)}</b><span>time to answer p95</span></div>
</section>
<div class="grid">
<section><h2>Outcomes</h2>{outcomes}</section>
<section><h2>Error codes</h2>{codes}</section>
</div>
<section><h2>Unexpected transitions</h2>
{
        "<table><thead><tr><th>verdict</th><th>step</th><th>events</th></tr></thead><tbody>"
        + transitions
        + "</tbody></table>"
        if transitions
        else '<p class="empty">None.</p>'
    }
</section>
<section><h2>Latest calls</h2>{_calls_table(recent)}
<p><a href="/ui/calls">All calls →</a></p></section>"""
    return _layout("Overview", body)


def _calls_table(page: CallPage) -> str:
    if not page.calls:
        return '<p class="empty">No calls match.</p>'
    rows = "".join(
        f"<tr data-nav><td>{_call_link(c.call_id)}</td><td>{_time(c.first_seen_ms)}</td>"
        f"<td>{_e(c.direction)}</td><td>{_e(c.status)}</td><td>{_badge('outcome', c.outcome)}</td>"
        f"<td class='num'>{c.attempts}</td><td class='num'>{c.events_seen}</td>"
        f"<td class='num {'bad' if c.error_count else ''}'>{c.error_count}</td>"
        f"<td>{_duration(c.duration_ms)}</td></tr>"
        for c in page.calls
    )
    return (
        '<table class="calls"><thead><tr><th>call</th><th>first seen</th><th>direction</th>'
        "<th>status</th><th>outcome</th><th>attempts</th><th>events</th><th>errors</th>"
        f"<th>duration</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _select(name: str, label: str, options: tuple[str, ...], chosen: str | None) -> str:
    items = "".join(
        f'<option value="{_e(o)}"{" selected" if o == chosen else ""}>{_e(o) or "any"}</option>'
        for o in ("", *options)
    )
    return f'<label>{label}<select name="{name}">{items}</select></label>'


def _input(name: str, label: str, chosen: str | None, placeholder: str = "") -> str:
    return (
        f'<label>{label}<input name="{name}" value="{_e(chosen)}" '
        f'placeholder="{_e(placeholder)}"></label>'
    )


def list_page(page: CallPage, chosen: dict[str, str]) -> str:
    """The filter form and one page of calls, with a link to the next page."""
    form = (
        '<form class="filters" action="/ui/calls" method="get">'
        + _input("projectId", "project", chosen.get("projectId"))
        + _select("status", "status", STATUSES, chosen.get("status"))
        + _select("outcome", "outcome", OUTCOMES, chosen.get("outcome"))
        + _select("hasErrors", "errors", ("true", "false"), chosen.get("hasErrors"))
        + _select("verdict", "verdict", VERDICTS, chosen.get("verdict"))
        + _input("errorCode", "error code", chosen.get("errorCode"), "NETWORK_ERROR")
        + _input("since", "since", chosen.get("since"), "2026-06-01T09:00Z")
        + _input("until", "until", chosen.get("until"))
        + '<button type="submit">Filter</button> <a href="/ui/calls">clear</a></form>'
    )
    more = ""
    if page.next_cursor:
        query = urlencode({**chosen, "cursor": page.next_cursor})
        more = f'<p><a rel="next" href="/ui/calls?{_e(query)}">Next page →</a></p>'
    return _layout("Calls", f"<h1>Calls</h1>{form}{_calls_table(page)}{more}")


def _errors(event: EventView) -> str:
    if not event.errors:
        return ""
    items = "".join(
        f"<li><b>{_e(x.code)}</b> {_e(x.message)} <span class='meta'>phase {_e(x.phase)} · "
        f"where {_e(x.where)} · {_e(x.timestamp)}</span> "
        f'<a href="/ui/calls?errorCode={quote(x.code or "", safe="")}">other calls</a></li>'
        for x in event.errors
    )
    return (
        f'<details class="errors" open><summary>{len(event.errors)} error'
        f"{'s' if len(event.errors) > 1 else ''}</summary><ul>{items}</ul></details>"
    )


def _alert_links(alerts: list[AlertView]) -> str:
    return "".join(
        f'<a class="alert-link sev-{_e(a.severity)}" href="#alert-{_e(a.alert_id)}">'
        f"alert {_e(a.kind)}</a>"
        for a in alerts
    )


def _step(event: EventView) -> str:
    marked = event.verdict != "EXPECTED"
    flags = "".join(f'<span class="flag">{_e(f)}</span>' for f in event.flags)
    return f"""<li id="event-{_e(event.event_ref)}" class="step{" marked" if marked else ""}{
        " errored" if event.has_errors else ""
    }" data-nav tabindex="-1">
<div class="when">{_time(event.at_ms)}</div>
<div class="what"><span class="transition">{_e(event.previous_status)} →
<b>{_e(event.status)}</b></span>
{_badge("verdict", event.verdict) if marked else ""}
<span class="etype">{_e(event.event_type_raw or event.event_type)}</span>
<span class="meta">callStatus {_e(event.call_status)} · input {_e(event.event_ref)}</span>
{flags}{_alert_links(event.alerts)}{_errors(event)}</div></li>"""


def call_page(call: CallDetail) -> str:
    """Summary, the timeline as a sequence of states, and the alerts."""
    history = " → ".join(f"<span>{_e(h.status)}</span>" for h in call.history) or "—"
    codes = ", ".join(
        f'<a href="/ui/calls?errorCode={quote(c, safe="")}">{_e(c)}</a>' for c in call.error_codes
    )
    alerts = "".join(
        f'<li id="alert-{_e(a.alert_id)}" data-nav tabindex="-1"><span class="badge sev-'
        f'{_e(a.severity)}">{_e(a.severity)}</span> <b>{_e(a.kind)}</b> {_time(a.at_ms)} '
        f"{_e(a.summary)} "
        + (f'<a href="#event-{_e(a.event_ref)}">event {_e(a.event_ref)}</a>' if a.event_ref else "")
        + "</li>"
        for a in call.alerts
    )
    pending = "" if call.state_known else '<p class="note">The call state has not arrived yet.</p>'
    body = f"""
<h1>Call <code>{_e(call.call_id)}</code> {_badge("outcome", call.outcome)}</h1>{pending}
<dl class="summary">
<dt>status</dt><dd>{_e(call.status)}</dd>
<dt>project</dt><dd><a href="/ui/calls?projectId={quote(call.project_id or "", safe="")}">{
        _e(call.project_id)
    }</a></dd>
<dt>direction</dt><dd>{_e(call.direction)}</dd>
<dt>attempts</dt><dd>{call.attempts}</dd>
<dt>events</dt><dd>{call.events_seen}</dd>
<dt>errored events</dt><dd>{call.error_count} {codes}</dd>
<dt>first seen</dt><dd>{_time(call.first_seen_ms)}</dd>
<dt>last seen</dt><dd>{_time(call.last_seen_ms)}</dd>
<dt>duration</dt><dd>{_duration(call.duration_ms)}</dd>
<dt>time to answer</dt><dd>{_duration(call.time_to_answer_ms)}</dd>
<dt>stalled</dt><dd>{"yes" if call.stalled else "no"}</dd>
<dt>states entered</dt><dd class="history">{history}</dd>
</dl>
<section><h2>Timeline</h2>
<p class="legend">Expected steps are plain; <span class="badge verdict-UNEXPECTED_TRANSITION">
UNEXPECTED_TRANSITION</span> <span class="badge verdict-AFTER_TERMINAL">AFTER_TERMINAL</span>
<span class="badge verdict-DUPLICATE">DUPLICATE</span> are marked.</p>
<ol class="timeline">{"".join(_step(e) for e in call.timeline)}</ol></section>
<section><h2>Alerts</h2>{
        f'<ul class="alerts">{alerts}</ul>'
        if alerts
        else '<p class="empty">No alert was raised.</p>'
    }</section>
<p><a href="/calls/{quote(call.call_id, safe="")}">This call as JSON</a></p>"""
    return _layout(f"Call {call.call_id}", body, search=call.call_id)


def login_page(next_page: str, *, failed: bool) -> str:
    """The token form: the token is kept in an HttpOnly cookie afterwards."""
    note = '<p class="bad">That token is not accepted.</p>' if failed else ""
    body = f"""<h1>Sign in</h1>{note}
<form class="login" action="/login" method="post">
<input type="hidden" name="next" value="{_e(next_page)}">
<label>Explorer token <input type="password" name="token" autofocus required></label>
<button type="submit">Sign in</button></form>"""
    return _layout("Sign in", body)


def error_page(status: int, message: str) -> str:
    """A readable page for 400 and 404 answers."""
    return _layout(f"{status}", f'<h1>{status}</h1><p class="bad">{_e(message)}</p>')
