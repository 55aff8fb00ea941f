"""The control plane: ``/api/*`` (admin token), health routes and ``/metrics``."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec

import hookcore
from hookcore import _core
from hookcore.apps import Apps
from hookcore.config import Settings
from hookcore.console import Console
from hookcore.errors import (
    ApiKeysNotEnabled,
    BadRequest,
    BodyTooLarge,
    ErrorCode,
    InstanceExists,
    NotFound,
    NotStarted,
    QueueUnavailable,
)
from hookcore.executions import MAX_LIMIT, ExecutionId, ExecutionPage, Executions, Replayed
from hookcore.follow import ExecutionFilter, following, on_stop_signals
from hookcore.http import (
    ERROR_CODE_HEADER,
    EXECUTION_ID,
    JSON_HEADERS,
    read_body,
    send_error,
    send_json,
)
from hookcore.index import STATUSES
from hookcore.instances import InstancePage, Instances, InstanceView, NewApiKey
from hookcore.integration import InstanceConfig
from hookcore.jetstream import JetStream
from hookcore.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from hookcore.metrics import IngressMetrics
from hookcore.openapi import Operation, Query, document
from hookcore.publisher import Publisher
from hookcore.signing import RESULTS_PREFIX, check_result_url
from hookcore.store import ExecutionView, Records, Status

log = logging.getLogger("hookcore.api")

MAX_API_BODY = 1024 * 1024
KEEPALIVE_SECONDS = 15.0
"""A comment line on a quiet ``/api/executions/tail`` this often: proxies keep the stream open,
and a follower that left is noticed."""


class DeployRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/instances``."""

    integration: str
    """One of the integrations this server runs (the document lists them)."""
    customer: Annotated[str, msgspec.Meta(min_length=1)]
    config: InstanceConfig | None = None
    name: str | None = None
    replace: bool = False
    """Replace the customer's instance of a shared-endpoint integration instead of a 409."""


class AddKeyRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/instances/{id}/api-keys``."""

    flow: str


_decode_deploy = msgspec.json.Decoder(DeployRequest).decode
_decode_add_key = msgspec.json.Decoder(AddKeyRequest).decode

Handler = Callable[[Any, Any, list[str]], Awaitable[None]]

ROUTES: tuple[tuple[str, Operation], ...] = (
    # (handler, what it takes and answers): routes requests and makes GET /api/openapi.json.
    (
        "_deploy",
        Operation(
            "deployInstance",
            "POST",
            "/api/instances",
            "Deploy an integration for a customer (created if new); runs its on_instance_deploy.",
            201,
            InstanceView,
            body=DeployRequest,
            errors=(400, 409, 413),
        ),
    ),
    (
        "_list_instances",
        Operation(
            "listInstances",
            "GET",
            "/api/instances",
            "Every instance, newest first.",
            200,
            InstancePage,
            query=(Query("customer", str, "Only this customer's instances (its external id)."),),
        ),
    ),
    (
        "_show_instance",
        Operation(
            "getInstance",
            "GET",
            "/api/instances/{instanceId}",
            "One instance.",
            200,
            InstanceView,
            errors=(404,),
        ),
    ),
    (
        "_remove_instance",
        Operation(
            "removeInstance",
            "DELETE",
            "/api/instances/{instanceId}",
            "Run the instance's on_instance_remove, then delete it: its URLs answer 404.",
            204,
            errors=(404,),
        ),
    ),
    (
        "_add_api_key",
        Operation(
            "addApiKey",
            "POST",
            "/api/instances/{instanceId}/api-keys",
            "A new API key for a flow declared with api_keys=True; the old keys stay valid.",
            201,
            NewApiKey,
            body=AddKeyRequest,
            errors=(400, 404, 413),
        ),
    ),
    (
        "_delete_api_key",
        Operation(
            "deleteApiKey",
            "DELETE",
            "/api/instances/{instanceId}/api-keys/{apiKey}",
            "Revoke an API key.",
            204,
            errors=(404,),
        ),
    ),
    (
        "_list_executions",
        Operation(
            "listExecutions",
            "GET",
            "/api/executions",
            "Executions a worker has started, newest first, a page at a time.",
            200,
            ExecutionPage,
            errors=(400,),
            query=(
                Query("flow", str, "Only this flow."),
                Query("customer", str, "Only this customer (its external id)."),
                Query("status", Status, "Only executions in this status."),
                Query(
                    "limit",
                    Annotated[int, msgspec.Meta(ge=1, le=MAX_LIMIT)],
                    "Executions per page (default 50).",
                ),
                Query("cursor", ExecutionId, "The `next` of the previous page."),
            ),
        ),
    ),
    (
        # before getExecution: "tail" is not an execution id
        "_tail_executions",
        Operation(
            "tailExecutions",
            "GET",
            "/api/executions/tail",
            "Follow executions as they are stored and change status: server-sent events, one "
            "`data:` line of JSON per change, a comment line every 15 s; never ends by itself.",
            200,
            Any,
            media="text/event-stream",
            errors=(400,),
            query=(
                Query("customer", str, "Only this customer (its external id)."),
                Query("flow", str, "Only this flow."),
                Query("status", Status, "Only changes to this status."),
            ),
        ),
    ),
    (
        "_show_execution",
        Operation(
            "getExecution",
            "GET",
            "/api/executions/{executionId}",
            "One execution (queued ones too).",
            200,
            ExecutionView,
            errors=(404,),
        ),
    ),
    (
        "_replay_execution",
        Operation(
            "replayExecution",
            "POST",
            "/api/executions/{executionId}/replay",
            "Run the flow again from the stored request, as a new execution.",
            202,
            Replayed,
            errors=(404, 409),
            headers=((EXECUTION_ID, "The new execution's id."),),
        ),
    ),
    (
        "_execution_result",
        Operation(
            "getExecutionResult",
            "GET",
            "/api/executions/{executionId}/result",
            "What the flow returned, with the content type it was stored with.",
            200,
            Any,
            media="*/*",
            errors=(404,),
        ),
    ),
    (
        "_openapi",
        Operation("getOpenApi", "GET", "/api/openapi.json", "This OpenAPI document.", 200, dict[str, Any]),
    ),
)


class ControlPlane:
    """Routes everything that is not ``/trigger/*``."""

    def __init__(
        self,
        settings: Settings,
        apps: Apps,
        jet: JetStream,
        metrics: IngressMetrics,
        core: _core.Ingress,
        publisher: Publisher,
    ) -> None:
        self._settings = settings
        self._jet = jet
        self._metrics = metrics
        self._core = core
        self._publisher = publisher
        self.instances = Instances(jet, apps, settings)
        self.records = Records(jet)
        self.executions = Executions(jet, publisher, settings.retention_seconds)
        self.console = Console(settings, apps, jet, self.instances, self.records, self.executions)
        self._token = settings.admin_token.encode()
        self._stopping = asyncio.Event()
        """Set when the process is asked to stop: open ``/api/executions/tail`` streams end."""
        # (method, path segments with "*" for a value) -> handler
        self._routes: dict[tuple[str, tuple[str, ...]], Handler] = {
            (op.method, op.pattern): getattr(self, handler) for handler, op in ROUTES
        }
        self._openapi_document = msgspec.json.encode(
            document(
                tuple(op for _, op in ROUTES),
                hookcore.__version__,
                choices={("DeployRequest", "integration"): sorted(apps)},
            )
        )

    def end_streams_on_stop(self, loop: asyncio.AbstractEventLoop) -> None:
        """End the open tail streams when the process is asked to stop (else it waits for them)."""
        on_stop_signals(loop, self._stopping.set)

    async def handle(self, scope: Any, proto: Any) -> None:
        path: str = scope.path
        method: str = scope.method
        if path == "/healthz":
            send_json(proto, 200, {"status": "ok"})
            return
        if path == "/readyz":
            await self._ready(proto)
            return
        if path == "/metrics":
            proto.response_bytes(200, [("content-type", METRICS_CONTENT_TYPE)], self._metrics.render())
            return
        if path.startswith(RESULTS_PREFIX) and method == "GET":
            await self._signed_result(scope, proto, path[len(RESULTS_PREFIX) :])
            return
        if path == "/console" or path.startswith("/console/"):
            await self.console.handle(scope, proto)
            return
        segments = [s for s in path.split("/") if s]
        if not segments or segments[0] != "api":
            send_error(
                proto,
                404,
                f"No route for {path}; webhook URLs look like /trigger/{{endpoint_id}}.",
                code=ErrorCode.NOT_FOUND,
            )
            return
        if not self._token:
            send_error(
                proto,
                403,
                "The control plane is disabled: this server was started without an admin token. "
                "Set HOOKCORE_ADMIN_TOKEN (any long random string) in the environment of "
                "`hookcore serve` and restart it; then send 'Authorization: Bearer <token>'.",
                code=ErrorCode.CONTROL_PLANE_DISABLED,
            )
            return
        if not self._authorized(scope.headers.get("authorization")):
            send_error(
                proto,
                401,
                "Missing or wrong admin token: send 'Authorization: Bearer <token>' "
                "(the token is HOOKCORE_ADMIN_TOKEN; `hookcore up` prints it).",
                [("www-authenticate", "Bearer")],
                code=ErrorCode.ADMIN_TOKEN_INVALID,
            )
            return
        handler, args, allowed = self._match(method, segments)
        if handler is None:
            if allowed:
                send_error(
                    proto,
                    405,
                    f"{method} is not allowed on {path}; use {', '.join(allowed)}.",
                    [("allow", ", ".join(allowed))],
                    code=ErrorCode.METHOD_NOT_ALLOWED,
                )
            else:
                send_error(proto, 404, f"No API route {path}.", code=ErrorCode.NOT_FOUND)
            return
        try:
            await handler(scope, proto, args)
        except NotFound as e:
            send_error(proto, 404, str(e), code=ErrorCode.NOT_FOUND)
        except BodyTooLarge as e:
            send_error(proto, 413, str(e), code=ErrorCode.BODY_TOO_LARGE)
        except ApiKeysNotEnabled as e:
            send_error(proto, 400, str(e), code=ErrorCode.API_KEYS_NOT_ENABLED)
        except BadRequest as e:
            send_error(proto, 400, str(e), code=ErrorCode.BAD_REQUEST)
        except InstanceExists as e:
            send_error(proto, 409, str(e), code=ErrorCode.INSTANCE_EXISTS)
        except NotStarted as e:
            send_error(proto, 409, str(e), code=ErrorCode.EXECUTION_NOT_STARTED)
        except msgspec.ValidationError as e:
            send_error(proto, 400, f"Invalid request body: {e}.", code=ErrorCode.BAD_REQUEST)
        except msgspec.DecodeError as e:
            send_error(proto, 400, f"Request body is not valid JSON: {e}.", code=ErrorCode.BAD_REQUEST)
        except Exception:
            log.exception("%s %s failed", method, path)
            send_error(
                proto, 500, "Internal error; the server log has the details.", code=ErrorCode.INTERNAL_ERROR
            )

    def _match(self, method: str, segments: list[str]) -> tuple[Handler | None, list[str], list[str]]:
        allowed = []
        for (route_method, pattern), handler in self._routes.items():
            if len(pattern) != len(segments):
                continue
            if all(p == "*" or p == s for p, s in zip(pattern, segments, strict=True)):
                args = [s for p, s in zip(pattern, segments, strict=True) if p == "*"]
                if route_method == method:
                    return handler, args, []
                if route_method not in allowed:  # /api/executions/tail also matches {id}
                    allowed.append(route_method)
        return None, [], allowed

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[7:].strip().encode(), self._token)

    async def _ready(self, proto: Any) -> None:
        try:
            await self._jet.js.account_info()
            if not self._publisher.connected:
                raise QueueUnavailable("the publisher's connection is down; it is reconnecting")
        except Exception as e:
            send_json(
                proto,
                503,
                {"status": "unavailable", "error": f"JetStream unreachable: {e}"},
                [("retry-after", "1"), (ERROR_CODE_HEADER, ErrorCode.QUEUE_UNAVAILABLE)],
            )
            return
        send_json(proto, 200, {"status": "ready", "endpoints": self._core.endpoint_count()})

    async def _deploy(self, scope: Any, proto: Any, args: list[str]) -> None:
        body = await read_body(proto, scope.headers.get("content-length"), MAX_API_BODY)
        request = _decode_deploy(body)
        record, state = await self.instances.deploy(
            request.integration, request.customer, request.config, request.name, replace=request.replace
        )
        send_json(proto, 201, await self.instances.view(record, state))

    async def _list_instances(self, scope: Any, proto: Any, args: list[str]) -> None:
        customer = _single(_core.parse_query(scope.query_string), "customer")
        records = await self.instances.list(customer)
        views = await asyncio.gather(*(self.instances.view(r) for r in records))
        send_json(proto, 200, InstancePage(items=list(views)))

    async def _show_instance(self, scope: Any, proto: Any, args: list[str]) -> None:
        send_json(proto, 200, await self.instances.view(await self.instances.get(args[0])))

    async def _remove_instance(self, scope: Any, proto: Any, args: list[str]) -> None:
        await self.instances.remove(args[0])
        proto.response_empty(204, [])

    async def _add_api_key(self, scope: Any, proto: Any, args: list[str]) -> None:
        body = await read_body(proto, scope.headers.get("content-length"), MAX_API_BODY)
        request = _decode_add_key(body)
        send_json(proto, 201, NewApiKey(await self.instances.add_api_key(args[0], request.flow)))

    async def _delete_api_key(self, scope: Any, proto: Any, args: list[str]) -> None:
        await self.instances.delete_api_key(args[0], args[1])
        proto.response_empty(204, [])

    async def _show_execution(self, scope: Any, proto: Any, args: list[str]) -> None:
        send_json(proto, 200, (await self.records.get(args[0])).view())

    async def _list_executions(self, scope: Any, proto: Any, args: list[str]) -> None:
        query = _core.parse_query(scope.query_string)
        limit = _single(query, "limit")
        if limit is None:
            limit = "50"
        # ASCII digits only ("²".isdigit() too), and not so many that int() refuses them.
        if not (limit.isascii() and limit.isdigit() and len(limit) <= 9):
            raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit[:40]!r}.")
        page = await self.executions.list(
            flow=_single(query, "flow"),
            customer=_single(query, "customer"),
            status=_single(query, "status"),
            limit=int(limit),
            cursor=_single(query, "cursor"),
        )
        send_json(proto, 200, page)

    async def _tail_executions(self, scope: Any, proto: Any, args: list[str]) -> None:
        """Server-sent events: one ``data:`` line (an execution's JSON) per change (`hookcore.follow`)."""
        query = _core.parse_query(scope.query_string)
        wanted = ExecutionFilter(
            customer=_single(query, "customer"), flow=_single(query, "flow"), status=_single(query, "status")
        )
        if wanted.status is not None and wanted.status not in STATUSES:
            raise BadRequest(f"status must be one of {', '.join(STATUSES)}, got {wanted.status!r}.")
        async with following(self._jet.nc, wanted) as feed:
            transport = proto.response_stream(
                200, [("content-type", "text/event-stream"), ("cache-control", "no-store")]
            )
            gone = asyncio.ensure_future(proto.client_disconnect())
            stopping = asyncio.ensure_future(self._stopping.wait())
            try:
                await transport.send_bytes(b": following executions\n\n")
                while not (gone.done() or stopping.done()):
                    change = asyncio.ensure_future(feed.next())
                    await asyncio.wait(
                        {change, gone, stopping}, timeout=KEEPALIVE_SECONDS, return_when="FIRST_COMPLETED"
                    )
                    if change.done():
                        await transport.send_bytes(b"data: " + msgspec.json.encode(change.result()) + b"\n\n")
                    else:
                        change.cancel()
                        if not (gone.done() or stopping.done()):
                            await transport.send_bytes(b": still following\n\n")
            except OSError:  # the follower went away mid-write
                pass
            finally:
                gone.cancel()
                stopping.cancel()

    async def _replay_execution(self, scope: Any, proto: Any, args: list[str]) -> None:
        new_id = await self.executions.replay(args[0])
        send_json(proto, 202, Replayed(new_id), [(EXECUTION_ID, new_id)])

    async def _openapi(self, scope: Any, proto: Any, args: list[str]) -> None:
        proto.response_bytes(200, list(JSON_HEADERS), self._openapi_document)

    async def _signed_result(self, scope: Any, proto: Any, execution_id: str) -> None:
        query = _core.parse_query(scope.query_string)
        refusal = check_result_url(
            self._settings.signing_key, execution_id, _single(query, "expires"), _single(query, "signature")
        )
        if refusal is not None:
            send_error(proto, 403, refusal.message, code=refusal.code)
            return
        try:
            data, content_type = await self.records.result(execution_id)
        except NotFound as e:
            send_error(proto, 404, str(e), code=ErrorCode.NOT_FOUND)
            return
        proto.response_bytes(200, [("content-type", content_type)], data)

    async def _execution_result(self, scope: Any, proto: Any, args: list[str]) -> None:
        data, content_type = await self.records.result(args[0])
        proto.response_bytes(200, [("content-type", content_type)], data)


def _single(query: dict[str, str | list[str]], name: str) -> str | None:
    """The value of a query parameter given once (the last one when repeated)."""
    value = query.get(name)
    return value[-1] if isinstance(value, list) else value
