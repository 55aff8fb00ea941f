"""The ingress: a Granian RSGI app. ``/trigger/*`` is the hot path; the rest is the control plane.

Per trigger request Python does: read the body, one call into ``_core``,
one pipelined JetStream publish, one answer. The answer is 200 only after
JetStream acknowledged the envelope; otherwise 503 and nothing is half-recorded.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hookcore import _core
from hookcore.api import ControlPlane
from hookcore.apps import Apps, load_apps, specs_from_env
from hookcore.config import Settings
from hookcore.http import JSON, JSON_HEADERS, BodyTooLarge, read_body, send_error
from hookcore.metrics import Metrics
from hookcore.queue import EXECUTIONS_SUBJECT_PREFIX, JetStream, Publisher, connect
from hookcore.store import ConfigView, body_object

log = logging.getLogger("hookcore.ingress")

TRIGGER_PREFIX = "/trigger/"
RETRY_AFTER = [("retry-after", "1")]
ALLOW = [("allow", _core.ALLOW)]


class Ingress:
    """One ingress process: the routing table, the publisher and the control plane."""

    def __init__(self, settings: Settings, apps: Apps) -> None:
        self.settings = settings
        self.apps = apps
        self.metrics = Metrics()
        self._jet: JetStream | None = None

    # Granian's RSGI hooks: run once per worker process, before and after serving.
    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.start())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.stop())

    async def start(self) -> None:
        self._jet = jet = await connect(self.settings, name="hookcore-ingress")
        settings = self.settings
        self.core = _core.Ingress(
            subject_prefix=EXECUTIONS_SUBJECT_PREFIX,
            max_inline_body=min(settings.max_body, jet.max_inline),
            max_headers=settings.max_headers,
            max_header_bytes=settings.max_header_bytes,
            max_parts=settings.max_parts,
            max_part_header_bytes=settings.max_part_header_bytes,
        )
        self.publisher = Publisher(jet.nc, self.settings.publish_timeout)
        await self.publisher.start()
        self.view = ConfigView(on_endpoint=self._on_endpoint)
        await self.view.start(jet.config)
        self.control = ControlPlane(self.settings, self.apps, jet, self.metrics, self.core)
        log.info("ingress ready with %d endpoints", self.core.route_count())

    async def stop(self) -> None:
        if self._jet is not None:
            await self.publisher.stop()
            await self.view.stop()
            await self._jet.close()

    def _on_endpoint(self, endpoint_id: str, record: bytes | None) -> None:
        if record is None:
            self.core.remove_route(endpoint_id)
        else:
            self.core.set_route(endpoint_id, record)

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        path: str = scope.path
        if path.startswith(TRIGGER_PREFIX):
            await self._trigger(scope, proto, path[len(TRIGGER_PREFIX) :])
        else:
            await self.control.handle(scope, proto)

    async def _trigger(self, scope: Any, proto: Any, target: str) -> None:
        headers = scope.headers
        try:
            body = await read_body(proto, headers.get("content-length"), self.settings.max_body)
        except BodyTooLarge as e:
            self.metrics.trigger_responses[413] += 1
            send_error(proto, 413, str(e))
            return
        status, response, execution_id, subject, envelope, spill = self.core.ingest(
            scope.method, target, scope.query_string, headers.items(), body
        )
        self.metrics.trigger_responses[status] += 1
        if envelope is None:
            proto.response_bytes(status, ALLOW + JSON_HEADERS if status == 405 else JSON_HEADERS, response)
            return
        try:
            if spill:
                await self._jet.objects.put(body_object(execution_id), body)  # type: ignore[union-attr]
            await self.publisher.publish(subject, envelope)
        except Exception as e:  # QueueUnavailable, or the object store failing
            self.metrics.trigger_responses[status] -= 1
            self.metrics.trigger_responses[503] += 1
            self.metrics.publish_failures += 1
            log.warning("answering 503: %s", e)
            send_error(
                proto,
                503,
                "The queue is unavailable; nothing was stored. Retry the request later.",
                RETRY_AFTER,
            )
            return
        proto.response_bytes(
            200, [("content-type", JSON), ("hookcore-execution-id", execution_id)], response
        )


def create_app() -> Ingress:
    """Granian factory (``hookcore.ingress:create_app``): settings and apps from the environment."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return Ingress(Settings.load(), load_apps(specs_from_env()))
