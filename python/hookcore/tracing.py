"""OpenTelemetry tracing (the ``otel`` extra): a trace per request, ingress → NATS headers → worker.

Off unless ``HOOKCORE_TRACING=otlp``; the OpenTelemetry SDK is then set up from
its standard environment (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_SERVICE_NAME``,
``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``…). Every use of OpenTelemetry is in
this module, and it is imported only by `start`: without the extra, or with
tracing off, no process imports it and the ingress's hot path is the untraced
one (`Ingress` picks its handlers once, at start).

The ingress makes one ``SERVER`` span per trigger request (its parent is the
sender's ``traceparent`` header when there is one) and hands the span's W3C
trace context to ``_core.Ingress.ingest``, which writes it into the stored
message's headers (`TRACEPARENT`). A worker makes one ``CONSUMER`` span per
delivery of an execution, the child of that context; the flow runs inside it,
so spans a flow makes with the OpenTelemetry API join the same trace.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hookcore import _core
from hookcore.errors import ConfigError

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

    from hookcore.config import Settings
    from hookcore.store import ExecutionRecord

log = logging.getLogger("hookcore.tracing")

TRACEPARENT = "traceparent"
"""The stored message's header carrying the execution's trace context. KEEP IN SYNC
with ``TRACEPARENT_HEADER`` in rust/nats_wire.rs (the ingress frame is written there)."""

EXTRA = "pip install 'hookcore[otel]'"
_NEEDS = (
    "opentelemetry.trace",
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
)
EXPORTERS = ("otlp", "console", "none")
"""What ``OTEL_TRACES_EXPORTER`` may name (``otlp``: OTLP over HTTP/protobuf)."""
ROUTE = "/trigger/{endpointId}"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


class TracingMode(StrEnum):
    """``HOOKCORE_TRACING``."""

    OFF = "off"
    """No tracing; OpenTelemetry is never imported."""
    OTLP = "otlp"
    """A trace per request, exported as the standard ``OTEL_*`` environment says."""


def check_available() -> None:
    """`ConfigError` naming the extra unless the OpenTelemetry SDK and OTLP exporter are installed,
    or when ``OTEL_TRACES_EXPORTER``/``OTEL_EXPORTER_OTLP_PROTOCOL`` ask for what hookcore does not do."""
    for module in _NEEDS:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            raise ConfigError(
                f"HOOKCORE_TRACING=otlp needs OpenTelemetry ({module} is not installed): {EXTRA}"
            )
    exporter = _exporter_name()
    if exporter not in EXPORTERS:
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER must be one of {', '.join(EXPORTERS)} with HOOKCORE_TRACING=otlp, "
            f"got {exporter!r}"
        )
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if exporter == "otlp" and protocol != "http/protobuf":
        raise ConfigError(
            f"hookcore exports traces as OTLP over http/protobuf, not {protocol!r}: unset "
            "OTEL_EXPORTER_OTLP_PROTOCOL or set it to http/protobuf (collectors listen on 4318 for it)"
        )


def _exporter_name() -> str:
    return os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"


def start(settings: Settings, service: str) -> Tracing | None:
    """This process's tracing as ``settings`` say (None when off); ``service`` is the
    ``service.name`` unless ``OTEL_SERVICE_NAME`` (or ``OTEL_RESOURCE_ATTRIBUTES``) names one."""
    if settings.tracing is TracingMode.OFF:
        return None
    check_available()
    return Tracing(_provider(service))


def _provider(service: str) -> TracerProvider:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service}))
    provider = TracerProvider(resource=resource)  # the sampler: OTEL_TRACES_SAMPLER(_ARG)
    exporter: SpanExporter | None = None
    match _exporter_name():
        case "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()  # OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT…
        case "console":
            exporter = ConsoleSpanExporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))  # OTEL_BSP_*
    # The global provider too: spans a flow makes with the OpenTelemetry API join the execution's trace.
    trace.set_tracer_provider(provider)
    return provider


class _Headers:
    """Reads a ``traceparent`` from Granian's request headers or a NATS message's headers."""

    @staticmethod
    def get(carrier: Any, key: str) -> list[str] | None:
        value = carrier.get(key) if carrier is not None else None
        return None if value is None else [value]

    @staticmethod
    def keys(carrier: Any) -> list[str]:
        return [] if carrier is None else list(carrier.keys())


Ingest = Callable[..., _core.Answer | _core.Accepted]
Trigger = Callable[[Any, Any, str, int], Awaitable[None]]
Execute = Callable[["Msg"], Awaitable["ExecutionRecord | None"]]


class Tracing:
    """One process's tracer and the spans hookcore makes with it."""

    def __init__(self, provider: TracerProvider) -> None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self.tracer: Tracer = provider.get_tracer("hookcore")
        self._propagator = TraceContextTextMapPropagator()

    def shutdown(self) -> None:
        """Export the spans still buffered, then stop (at the end of the process)."""
        self.provider.shutdown()

    def _span(self, name: str, carrier: Any, kind: str) -> Any:
        from opentelemetry.trace import SpanKind

        parent = self._propagator.extract(carrier, getter=_Headers)  # type: ignore[arg-type]
        return self.tracer.start_as_current_span(
            name, context=parent, kind=SpanKind[kind], record_exception=True, set_status_on_exception=True
        )

    def trigger(self, handle: Trigger) -> Trigger:
        """``Ingress._trigger`` in a span of its own, which records the answer's status."""

        @functools.wraps(handle)
        async def traced(scope: Any, proto: Any, target: str, started: int) -> None:
            # OpenTelemetry's HTTP conventions: a method not of HTTP's is "_OTHER", its span "HTTP".
            method: str = scope.method if scope.method in METHODS else "_OTHER"
            name = f"{method} {ROUTE}" if method != "_OTHER" else f"HTTP {ROUTE}"
            with self._span(name, scope.headers, "SERVER") as span:
                if span.is_recording():
                    if method == "_OTHER":
                        span.set_attribute("http.request.method_original", scope.method)
                    span.set_attributes(
                        {
                            "http.request.method": method,
                            "http.route": ROUTE,
                            "url.path": scope.path,
                            "hookcore.endpoint": target.partition("/")[0],
                        }
                    )
                await handle(scope, _Answering(proto, span), target, started)

        return traced

    def ingest(self, ingest: Ingest) -> Ingest:
        """``_core.Ingress.ingest`` handing it the current span's context, and naming what
        it decided on the span."""
        from opentelemetry import trace

        def traced(
            method: str, target: str, query: str, headers: Any, body: bytes, token: int
        ) -> _core.Answer | _core.Accepted:
            span = trace.get_current_span()
            context = span.get_span_context()
            # Unsampled spans pass their context on too: the worker then does not sample either.
            traceparent = (
                f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
                if context.is_valid
                else None
            )
            decision = ingest(method, target, query, headers, body, token, traceparent)
            if type(decision) is _core.Accepted and span.is_recording():
                accepted = decision
                span.set_attributes(
                    _attributes(
                        {
                            "hookcore.execution_id": accepted.execution_id,
                            "hookcore.customer": accepted.customer,
                            "hookcore.integration": accepted.integration,
                            "hookcore.flow": accepted.flow,
                            "hookcore.synchronous": accepted.synchronous,
                        }
                    )
                )
            return decision

        return traced

    def execution(self, execute: Execute) -> Execute:
        """``Worker._execute`` in a span, the child of the one the message's headers name,
        which records how the delivery ended."""

        @functools.wraps(execute)
        async def traced(msg: Msg) -> ExecutionRecord | None:
            with self._span("execute", msg.headers, "CONSUMER") as span:
                record = await execute(msg)
                if record is not None and span.is_recording():
                    _ended(span, record, msg)
                return record

        return traced


def _ended(span: Span, record: ExecutionRecord, msg: Msg) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.update_name(f"execute {record.integration}/{record.flow}")
    span.set_attributes(
        _attributes(
            {
                "messaging.system": "nats",
                "messaging.destination.name": msg.subject,
                "hookcore.execution_id": record.id,
                "hookcore.customer": record.customer,
                "hookcore.integration": record.integration,
                "hookcore.flow": record.flow,
                "hookcore.status": record.status,
                "hookcore.attempts": record.attempts,
                "hookcore.failures": record.failures,
                "hookcore.delivery": msg.metadata.num_delivered,
            }
        )
    )
    if record.error is not None:
        # This delivery failed: the execution ended (failed, dead) or will be retried (queued).
        span.add_event(
            "exception",
            _attributes(
                {
                    "exception.type": record.error_type,
                    "exception.message": record.error,
                    "exception.stacktrace": record.traceback,
                }
            ),
        )
        span.set_status(Status(StatusCode.ERROR, record.error))


def _attributes(values: dict[str, str | int | bool | None]) -> dict[str, str | int | bool]:
    return {k: v for k, v in values.items() if v is not None and v != ""}


class _Answering:
    """The RSGI protocol of a request, recording the status of its answer on its span."""

    __slots__ = ("_proto", "_span")

    def __init__(self, proto: Any, span: Span) -> None:
        self._proto = proto
        self._span = span

    def _answered(self, status: int) -> None:
        from opentelemetry.trace import Status, StatusCode

        self._span.set_attribute("http.response.status_code", status)
        if status >= 500:
            self._span.set_status(Status(StatusCode.ERROR))

    def response_bytes(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        self._answered(status)
        self._proto.response_bytes(status, headers, body)

    def response_str(self, status: int, headers: Iterable[tuple[str, str]], body: str) -> None:
        self._answered(status)
        self._proto.response_str(status, headers, body)

    def response_empty(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        self._answered(status)
        self._proto.response_empty(status, headers)

    def __call__(self) -> Awaitable[bytes]:
        return self._proto()  # type: ignore[no-any-return]

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._proto.__aiter__()  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._proto, name)
