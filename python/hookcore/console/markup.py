"""HTML building blocks of the console: escaping, the page layout, times, and request bodies.

Every value that comes from outside (a request's headers and body, a flow's
logs and results, customer and flow names) goes through `esc` before it is
put in a page: the console displays hostile input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

SHOWN_BODY_BYTES = 256 * 1024
"""Bytes of a request body shown in the page; the download link gives all of them."""
HEX_ROW = 16


def esc(value: object) -> str:
    """``value`` as HTML text (quotes escaped too, so it is safe in attributes)."""
    return escape(str(value), quote=True)


def when(moment: datetime | None) -> str:
    """ISO 8601 UTC to the millisecond, as the API writes times."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    seconds = (end - start).total_seconds()
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def href(path: str, query: dict[str, str] | None = None) -> str:
    """An escaped URL for an attribute; empty query values are left out."""
    params = {k: v for k, v in (query or {}).items() if v}
    return esc(path + ("?" + urlencode(params) if params else ""))


def badge(status: str) -> str:
    return f'<span class="status status-{esc(status)}">{esc(status)}</span>'


def table(headings: Iterable[str], rows: Iterable[str], attrs: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headings)
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def pairs(items: Iterable[tuple[str, object]]) -> str:
    """A definition list of name -> value (values escaped)."""
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items)
    return f"<dl>{body}</dl>"


def pretty(value: Any) -> str:
    """A JSON-able value as indented JSON text (escaped)."""
    return esc(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def csrf_field(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(token)}">'


def layout(title: str, content: str, *, csrf: str | None = None, live: bool = False) -> bytes:
    """A whole page; ``csrf`` (the session's token) adds the navigation and the logout button."""
    nav = ""
    if csrf is not None:
        nav = (
            '<nav><a href="/console/">Executions</a> <a href="/console/instances">Instances</a>'
            '<form method="post" action="/console/logout" class="inline">'
            f'{csrf_field(csrf)}<button type="submit">Log out</button></form></nav>'
        )
    script = '<script src="/console/static/console.js" defer></script>' if live else ""
    return (
        "<!doctype html>"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · hookcore</title>"
        f'<link rel="stylesheet" href="/console/static/console.css">{script}</head>'
        f"<body><header><strong>hookcore</strong> console{nav}</header>"
        f"<main><h1>{esc(title)}</h1>{content}</main></body></html>"
    ).encode()


def body_view(data: bytes, content_type: str | None) -> tuple[str, str]:
    """How a request body is shown: (``json``, ``text``, ``binary`` or ``empty``, the HTML)."""
    if not data:
        return "empty", "<p>No body.</p>"
    shown = data[:SHOWN_BODY_BYTES]
    cut = (
        f'<p class="note">The first {len(shown)} of {len(data)} bytes are shown; download the body '
        "for all of them.</p>"
        if len(shown) < len(data)
        else ""
    )
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if (kind == "application/json" or kind.endswith("+json")) and len(shown) == len(data):
        try:
            return "json", f'<pre class="body body-json">{pretty(json.loads(data))}</pre>'
        except ValueError:
            pass  # shown as text or bytes below
    try:
        text = shown.decode()
    except UnicodeDecodeError as e:
        if e.start < len(shown) - 3:  # not just a character cut at the end
            return "binary", cut + f'<pre class="body body-hex">{esc(hex_dump(shown))}</pre>'
        text = shown[: e.start].decode()
    if any(c < " " and c not in "\t\r\n" for c in text):
        return "binary", cut + f'<pre class="body body-hex">{esc(hex_dump(shown))}</pre>'
    return "text", cut + f'<pre class="body body-text">{esc(text)}</pre>'


def hex_dump(data: bytes) -> str:
    """Offset, hex bytes and their printable ASCII, 16 bytes a line."""
    lines = []
    for offset in range(0, len(data), HEX_ROW):
        row = data[offset : offset + HEX_ROW]
        hexes = " ".join(f"{b:02x}" for b in row)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in row)
        lines.append(f"{offset:08x}  {hexes:<{HEX_ROW * 3 - 1}}  {text}")
    return "\n".join(lines)
