"""The ingress's Python step, for flows that need one before their request is queued:

- ``preprocess(ctx, payload)`` picks the flow of an ``instance``/``shared`` endpoint;
- ``on_trigger(ctx, payload)`` may rewrite the payload, choose the response, or
  answer without running anything (``run=False``);
- a static ``response=`` is answered once the request is queued.

Only these flows pay for building a payload in the ingress.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
from dataclasses import dataclass
from typing import Any

import msgspec

from hookcore import _core, logs
from hookcore.apps import Apps
from hookcore.config import Settings
from hookcore.context import FlowContext
from hookcore.envelope import decode_envelope, encode_envelope
from hookcore.errors import ErrorCode, TriggerRefused
from hookcore.instances import instance_links
from hookcore.integration import Flow, HttpResponse, TriggerResult
from hookcore.payload_codec import build_payload, encode_payload
from hookcore.store import ConfigView

API_KEY_HEADERS = frozenset({"api-key"})
"""The header a flow's API key comes in (lower case, as the envelope's headers are)."""


@dataclass(slots=True)
class Outcome:
    envelope: bytes | None
    """What to publish; None: answer without creating an execution."""
    response: HttpResponse | None
    flow: Flow


class TriggerHooks:
    def __init__(
        self, apps: Apps, view: ConfigView, settings: Settings, reply_prefix: str, max_envelope: int
    ) -> None:
        self._apps = apps
        self._view = view
        self._settings = settings
        self._reply_prefix = reply_prefix
        self._max_envelope = max_envelope

    @staticmethod
    def needed(flow: Flow) -> bool:
        """Whether ``flow`` has an ingress hook (a known flow; unknown ones need ``preprocess``)."""
        return flow.on_trigger is not None or flow.response is not None

    async def run(
        self, integration: str, flow_name: str | None, envelope_bytes: bytes, body: bytes, api_key: str | None
    ) -> Outcome:
        app = self._apps[integration]
        envelope = decode_envelope(envelope_bytes)
        # For the rest of this request's task: what its hooks and the ingress log carry these.
        logs.bind(
            execution_id=envelope.id,
            customer=envelope.customer,
            flow=flow_name,
            endpoint=envelope.endpoint,
        )
        instance = self._view.instances.get(envelope.instance)
        if instance is None:
            raise TriggerRefused(404, "Endpoint not found.", ErrorCode.ENDPOINT_NOT_FOUND)
        links = instance_links(instance, app, self._settings)
        # The body the core accepted, which is not always the one sent (a GET's is ignored);
        # None when it goes to the object store, which only happens to the body as sent.
        if envelope.body is not None:
            body = envelope.body
        payload, _ = build_payload(envelope, body, links)
        ctx = FlowContext.of(envelope, flow_name or "", instance.config, links)
        if flow_name is None:
            assert app.preprocess is not None
            flow_name = await _call(app.preprocess, ctx, payload, "preprocess")
            if not isinstance(flow_name, str) or flow_name not in app.flows:
                raise TriggerRefused(
                    400,
                    f"Could not route the request: preprocess chose {flow_name!r}, which is not a "
                    f"flow of {app.name!r} ({', '.join(sorted(app.flows))}).",
                    ErrorCode.UNROUTABLE,
                )
            self._check_api_key(app.flows[flow_name], instance.api_key_hashes.get(flow_name, []), api_key)
            ctx.flow = payload.flow = flow_name
            logs.bind(flow=flow_name)
        flow = app.flows[flow_name]
        response = flow.response
        picked = envelope.flow != flow_name  # preprocess picked it: the envelope must say so
        rewritten = False
        if flow.on_trigger is not None:
            result = await _call(flow.on_trigger, ctx, payload, "on_trigger")
            if not isinstance(result, TriggerResult):
                raise TriggerRefused(
                    500,
                    f"on_trigger of flow {flow_name!r} returned {type(result).__name__}, "
                    "expected a hookcore.TriggerResult",
                    ErrorCode.HOOK_FAILED,
                )
            response = result.response or response
            if not result.run:
                return Outcome(envelope=None, response=response, flow=flow)
            payload = result.payload
            rewritten = True
        # What hookcore checked itself is not stored: the Api-Key header of a flow that requires one.
        secret = API_KEY_HEADERS if flow.api_keys else frozenset()
        if not (picked or rewritten) and secret.isdisjoint(envelope.headers):
            return Outcome(envelope=envelope_bytes, response=response, flow=flow)
        encoded = None
        if rewritten:  # the worker runs the flow on on_trigger's payload, not on the request
            try:
                encoded = encode_payload(payload, secret)
            except (TypeError, OverflowError, msgspec.EncodeError) as e:
                raise TriggerRefused(
                    500,
                    f"on_trigger of flow {flow_name!r} returned a payload that cannot be stored: {e}",
                    ErrorCode.HOOK_FAILED,
                ) from e
        # A synchronous flow picked here (not by the Rust router) needs its reply subject now.
        reply = envelope.reply or (f"{self._reply_prefix}.{envelope.id}" if flow.synchronous else None)
        headers = _without(envelope.headers, secret)
        updated = encode_envelope(
            msgspec.structs.replace(envelope, flow=flow_name, payload=encoded, reply=reply, headers=headers)
        )
        if len(updated) > self._max_envelope:
            raise TriggerRefused(
                413,
                f"The payload on_trigger of flow {flow_name!r} returned takes {len(updated)} bytes "
                f"stored; at most {self._max_envelope} fit in one message.",
                ErrorCode.REQUEST_TOO_LARGE,
            )
        return Outcome(envelope=updated, response=response, flow=flow)

    @staticmethod
    def _check_api_key(flow: Flow, digests: list[str], api_key: str | None) -> None:
        if not flow.api_keys:
            return
        if not api_key:
            raise TriggerRefused(
                401,
                f"Flow {flow.name!r} requires an API key: send it in the Api-Key header.",
                ErrorCode.API_KEY_MISSING,
            )
        digest = _core.api_key_digest(api_key)
        if not any(hmac.compare_digest(digest, d) for d in digests):
            raise TriggerRefused(
                401, f"The API key is not valid for flow {flow.name!r}.", ErrorCode.API_KEY_INVALID
            )


def _without(headers: dict[str, str], names: frozenset[str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in names} if names else headers


async def _call(fn: Any, ctx: FlowContext, payload: Any, what: str) -> Any:
    """Run a hook (async on the loop, def in a thread); its exception becomes a 400."""
    try:
        if inspect.iscoroutinefunction(fn):
            return await fn(ctx, payload)
        return await asyncio.to_thread(fn, ctx, payload)
    except TriggerRefused:
        raise
    except Exception as e:
        raise TriggerRefused(400, str(e) or f"{what} raised {type(e).__name__}", ErrorCode.HOOK_FAILED) from e
