"""``HOOKCORE_TRACING=otlp``: one trace per request, from the ingress's span through the stored
message's ``traceparent`` header to the worker's span (docs/operations.md, "Tracing").

The ingress and the worker export OTLP over HTTP to a receiver this test runs on a loopback
port; it decodes what they send with opentelemetry-proto, as a collector would.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from hookcore.embedded import EmbeddedNats
from hookcore.queue import EXECUTIONS_STREAM
from support import running_hookcore, stream_last_seq

SENDER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SENDER_SPAN = "00f067aa0ba902b7"


class Received:
    """The spans exported to the receiver, with the service that sent each."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, Span]] = []
        self.lock = threading.Lock()

    def add(self, request: ExportTraceServiceRequest) -> None:
        with self.lock:
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                service = attributes["service.name"]
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend((service, span) for span in scope_spans.spans)

    def named(self, name: str) -> list[Span]:
        """The spans called ``name``, once there is one."""
        return self.where(lambda span: span.name == name, name)

    def where(self, match: Callable[[Span], bool], what: str, timeout: float = 30) -> list[Span]:
        """The spans that ``match``, once there is one."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [span for _, span in self.spans if match(span)]
            if found:
                return found
            assert time.monotonic() < deadline, f"no span {what}: {self.spans}"
            time.sleep(0.05)

    def wait_for(self, execution_id: str, count: int, timeout: float = 30) -> list[tuple[str, Span]]:
        """The spans about ``execution_id``, once there are ``count`` of them."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                about = [(s, span) for s, span in self.spans if about_execution(span, execution_id)]
            if len(about) >= count:
                return about
            assert time.monotonic() < deadline, f"{len(about)} spans about {execution_id}: {self.spans}"
            time.sleep(0.05)


def value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def attrs(span: Span) -> dict[str, Any]:
    return {a.key: value(a.value) for a in span.attributes}


def about_execution(span: Span, execution_id: str) -> bool:
    return attrs(span).get("hookcore.execution_id") == execution_id


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    """An OTLP/HTTP receiver on a loopback port: (its URL, what it received)."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            assert self.path == "/v1/traces", self.path
            assert self.headers["content-type"] == "application/x-protobuf"
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            received.add(request)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def traced_env(endpoint: str) -> dict[str, str]:
    return {
        "HOOKCORE_TRACING": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds: export soon after the span ends
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
    }


def stored_headers(nats_url: str, seq: int) -> dict[str, str]:
    """The NATS headers of the executions stream's message ``seq``."""
    import nats

    async def read() -> dict[str, str]:
        nc = await nats.connect(nats_url)
        try:
            msg = await nc.jetstream().get_msg(EXECUTIONS_STREAM, seq)
            return dict(msg.headers or {})
        finally:
            await nc.close()

    return asyncio.run(read())


def test_a_request_is_one_trace_from_the_ingress_to_the_worker(
    nats: EmbeddedNats, tmp_path: Path, receiver: tuple[str, Received]
) -> None:
    endpoint, received = receiver
    with running_hookcore(nats, tmp_path, env=traced_env(endpoint)) as hc:
        instance = hc.deploy("trace-customer")
        url = instance["webhookUrls"]["Spanned"]
        sender = f"00-{SENDER_TRACE}-{SENDER_SPAN}-01"
        answer = hc.client.post(url, json={"order": 1}, headers={"traceparent": sender})
        assert answer.status_code == 200, answer.text
        execution_id = answer.json()["executionId"]
        assert hc.wait_final(execution_id)["status"] == "succeeded"
        seq = stream_last_seq(nats.url)
        spans = received.wait_for(execution_id, 2)
        (flows_own,) = received.named("look up the order")

        # A synchronous execution that fails: the ingress answers 400, the worker's span says why.
        failing = hc.client.post(
            instance["webhookUrls"]["Fail"], json={}, headers={"hookcore-synchronous": "true"}
        )
        assert failing.status_code == 400, failing.text
        failed_id = failing.headers["hookcore-execution-id"]
        failed_spans = received.wait_for(failed_id, 2)

        # A flow with an on_trigger hook: the envelope the hook handed on is stored with the context too.
        hooked = hc.deploy("trace-customer", integration="responses")["webhookUrls"]["ReprHooked"]
        answer = hc.client.post(hooked, json={"n": 3})
        assert answer.status_code == 200, answer.text
        hooked_id = answer.json()["executionId"]
        assert hc.wait_final(hooked_id)["status"] == "succeeded"
        hooked_spans = dict(received.wait_for(hooked_id, 2))
        hooked_headers = stored_headers(nats.url, stream_last_seq(nats.url))

        # A refused request has its span too, with the answer's status.
        assert hc.client.post("/trigger/no-such-endpoint", json={}).status_code == 404
        (refused,) = received.where(lambda s: attrs(s).get("url.path") == "/trigger/no-such-endpoint", "404")

    services = {service: span for service, span in spans}
    assert services.keys() == {"hookcore-ingress", "hookcore-worker"}, spans
    ingress, worker = services["hookcore-ingress"], services["hookcore-worker"]

    # The sender's trace goes on: the ingress span is the child of the sender's span.
    assert ingress.trace_id.hex() == SENDER_TRACE
    assert ingress.parent_span_id.hex() == SENDER_SPAN
    assert ingress.kind == Span.SPAN_KIND_SERVER
    assert ingress.name == "POST /trigger/{endpointId}"
    endpoint_id = url.rsplit("/", 1)[1]
    assert attrs(ingress) == {
        "http.request.method": "POST",
        "http.route": "/trigger/{endpointId}",
        "url.path": f"/trigger/{endpoint_id}",
        "hookcore.endpoint": endpoint_id,
        "hookcore.execution_id": execution_id,
        "hookcore.customer": "trace-customer",
        "hookcore.integration": "testapp",
        "hookcore.flow": "Spanned",
        "hookcore.synchronous": False,
        "http.response.status_code": 200,
    }

    # The stored message names the ingress span, and the worker's span is its child.
    headers = stored_headers(nats.url, seq)
    assert headers["traceparent"] == f"00-{SENDER_TRACE}-{ingress.span_id.hex()}-01"
    assert headers["Nats-Msg-Id"] == execution_id
    assert worker.trace_id == ingress.trace_id
    assert worker.parent_span_id == ingress.span_id
    assert worker.kind == Span.SPAN_KIND_CONSUMER
    assert worker.name == "execute testapp/Spanned"
    worker_attrs = attrs(worker)
    assert worker_attrs.pop("messaging.destination.name").endswith(execution_id)
    assert worker_attrs == {
        "messaging.system": "nats",
        "hookcore.execution_id": execution_id,
        "hookcore.customer": "trace-customer",
        "hookcore.integration": "testapp",
        "hookcore.flow": "Spanned",
        "hookcore.status": "succeeded",
        "hookcore.attempts": 1,
        "hookcore.failures": 0,
        "hookcore.delivery": 1,
    }
    assert worker.status.code != Status.STATUS_CODE_ERROR
    # The flow's own span (made in the worker's thread pool) is the child of the worker's.
    assert (flows_own.trace_id, flows_own.parent_span_id) == (worker.trace_id, worker.span_id)
    assert attrs(flows_own) == {"order": 1}
    # The worker's span covers the run: it starts after the ingress span started.
    assert worker.start_time_unix_nano >= ingress.start_time_unix_nano

    services = {service: span for service, span in failed_spans}
    ingress, worker = services["hookcore-ingress"], services["hookcore-worker"]
    assert len(ingress.parent_span_id) == 0  # no traceparent from the sender: a new trace
    assert attrs(ingress)["http.response.status_code"] == 400
    assert attrs(ingress)["hookcore.synchronous"] is True
    assert (worker.trace_id, worker.parent_span_id) == (ingress.trace_id, ingress.span_id)
    # The ingress span lasts until the synchronous answer, which comes after the worker's run.
    assert ingress.end_time_unix_nano >= worker.end_time_unix_nano
    assert attrs(worker)["hookcore.status"] == "failed"
    assert attrs(worker)["hookcore.attempts"] == 1
    assert worker.status.code == Status.STATUS_CODE_ERROR
    assert worker.status.message == "The widget requested is not in the database"
    (event,) = worker.events
    assert event.name == "exception"
    exception = {a.key: value(a.value) for a in event.attributes}
    assert exception["exception.type"] == "RuntimeError"
    assert exception["exception.message"] == "The widget requested is not in the database"
    assert "raise RuntimeError" in exception["exception.stacktrace"]

    assert attrs(refused) == {
        "http.request.method": "POST",
        "http.route": "/trigger/{endpointId}",
        "url.path": "/trigger/no-such-endpoint",
        "hookcore.endpoint": "no-such-endpoint",
        "http.response.status_code": 404,
    }

    ingress, worker = hooked_spans["hookcore-ingress"], hooked_spans["hookcore-worker"]
    assert (attrs(ingress)["hookcore.flow"], attrs(ingress)["http.response.status_code"]) == (
        "ReprHooked",
        200,
    )
    context, flags = hooked_headers["traceparent"].rsplit("-", 1)
    assert context == f"00-{ingress.trace_id.hex()}-{ingress.span_id.hex()}"
    assert int(flags, 16) & 1  # sampled (the SDK may set W3C level 2's random-trace-id flag too)
    assert (worker.trace_id, worker.parent_span_id) == (ingress.trace_id, ingress.span_id)


def test_without_tracing_stored_messages_carry_no_traceparent(nats: EmbeddedNats, tmp_path: Path) -> None:
    with running_hookcore(nats, tmp_path, workers=0) as hc:
        url = hc.deploy("untraced")["webhookUrls"]["Plain"]
        # The sender's own traceparent is a request header like any other: stored in the envelope.
        sender = f"00-{SENDER_TRACE}-{SENDER_SPAN}-01"
        answer = hc.client.post(url, json={"order": 2}, headers={"traceparent": sender})
        assert answer.status_code == 200, answer.text
        execution_id = answer.json()["executionId"]
        headers = stored_headers(nats.url, stream_last_seq(nats.url))
    assert headers == {"Nats-Msg-Id": execution_id}
