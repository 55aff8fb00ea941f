"""The console's pages, rendered on the server; every outside value is escaped (`markup.esc`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from hookcore import _core
from hookcore.console.markup import (
    badge,
    body_view,
    csrf_field,
    duration,
    esc,
    href,
    layout,
    pairs,
    pretty,
    table,
    when,
)
from hookcore.envelope import Envelope
from hookcore.index import STATUSES
from hookcore.instances import InstanceView
from hookcore.integration import Integration
from hookcore.store import ExecutionView

EXECUTION_COLUMNS = ("Execution", "Status", "Customer", "Flow", "Received", "Duration", "Attempts")


def login(message: str | None = None) -> bytes:
    """The login form: one password field, posted (never in a URL)."""
    note = f'<p class="error" role="alert">{esc(message)}</p>' if message else ""
    form = (
        f'{note}<form method="post" action="/console/login" class="login">'
        '<label for="token">Admin token</label>'
        '<input type="password" id="token" name="token" autocomplete="current-password" required autofocus>'
        '<button type="submit">Log in</button></form>'
        '<p class="note">The admin token is HOOKCORE_ADMIN_TOKEN; <code>hookcore up</code> prints it.</p>'
    )
    return layout("Log in", form)


def error(status: int, message: str, csrf: str | None) -> bytes:
    return layout(f"Error {status}", f'<p class="error" role="alert">{esc(message)}</p>', csrf=csrf)


def execution_row(record: ExecutionView) -> str:
    """One row of the executions table (also what the live feed sends)."""
    link = href(f"/console/executions/{record.id}")
    return (
        f'<tr id="x-{esc(record.id)}" data-status="{esc(record.status)}">'
        f'<td><a href="{link}"><code>{esc(record.id)}</code></a></td>'
        f"<td>{badge(record.status)}</td><td>{esc(record.customer)}</td><td>{esc(record.flow)}</td>"
        f"<td>{esc(when(record.received_at))}</td>"
        f"<td>{esc(duration(record.started_at, record.finished_at))}</td>"
        f"<td>{record.attempts}</td></tr>"
    )


def executions(
    items: list[ExecutionView],
    counts: Mapping[str, int],
    filters: Mapping[str, str],
    next_cursor: str | None,
    first_page: bool,
    csrf: str,
) -> bytes:
    """The executions list: filters, counts per status, newest first, and the live feed on page one."""
    options = "".join(
        f'<option value="{s}"{" selected" if filters.get("status") == s else ""}>{s}</option>'
        for s in ("", *STATUSES)
    )

    def field(name: str, label: str, kind: str = "text") -> str:
        step = ' step="1"' if kind == "datetime-local" else ""
        value = esc(filters.get(name, ""))
        return f'<label>{label} <input type="{kind}" name="{name}" value="{value}"{step}></label>'

    form = (
        '<form method="get" action="/console/" class="filters">'
        f"{field('customer', 'Customer')}{field('flow', 'Flow')}"
        f'<label>Status <select name="status">{options}</select></label>'
        f"{field('since', 'Since (UTC)', 'datetime-local')}{field('until', 'Until (UTC)', 'datetime-local')}"
        '<button type="submit">Filter</button> <a href="/console/">Clear</a></form>'
    )
    shown = [s for s in STATUSES if not filters.get("status") or filters["status"] == s]
    tally = " ".join(
        f'<span class="count">{badge(s)} <span id="count-{s}">{counts.get(s, 0)}</span></span>' for s in shown
    )
    live = ""
    if first_page:
        live = f' data-events="{href("/console/events", dict(filters))}"'
    rows = table(EXECUTION_COLUMNS, (execution_row(r) for r in items), f' id="executions"{live}')
    empty = "" if items else '<p class="note" id="none">No executions match.</p>'
    more = ""
    if next_cursor:
        more = (
            f'<p><a rel="next" href="{href("/console/", {**filters, "cursor": next_cursor})}">Older →</a></p>'
        )
    status_line = '<p class="note" id="live-state">Live updates need JavaScript; reload to refresh.</p>'
    content = f'{form}<p class="counts">{tally}</p>{status_line if first_page else ""}{rows}{empty}{more}'
    return layout("Executions", content, csrf=csrf, live=first_page)


def _link(execution_id: str) -> str:
    return f'<a href="{href(f"/console/executions/{execution_id}")}"><code>{esc(execution_id)}</code></a>'


def execution(
    record: ExecutionView,
    shown: Mapping[str, Any],
    request: Envelope | None,
    body: bytes | None,
    result: tuple[bytes, str] | None,
    csrf: str,
) -> bytes:
    """One execution: summary, replays, error, request, steps, logs and result.

    ``shown`` is the record as the API shows it (its ``replayOf``/``replayedAs`` when present).
    """
    summary = pairs(
        [
            ("Status", record.status),
            ("Integration", record.integration),
            ("Flow", record.flow),
            ("Customer", record.customer),
            ("Instance", record.instance),
            ("Received", when(record.received_at)),
            ("Started", when(record.started_at)),
            ("Finished", when(record.finished_at)),
            ("Duration", duration(record.started_at, record.finished_at)),
            ("Attempts", record.attempts),
        ]
    )
    replays = ""
    original = shown.get("replayOf")
    if isinstance(original, str):
        replays += f'<p class="replay-of">Replay of {_link(original)}</p>'
    copies = [c for c in shown.get("replayedAs") or () if isinstance(c, str)]
    if copies:
        replays += '<p class="replayed-as">Replayed as ' + ", ".join(_link(c) for c in copies) + "</p>"
    replay = (
        f'<form method="post" action="{href(f"/console/executions/{record.id}/replay")}" class="inline">'
        f'{csrf_field(csrf)}<button type="submit" id="replay">Replay</button></form>'
    )
    error_part = f'<h2>Error</h2><pre class="error">{esc(record.error)}</pre>' if record.error else ""
    content = (
        f'<section id="summary">{badge(record.status)} {replay}{replays}{summary}</section>{error_part}'
        f"{_request(record.id, request, body)}{_steps(record)}{_logs(record)}{_result(result)}"
    )
    return layout(f"Execution {record.id}", content, csrf=csrf)


def _request(execution_id: str, request: Envelope | None, body: bytes | None) -> str:
    if request is None:
        return '<h2>Request</h2><p class="note">The stored request has expired.</p>'
    query = _core.parse_query(request.query) if request.query else {}
    query_rows = (
        f"<tr><td>{esc(name)}</td><td>{esc(', '.join(v) if isinstance(v, list) else v)}</td></tr>"
        for name, v in query.items()
    )
    header_rows = (f"<tr><td>{esc(n)}</td><td>{esc(v)}</td></tr>" for n, v in request.headers.items())
    info = pairs(
        [
            ("Method", request.method),
            ("Path fragment", request.path),
            ("Query string", request.query),
            ("Content type", request.content_type or ""),
            ("Body bytes", "" if body is None else len(body)),
        ]
    )
    if body is None:
        body_part = '<p class="note">The body has expired.</p>'
    else:
        kind, view = body_view(body, request.content_type)
        download = href(f"/console/executions/{execution_id}/body")
        body_part = (
            f'<p>Shown as {esc(kind)}. <a href="{download}" download>Download the raw bytes</a></p>'
            f'<div id="body">{view}</div>'
        )
    return (
        f'<section id="request"><h2>Request</h2>{info}'
        f"<h3>Query parameters</h3>{table(('Name', 'Value'), query_rows) if query else '<p>None.</p>'}"
        f"<h3>Headers</h3>{table(('Name', 'Value'), header_rows)}"
        f"<h3>Body</h3>{body_part}</section>"
    )


def _steps(record: ExecutionView) -> str:
    rows = (
        f"<tr><td>{esc(s.name)}</td><td>{esc(when(s.started_at))}</td>"
        f"<td>{esc(duration(s.started_at, s.finished_at))}</td><td><pre>{pretty(s.result)}</pre></td></tr>"
        for s in record.steps
    )
    steps = table(("Step", "Started", "Duration", "Result"), rows) if record.steps else "<p>No steps.</p>"
    return f'<section id="steps"><h2>Steps</h2>{steps}</section>'


def _logs(record: ExecutionView) -> str:
    rows = (
        f'<tr class="log-{esc(line.level)}"><td>{esc(when(line.at))}</td><td>{esc(line.level)}</td>'
        f"<td><pre>{esc(line.message)}</pre></td></tr>"
        for line in record.logs
    )
    logs = table(("At", "Level", "Message"), rows) if record.logs else "<p>No log lines.</p>"
    return f'<section id="logs"><h2>Logs</h2>{logs}</section>'


def _result(result: tuple[bytes, str] | None) -> str:
    if result is None:
        return ""
    data, content_type = result
    kind, view = body_view(data, content_type)
    about = f"<p>{esc(content_type)}, shown as {esc(kind)}.</p>"
    return f'<section id="result"><h2>Result</h2>{about}{view}</section>'


def instances(views: Iterable[InstanceView], apps: Mapping[str, Integration], csrf: str) -> bytes:
    """Customers, their instances, webhook URLs, configured rate limits and API keys."""
    sections = []
    for view in sorted(views, key=lambda v: (v.customer, v.integration, v.created_at)):
        app = apps.get(view.integration)
        rows = []
        for flow, url in view.webhook_urls.items():
            rows.append(
                f"<tr><td>{esc(flow)}</td><td><code>{esc(url)}</code></td>"
                f"<td>{esc(_rate(app, flow))}</td><td>{_keys(view, flow, app, csrf)}</td></tr>"
            )
        invoke = f"<p>Shared URL: <code>{esc(view.invoke_url)}</code></p>" if view.invoke_url else ""
        sections.append(
            f'<section class="instance" id="i-{esc(view.id)}">'
            f"<h2>{esc(view.customer)} · {esc(view.integration)}</h2>"
            + pairs([("Instance", view.id), ("Name", view.name), ("Created", when(view.created_at))])
            + invoke
            + table(("Flow", "Webhook URL", "Rate limit", "API keys"), rows)
            + "</section>"
        )
    content = "".join(sections) or "<p>No instances are deployed.</p>"
    note = (
        '<p class="note">Rate limits are the configured ones (token bucket per endpoint, and per '
        "customer on a shared endpoint); the buckets' current levels live in each ingress machine's "
        "shared table and are not shown.</p>"
    )
    return layout("Instances", note + content, csrf=csrf)


def _rate(app: Integration | None, flow: str) -> str:
    if app is None:
        return "integration not loaded"
    declared = app.flows.get(flow)
    rate = (declared.rate_limit if declared else None) or app.rate_limit
    burst = (declared.burst if declared else None) or app.burst or math.ceil(rate)
    return f"{rate:g}/s, burst {burst}"


def _keys(view: InstanceView, flow: str, app: Integration | None, csrf: str) -> str:
    action = href(f"/console/instances/{view.id}/api-keys")
    revoke = href(f"/console/instances/{view.id}/api-keys/revoke")
    items = "".join(
        f'<li><code>{esc(key)}</code><form method="post" action="{revoke}" class="inline">'
        f'{csrf_field(csrf)}<input type="hidden" name="key" value="{esc(key)}">'
        '<button type="submit">Revoke</button></form></li>'
        for key in view.webhook_api_keys.get(flow, ())
    )
    declared = app.flows.get(flow) if app is not None else None
    create = ""
    if declared is not None and declared.api_keys:
        create = (
            f'<form method="post" action="{action}" class="inline">{csrf_field(csrf)}'
            f'<input type="hidden" name="flow" value="{esc(flow)}">'
            '<button type="submit">New key</button></form>'
        )
    return f"<ul>{items}</ul>{create}" if items or create else "none"
