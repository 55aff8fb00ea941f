"""The ingress: a Granian RSGI app. ``/trigger/*`` is the hot path; the rest is the control plane.

Per trigger request Python does: read the body, one call into ``_core``,
one pipelined JetStream publish, one answer. The answer is 2xx/3xx only after
JetStream acknowledged the envelope; otherwise 503 (saying so when the request may
still have been stored: the ack did not come in time).
Flows with hooks (preprocess, on_trigger, a static response) and synchronous
executions take the slower paths in `hooks` and `completion`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
import time
from enum import Enum
from pathlib import Path
from typing import Any

from hookcore import _core
from hookcore.api import ControlPlane
from hookcore.apps import Apps, load_apps, specs_from_env
from hookcore.completion import CompletionWaiter
from hookcore.config import Settings
from hookcore.deliveries import Deliveries
from hookcore.errors import BodyTooLarge, ErrorCode, QueueUnavailable, RateTableError, TriggerRefused
from hookcore.hooks import TriggerHooks
from hookcore.http import (
    ERROR_CODE_HEADER,
    EXECUTION_ID,
    JSON,
    BodyDeadlines,
    read_body,
    send_error,
    send_json,
)
from hookcore.integration import HttpResponse
from hookcore.jetstream import JetStream, connect, storage_error
from hookcore.metrics import IngressMetrics, ingress_counters
from hookcore.nodes import NodeRegistry
from hookcore.objects import body_object, put_object
from hookcore.publisher import Publisher
from hookcore.queue import EXECUTIONS_SUBJECT_PREFIX
from hookcore.route_spec import integration_spec
from hookcore.signing import result_url
from hookcore.store import ConfigView, Records
from hookcore.tracing import Ingest, Tracing, Trigger
from hookcore.tracing import start as start_tracing

log = logging.getLogger("hookcore.ingress")

TRIGGER_PREFIX = "/trigger/"
DUPLICATE = "hookcore-duplicate"


class Stored(Enum):
    """Whether a request ended up in JetStream."""

    YES = "yes"
    NO = "no"
    MAYBE = "maybe"
    """The publish timed out or its connection dropped after the frame was sent."""


class Role(Enum):
    """Which routes an ingress process serves."""

    ALL = "all"
    """Everything, on one port (no HOOKCORE_ADMIN_PORT)."""
    PUBLIC = "public"
    """Webhooks, health and signed result URLs; /api, /metrics and /console answer 404."""
    ADMIN = "admin"
    """/api, /metrics, /console and health (HOOKCORE_ADMIN_PORT); webhooks answer 404."""


ADMIN_PATHS = ("/api", "/metrics", "/console")
"""Served on the admin port only, when there is one."""


def admin_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in ADMIN_PATHS)


ANSWER_BEFORE_READING = 64 * 1024
"""Bodies declared larger than this (or chunked) are read only after `_core.Ingress.admit`;
smaller ones cost less to read than the extra call."""


class Ingress:
    """One ingress process: the routing table, the publisher and the control plane."""

    def __init__(self, settings: Settings, apps: Apps, role: Role = Role.ALL) -> None:
        self.settings = settings
        self.apps = apps
        self.role = role
        self._triggers = role is not Role.ADMIN
        self.counters = ingress_counters(settings)
        """Answers, latencies, customers: shared with the other processes of this `hookcore serve`."""
        self._jet: JetStream | None = None
        self._tracing: Tracing | None = None
        self._on_trigger: Trigger = self._trigger
        """`_trigger`, or `_trigger` in a span when tracing (chosen once, at start)."""

    # Granian's RSGI hooks: run once per worker process, before and after serving.
    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.start())
        self.control.end_streams_on_stop(loop)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.stop())

    async def start(self) -> None:
        self._jet = jet = await connect(self.settings, name="hookcore-ingress")
        settings = self.settings
        self.completions = CompletionWaiter(jet.nc)
        await self.completions.start()
        self.publisher = Publisher(
            settings.nats_url,
            settings.publish_timeout,
            name="hookcore-ingress-publisher",
            max_buffer=settings.max_publish_buffer,
            auth=settings.nats_auth,
        )
        self.core = _core.Ingress(
            subject_prefix=EXECUTIONS_SUBJECT_PREFIX,
            reply_prefix=self.completions.prefix,
            inbox=self.publisher.inbox,
            max_envelope=jet.max_envelope,
            max_headers=settings.max_headers,
            max_header_bytes=settings.max_header_bytes,
            max_parts=settings.max_parts,
            max_part_header_bytes=settings.max_part_header_bytes,
            counters=self.counters,
            rate_limits=settings.rate_limits,
            rate_table=rate_table_path(settings),
        )
        for app in self.apps.values():
            self.core.set_integration(integration_spec(app))
        self._ingest: Ingest = self.core.ingest
        """`core.ingest`, or handing it the trace context when tracing (chosen once, here)."""
        self._tracing = start_tracing(settings, "hookcore-ingress")
        if self._tracing is not None:
            self._ingest = self._tracing.ingest(self.core.ingest)
            self._on_trigger = self._tracing.trigger(self._trigger)
        await self.publisher.start()
        self.deadlines = BodyDeadlines(settings.body_read_timeout)
        self.deadlines.start()
        self.view = ConfigView(on_endpoint=self._on_endpoint, on_instance=self._on_instance)
        await self.view.start(jet.config)
        self.deliveries = Deliveries(
            jet.deliveries, Records(jet).stored, settle_timeout=settings.publish_timeout + 1.0
        )
        self.hooks = TriggerHooks(self.apps, self.view, settings, self.completions.prefix, jet.max_envelope)
        self.nodes = NodeRegistry(jet.nodes, self.core.set_rate_share)
        await self.nodes.start()
        metrics = IngressMetrics(self.counters, self.core.endpoint_count)
        self.control = ControlPlane(settings, self.apps, jet, metrics, self.core, self.publisher)
        log.info("ingress ready with %d endpoints", self.core.endpoint_count())

    async def stop(self) -> None:
        if self._jet is not None:
            await self.nodes.stop()
            await self.deadlines.stop()
            await self.publisher.stop()
            await self.view.stop()
            await self._jet.close()
        if self._tracing is not None:
            self._tracing.shutdown()

    def _on_endpoint(self, endpoint_id: str, record: bytes | None) -> None:
        if record is None:
            self.core.remove_endpoint(endpoint_id)
        else:
            self.core.set_endpoint(endpoint_id, record)

    def _on_instance(self, instance_id: str, record: bytes | None) -> None:
        if record is None:
            self.core.remove_instance(instance_id)
        else:
            self.core.set_instance(instance_id, record)

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        path: str = scope.path
        if path.startswith(TRIGGER_PREFIX) and self._triggers:
            await self._on_trigger(scope, proto, path[len(TRIGGER_PREFIX) :], time.monotonic_ns())
        elif self._serves(path):
            await self.control.handle(scope, proto)
        else:
            where = "public" if self.role is Role.ADMIN else "admin"
            send_error(
                proto,
                404,
                f"No route for {path} on this port: it is served on the {where} port.",
                code=ErrorCode.NOT_FOUND,
            )

    def _serves(self, path: str) -> bool:
        """Whether this process's port serves ``path`` (other than webhooks)."""
        if self.role is Role.PUBLIC:
            return not admin_path(path)
        if self.role is Role.ADMIN:
            return not path.startswith(TRIGGER_PREFIX)
        return True

    async def _trigger(self, scope: Any, proto: Any, target: str, started: int) -> None:
        """Answer a trigger request received at ``started`` (`time.monotonic_ns`)."""
        headers = scope.headers
        method: str = scope.method
        # Every announced body is read, a GET's too (the core ignores it): a body left unread
        # makes the HTTP server drop the connection the sender would use next.
        length = headers.get("content-length")
        # The HTTP server has already refused a Content-Length that is not a number.
        size = None if length is None else int(length)
        max_body = self.settings.max_body
        if size is None or size > ANSWER_BEFORE_READING:
            # A body that may be large (or never end) is read only once the method, the
            # endpoint and its bucket say it is wanted: 405, 404 and 429 come first.
            answer = self.core.admit(method, target)
            if answer is not None:
                self.counters.answered(answer.status, started)
                proto.response_bytes(answer.status, answer.headers, answer.body)
                return
        token = self.deadlines.enter()
        try:
            if size is None:
                body = await read_body(proto, None, max_body)
            elif size > max_body:
                raise BodyTooLarge(max_body)
            else:
                body = await proto()
        except BodyTooLarge as e:
            self.counters.answered(413, started)
            send_error(proto, 413, str(e), code=ErrorCode.BODY_TOO_LARGE)
            return
        except asyncio.CancelledError:
            if not self.deadlines.expired(token):
                raise
            self.counters.answered(408, started)
            seconds = self.deadlines.seconds
            send_error(
                proto,
                408,
                f"The request body did not arrive within {seconds:g} seconds.",
                [("connection", "close")],
                code=ErrorCode.BODY_READ_TIMEOUT,
            )
            return
        finally:
            self.deadlines.leave(token)
        decision = self._ingest(
            method, target, scope.query_string, headers.items(), body, self.publisher.next_token()
        )
        if type(decision) is _core.Answer:
            self.counters.answered(decision.status, started)
            proto.response_bytes(decision.status, decision.headers, decision.body)
            return
        accepted = decision  # an Accepted from here on
        dedup = accepted.dedup
        if dedup is None:
            await self._store(proto, headers, body, accepted, started)
            return
        execution_id = accepted.execution_id
        key, window = dedup
        try:
            first = await self.deliveries.claim(key, execution_id, window)
        except Exception as e:  # NATS unavailable: nothing was stored
            self._unavailable(proto, e, execution_id, started)
            return
        if first is not None:  # a copy of a delivery already stored
            self.counters.duplicate()
            self.counters.answered(200, started)
            kept = [h for h in accepted.headers if h[0] != EXECUTION_ID]
            proto.response_bytes(
                200,
                [*kept, (EXECUTION_ID, first), (DUPLICATE, "true")],
                b'{"executionId":"' + first.encode() + b'"}',
            )
            return
        stored = Stored.NO
        try:
            stored = await self._store(proto, headers, body, accepted, started)
        finally:
            # Nothing stored: the sender's retry is a first delivery again. (When the request may
            # have been stored, the key stays: a retry finds the execution, or takes the key over.)
            if stored is Stored.NO:
                await self.deliveries.release(key, execution_id)

    async def _store(
        self, proto: Any, headers: Any, body: bytes, accepted: _core.Accepted, started: int
    ) -> Stored:
        """Store an accepted request and answer; whether it was stored."""
        if accepted.python is None:  # the common case (synchronous comes with python): queue, answer 200
            stored = await self._publish(proto, accepted, body, started)
            if stored is Stored.YES:
                self.counters.answered(200, started)
                proto.response_bytes(200, accepted.headers, accepted.response)
            return stored
        return await self._slow_path(proto, headers, body, accepted, accepted.python, started)

    async def _slow_path(
        self,
        proto: Any,
        headers: Any,
        body: bytes,
        accepted: _core.Accepted,
        python: tuple[str, str | None],
        started: int,
    ) -> Stored:
        custom: HttpResponse | None = None
        envelope: bytes | None = None  # None: the one ingest made, in accepted.frame
        execution_id = accepted.execution_id
        sync = accepted.synchronous
        integration, flow_name = python
        flow = self.apps.flow(integration, flow_name) if flow_name is not None else None
        if flow is None or self.hooks.needed(flow):
            stored_envelope = accepted.envelope
            assert stored_envelope is not None  # the core hands it over whenever python takes part
            try:
                outcome = await self.hooks.run(
                    integration, flow_name, stored_envelope, body, headers.get("api-key")
                )
            except TriggerRefused as e:
                self.counters.answered(e.status, started)
                send_error(proto, e.status, str(e), code=e.code)
                return Stored.NO
            custom, flow = outcome.response, outcome.flow
            sync = sync or flow.synchronous
            if outcome.envelope is None:  # on_trigger answered without running the flow
                self._respond(
                    proto, custom or HttpResponse(200, JSON, b'{"status":"received"}'), None, started
                )
                return Stored.NO
            envelope = outcome.envelope
        sync_timeout = flow.sync_timeout or self.settings.sync_timeout
        if sync:
            self.completions.expect(execution_id)
        stored = await self._publish(proto, accepted, body, started, envelope)
        if stored is not Stored.YES:
            self.completions.forget(execution_id)
            return stored
        # Every answer to a counted request carries its RateLimit headers.
        rate = [h for h in accepted.headers if h[0].startswith("ratelimit-")]
        if sync:
            await self._answer_sync(proto, execution_id, sync_timeout, rate, started)
        elif custom is not None:
            self._respond(proto, custom, execution_id, started, rate)
        else:
            self.counters.answered(200, started)
            proto.response_bytes(200, accepted.headers, accepted.response)
        return Stored.YES

    async def _publish(
        self, proto: Any, accepted: _core.Accepted, body: bytes, started: int, envelope: bytes | None = None
    ) -> Stored:
        """Store the request (with ``envelope`` when a hook rewrote it); on failure answer 503."""
        try:
            if accepted.spill:
                await put_object(self._jet, self.publisher, body_object(accepted.execution_id), body)  # type: ignore[arg-type]
            # The execution id is the Nats-Msg-Id: a frame the publisher sends again is stored once.
            if envelope is None:
                await self.publisher.send(accepted.token, accepted.frame, accepted.body)
            else:
                await self.publisher.publish(
                    accepted.subject, envelope, msg_id=accepted.execution_id, traceparent=accepted.traceparent
                )
        except Exception as e:  # QueueUnavailable (StorageFull when full), or the object store failing
            failure = self._unavailable(proto, e, accepted.execution_id, started)
            return Stored.MAYBE if failure.maybe_stored else Stored.NO
        return Stored.YES

    def _unavailable(self, proto: Any, error: Exception, execution_id: str, started: int) -> QueueUnavailable:
        """Answer 503 for a request JetStream did not (or may not have) stored."""
        failure = storage_error(error)
        self.counters.publish_failed()
        self.counters.answered(503, started)
        log.warning("answering 503: %s", failure, extra={"execution_id": execution_id})
        send_error(
            proto,
            503,
            failure.answer,
            [("retry-after", str(failure.retry_after))],
            code=ErrorCode(failure.code),
        )
        return failure

    async def _answer_sync(
        self, proto: Any, execution_id: str, timeout: float, rate: list[tuple[str, str]], started: int
    ) -> None:
        completion = await self.completions.wait(execution_id, timeout)
        header = [(EXECUTION_ID, execution_id), *rate]
        if completion is None:
            self.counters.answered(504, started)
            send_json(
                proto,
                504,
                {
                    "error": f"The execution did not finish within {timeout:g}s; it goes on. "
                    "Follow it with GET /api/executions/{executionId}.",
                    "executionId": execution_id,
                },
                [*header, (ERROR_CODE_HEADER, ErrorCode.SYNC_TIMEOUT)],
            )
        elif completion.status == "succeeded":
            self.counters.answered(303, started)
            location = result_url(
                self.settings.public_url,
                self.settings.signing_key,
                execution_id,
                self.settings.result_url_ttl,
            )
            proto.response_bytes(303, [("content-type", JSON), ("location", location), *header], b"")
        else:
            self.counters.answered(400, started)
            send_error(
                proto,
                400,
                completion.error or "The execution failed.",
                header,
                code=ErrorCode.EXECUTION_FAILED,
            )

    def _respond(
        self,
        proto: Any,
        response: HttpResponse,
        execution_id: str | None,
        started: int,
        rate: list[tuple[str, str]] | None = None,
    ) -> None:
        headers = [("content-type", response.content_type), *(response.headers or {}).items(), *(rate or ())]
        if execution_id is not None:
            headers.append((EXECUTION_ID, execution_id))
        body = response.body.encode() if isinstance(response.body, str) else response.body
        self.counters.answered(response.status_code, started)
        proto.response_bytes(response.status_code, headers, body)


def rate_table_file(settings: Settings) -> Path:
    """Where the machine-wide rate-limit table of this user and NATS deployment lives."""
    directory = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    deployment = hashlib.sha256(settings.nats_url.encode()).hexdigest()[:16]
    return directory / f"hookcore-{os.geteuid()}-{deployment}.rates"


def rate_table_path(settings: Settings) -> Path | None:
    """The machine-wide rate-limit table, shared by every ingress process of this user and
    NATS deployment (created 0600 if missing); None when the file there cannot be trusted.

    The file sits in a world-writable directory, so anyone may have put something at its
    name first. Such a file is never mapped: this process keeps its buckets in its own
    memory instead and says so in the log.
    """
    if not settings.rate_limits:
        return None
    path = rate_table_file(settings)
    try:
        _core.check_rate_table(path)
    except RateTableError as e:
        log.warning(
            "rate-limit table %s is not used (%s); this process keeps its own rate-limit buckets, so "
            "ingress processes of this machine do not share them (with --workers N each enforces "
            "the whole limit). Stop every hookcore ingress of this user on the machine and remove "
            "%s to share them again.",
            path,
            e,
            path,
        )
        return None
    return path


def create_app() -> Ingress:
    """Granian factory (``hookcore.ingress:create_app``): settings and apps from the environment
    (Granian has set up logging already, with the configuration `hookcore serve` gave it)."""
    settings = Settings.load()
    return Ingress(settings, load_apps(specs_from_env()), Role.PUBLIC if settings.admin_port else Role.ALL)


def create_admin_app() -> Ingress:
    """Granian factory of the admin port (``hookcore.ingress:create_admin_app``)."""
    return Ingress(Settings.load(), load_apps(specs_from_env()), Role.ADMIN)
