"""``/console/``: the web view of executions, behind the admin token (SPEC section 11).

Pages are rendered on the server (`hookcore.console.pages`) and work without
JavaScript; a little plain JS (``static/console.js``) adds the live feed.
Without a valid session cookie (`hookcore.console.session`) every page is the
login form (401) and no data is read. Forms that change something (replay,
API keys, logout) carry the session's CSRF token.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import msgspec

from hookcore import _core
from hookcore.apps import Apps
from hookcore.config import Settings
from hookcore.console import pages
from hookcore.console.live import feed
from hookcore.console.session import Session, Sessions
from hookcore.errors import BadRequest, BodyTooLarge, ErrorCode, HookcoreError, NotFound, QueueUnavailable
from hookcore.executions import Executions, id_at
from hookcore.http import ERROR_CODE_HEADER, read_body
from hookcore.index import STATUSES
from hookcore.instances import Instances
from hookcore.jetstream import JetStream
from hookcore.objects import body_object, get_object
from hookcore.store import ExecutionRecord, Records

log = logging.getLogger("hookcore.console")

PREFIX = "/console"
PAGE_SIZE = 50
MAX_FORM = 64 * 1024
MAX_FILTER = 200
"""Longest customer or flow filter accepted (characters)."""
FILTERS = ("customer", "flow", "status", "since", "until")

SECURITY_HEADERS = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cache-control", "no-store"),
]
HTML = [("content-type", "text/html; charset=utf-8"), *SECURITY_HEADERS]
STATIC_TYPES = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}


class ConsoleError(HookcoreError):
    """An answer other than the page: ``status``, a message for the page and its error code."""

    def __init__(
        self, status: int, message: str, code: ErrorCode, headers: list[tuple[str, str]] | None = None
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers or []


@dataclass(frozen=True, slots=True)
class Request:
    scope: Any
    proto: Any
    args: list[str]
    session: Session


Handler = Callable[[Request], Awaitable[None]]


class Console:
    """Routes ``/console`` and everything under it."""

    def __init__(
        self,
        settings: Settings,
        apps: Apps,
        jet: JetStream,
        instances: Instances,
        records: Records,
        executions: Executions,
    ) -> None:
        self._apps = apps
        self._jet = jet
        self._instances = instances
        self._records = records
        self._executions = executions
        self.sessions = Sessions(settings.admin_token, secure=settings.public_url.startswith("https://"))
        self._static = {
            name: (resources.files("hookcore.console") / "static" / name).read_bytes()
            for name in STATIC_TYPES
        }
        self._routes: dict[tuple[str, tuple[str, ...]], Handler] = {
            ("GET", ()): self._list,
            ("GET", ("events",)): self._events,
            ("GET", ("executions", "*")): self._show,
            ("GET", ("executions", "*", "body")): self._body,
            ("POST", ("executions", "*", "replay")): self._replay,
            ("GET", ("instances",)): self._list_instances,
            ("POST", ("instances", "*", "api-keys")): self._add_key,
            ("POST", ("instances", "*", "api-keys", "revoke")): self._revoke_key,
            ("POST", ("logout",)): self._logout,
        }

    async def handle(self, scope: Any, proto: Any) -> None:
        path: str = scope.path
        method: str = scope.method
        if path == PREFIX:
            _redirect(proto, PREFIX + "/")
            return
        segments = [s for s in path[len(PREFIX) + 1 :].split("/") if s]
        if segments[:1] == ["static"] and method in ("GET", "HEAD"):
            self._send_static(proto, segments[1:])
            return
        session = self.sessions.check(scope.headers.get("cookie"))
        csrf = None if session is None else self.sessions.csrf_token(session)
        try:
            if segments == ["login"]:
                await self._login(scope, proto, method, session)
                return
            if session is None:
                # Nothing is read or shown without a session: the login form, whatever was asked.
                raise ConsoleError(
                    401, "Log in with the admin token to use the console.", ErrorCode.LOGIN_REQUIRED
                )
            handler, args = self._match(method, segments, path)
            await handler(Request(scope, proto, args, session))
        except ConsoleError as e:
            page = pages.login(str(e)) if e.status == 401 else pages.error(e.status, str(e), csrf)
            _send(proto, e.status, page, [(ERROR_CODE_HEADER, e.code), *e.headers])
        except NotFound as e:
            _send(proto, 404, pages.error(404, str(e), csrf), [(ERROR_CODE_HEADER, ErrorCode.NOT_FOUND)])
        except BadRequest as e:
            _send(proto, 400, pages.error(400, str(e), csrf), [(ERROR_CODE_HEADER, ErrorCode.BAD_REQUEST)])
        except BodyTooLarge as e:
            _send(proto, 413, pages.error(413, str(e), csrf), [(ERROR_CODE_HEADER, ErrorCode.BODY_TOO_LARGE)])
        except QueueUnavailable as e:
            page = pages.error(503, f"JetStream is unavailable ({e}); try again shortly.", csrf)
            _send(proto, 503, page, [(ERROR_CODE_HEADER, ErrorCode.QUEUE_UNAVAILABLE), ("retry-after", "1")])
        except Exception:
            log.exception("%s %s failed", method, path)
            page = pages.error(500, "Internal error; the server log has the details.", csrf)
            _send(proto, 500, page, [(ERROR_CODE_HEADER, ErrorCode.INTERNAL_ERROR)])

    def _match(self, method: str, segments: list[str], path: str) -> tuple[Handler, list[str]]:
        allowed = []
        for (route_method, pattern), handler in self._routes.items():
            if len(pattern) == len(segments) and all(
                p == "*" or p == s for p, s in zip(pattern, segments, strict=True)
            ):
                if route_method == method:
                    return handler, [s for p, s in zip(pattern, segments, strict=True) if p == "*"]
                allowed.append(route_method)
        if allowed:
            raise ConsoleError(
                405,
                f"{method} is not allowed on {path}; use {', '.join(allowed)}.",
                ErrorCode.METHOD_NOT_ALLOWED,
                [("allow", ", ".join(allowed))],
            )
        raise ConsoleError(404, f"No console page {path}.", ErrorCode.NOT_FOUND)

    def _send_static(self, proto: Any, rest: list[str]) -> None:
        name = rest[0] if len(rest) == 1 else ""
        if name not in self._static:
            _send(
                proto,
                404,
                pages.error(404, "No such file.", None),
                [(ERROR_CODE_HEADER, ErrorCode.NOT_FOUND)],
            )
            return
        headers = [
            ("content-type", STATIC_TYPES[name]),
            *SECURITY_HEADERS[:-1],
            ("cache-control", "max-age=300"),
        ]
        proto.response_bytes(200, headers, self._static[name])

    # ------------------------------------------------------------------ session

    async def _login(self, scope: Any, proto: Any, method: str, session: Session | None) -> None:
        if method == "GET":
            if session is None:
                _send(proto, 200, pages.login())
            else:
                _redirect(proto, PREFIX + "/")
            return
        if method != "POST":
            raise ConsoleError(
                405,
                f"{method} is not allowed on /console/login; use GET, POST.",
                ErrorCode.METHOD_NOT_ALLOWED,
                [("allow", "GET, POST")],
            )
        form = await _form(scope, proto)
        if not self.sessions.password_matches(_field(form, "token") or ""):
            raise ConsoleError(401, "That is not the admin token.", ErrorCode.ADMIN_TOKEN_INVALID)
        _, cookie = self.sessions.issue()
        _redirect(proto, PREFIX + "/", [("set-cookie", cookie)])

    async def _logout(self, request: Request) -> None:
        await self._checked_form(request)
        _redirect(request.proto, PREFIX + "/", [("set-cookie", self.sessions.clear())])

    async def _checked_form(self, request: Request) -> dict[str, str | list[str]]:
        """The posted form, once its CSRF token is the session's."""
        form = await _form(request.scope, request.proto)
        if not self.sessions.csrf_matches(request.session, _field(form, "csrf")):
            raise ConsoleError(
                403,
                "The form's CSRF token is missing or stale; reload the page and try again.",
                ErrorCode.CSRF_INVALID,
            )
        return form

    # ------------------------------------------------------------------ executions

    async def _list(self, request: Request) -> None:
        query = _core.parse_query(request.scope.query_string)
        filters = _filters(query)
        cursor = _field(query, "cursor") or None
        before, after = _bounds(filters)
        if cursor is not None and before is not None:
            cursor = min(cursor, before)
        page = await self._executions.list(
            flow=filters.get("flow"),
            customer=filters.get("customer"),
            status=filters.get("status"),
            limit=PAGE_SIZE,
            cursor=cursor or before,
            after=after,
        )
        counts = await self._executions.counts(
            flow=filters.get("flow"), customer=filters.get("customer"), before=before, after=after
        )
        csrf = self.sessions.csrf_token(request.session)
        html = pages.executions(page.items, counts, filters, page.next, cursor is None, csrf)
        _send(request.proto, 200, html)

    async def _events(self, request: Request) -> None:
        filters = _filters(_core.parse_query(request.scope.query_string))
        before, after = _bounds(filters)

        def matches(record: ExecutionRecord) -> bool:
            return (
                all(
                    filters.get(name) in (None, getattr(record, name))
                    for name in ("customer", "flow", "status")
                )
                and (before is None or record.id < before)
                and (after is None or record.id > after)
            )

        last = request.scope.headers.get("last-event-id")
        await feed(request.proto, self._jet, last, SECURITY_HEADERS, matches, pages.execution_row)

    async def _show(self, request: Request) -> None:
        execution_id = request.args[0]
        record = await self._records.get(execution_id)
        view = record.view()
        try:
            envelope = await self._records.request(execution_id)
        except NotFound:
            envelope = None
        body = (
            None
            if envelope is None
            else await self._request_body(execution_id, envelope.body, envelope.body_in_object_store)
        )
        try:
            result = await self._records.result(execution_id) if record.status == "succeeded" else None
        except NotFound:
            result = None
        shown = msgspec.to_builtins(view)
        csrf = self.sessions.csrf_token(request.session)
        _send(request.proto, 200, pages.execution(view, shown, envelope, body, result, csrf))

    async def _request_body(
        self, execution_id: str, inline: bytes | None, in_object_store: bool
    ) -> bytes | None:
        if not in_object_store:
            return inline or b""
        try:
            return await get_object(self._jet, body_object(execution_id))
        except NotFound:
            return None

    async def _body(self, request: Request) -> None:
        execution_id = request.args[0]
        envelope = await self._records.request(execution_id)
        body = await self._request_body(execution_id, envelope.body, envelope.body_in_object_store)
        if body is None:
            raise NotFound(f"The body of execution {execution_id} has expired.")
        request.proto.response_bytes(
            200,
            [
                # Never the sender's content type: the raw bytes are downloaded, not rendered here.
                ("content-type", "application/octet-stream"),
                ("content-disposition", f'attachment; filename="{execution_id}.body"'),
                *SECURITY_HEADERS,
            ],
            body,
        )

    async def _replay(self, request: Request) -> None:
        await self._checked_form(request)
        new_id = await self._executions.replay(request.args[0])
        _redirect(request.proto, f"{PREFIX}/executions/{new_id}")

    # ------------------------------------------------------------------ instances

    async def _list_instances(self, request: Request) -> None:
        records = await self._instances.list()
        views = [await self._instances.view(r) for r in records]
        csrf = self.sessions.csrf_token(request.session)
        _send(request.proto, 200, pages.instances(views, self._apps, csrf))

    async def _add_key(self, request: Request) -> None:
        form = await self._checked_form(request)
        await self._instances.add_api_key(request.args[0], _field(form, "flow"))
        _redirect(request.proto, f"{PREFIX}/instances")

    async def _revoke_key(self, request: Request) -> None:
        form = await self._checked_form(request)
        await self._instances.delete_api_key(request.args[0], _field(form, "key") or "")
        _redirect(request.proto, f"{PREFIX}/instances")


def _send(proto: Any, status: int, page: bytes, headers: list[tuple[str, str]] | None = None) -> None:
    proto.response_bytes(status, [*HTML, *(headers or ())], page)


def _redirect(proto: Any, location: str, headers: list[tuple[str, str]] | None = None) -> None:
    proto.response_empty(303, [("location", location), *SECURITY_HEADERS, *(headers or ())])


async def _form(scope: Any, proto: Any) -> dict[str, str | list[str]]:
    body = await read_body(proto, scope.headers.get("content-length"), MAX_FORM)
    return _core.parse_query(body)


def _field(values: dict[str, str | list[str]], name: str) -> str | None:
    """A form or query value given once (the last one when repeated)."""
    value = values.get(name)
    return value[-1] if isinstance(value, list) else value


def _filters(query: dict[str, str | list[str]]) -> dict[str, str]:
    """The list's filters that are set, checked: `BadRequest` names the bad one."""
    filters = {name: value for name in FILTERS if (value := _field(query, name))}
    for name in ("customer", "flow"):
        if len(filters.get(name, "")) > MAX_FILTER:
            raise BadRequest(f"The {name} filter is longer than {MAX_FILTER} characters.")
    status = filters.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}, got {status[:40]!r}.")
    return filters


def _bounds(filters: dict[str, str]) -> tuple[str | None, str | None]:
    """The execution-id bounds (before, after) of the since/until filters."""
    until, since = filters.get("until"), filters.get("since")
    return (
        None if until is None else id_at(_time(until, "until")),
        None if since is None else id_at(_time(since, "since")),
    )


def _time(value: str, name: str) -> datetime:
    """A time from a filter: ISO 8601 (a browser's datetime-local value), UTC unless it says otherwise."""
    try:
        moment = datetime.fromisoformat(value[:64])
    except ValueError:
        raise BadRequest(f"{name} must be a time like 2026-01-31T09:30 (UTC), got {value[:40]!r}.") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
