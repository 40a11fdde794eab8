"""Inline SVG bar charts for the overview page (no script, no build step)."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

_ROW_PX = 26
_LABEL_PX = 230
_BAR_PX = 300


def bar_chart(title: str, rows: list[tuple[str, int]], *, href: str | None = None) -> str:
    """A horizontal bar chart; ``href`` (with ``{label}``) links each bar to a filtered list."""
    if not rows:
        return f'<p class="empty">{escape(title)}: nothing in this window.</p>'
    peak = max(value for _, value in rows) or 1
    height = _ROW_PX * len(rows) + 8
    width = _LABEL_PX + _BAR_PX + 80
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, value) in enumerate(rows):
        y = 4 + index * _ROW_PX
        bar = max(2, round(_BAR_PX * value / peak))
        row = (
            f'<text x="{_LABEL_PX - 8}" y="{y + 17}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{_LABEL_PX}" y="{y + 4}" width="{bar}" height="{_ROW_PX - 8}" rx="3"/>'
            f'<text x="{_LABEL_PX + bar + 6}" y="{y + 17}">{value:,}</text>'
        )
        if href is not None:
            link = escape(href.format(label=quote(label, safe="")))
            row = f'<a href="{link}"><title>{escape(label)}: {value:,}</title>{row}</a>'
        parts.append(row)
    parts.append("</svg>")
    return "".join(parts)
