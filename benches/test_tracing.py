"""Tracing's cost on the hot path: `_core.Ingress.ingest` as the ingress calls it with tracing off
(the subject: the call every request makes, unchanged by tracing), with a ``traceparent`` for
the frame (tracing's Rust part), and as a traced ingress runs it (a span started and ended around
`hookcore.tracing.Tracing.ingest`, with no exporter: what the process itself spends).

Needs the ``otel`` extra's packages (the bench and test extras bring them)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from benches.conftest import WARMUP
from benches.cores import add_endpoint, add_instance, bench_ingress
from hookcore import _core
from hookcore.integration import Integration
from hookcore.tracing import ROUTE, Tracing

ITEMS = [{"sku": f"W-{i}"} for i in range(50)]
BODY = json.dumps({"event": {"type": "order.created"}, "items": ITEMS}).encode()
HEADERS = [("content-type", "application/json"), ("user-agent", "bench")]
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _core_with_route() -> Any:
    simple = Integration("simple", rate_limit=1e9)
    simple.flow("Order created")(lambda ctx, payload: None)
    core = bench_ingress(simple)
    add_instance(core, "i1", "simple", "c1")
    add_endpoint(core, "F", "simple", "instance_and_flow", "i1", "Order created")
    return core


CORE = _core_with_route()


def _tracing(sampled: bool = True) -> Tracing:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

    # Recorded (or not) and exported nowhere.
    return Tracing(TracerProvider(sampler=ALWAYS_ON if sampled else ALWAYS_OFF))


@WARMUP
def test_ingest_tracing_off(benchmark: Any) -> None:
    benchmark.group = "ingest 1KB: tracing"
    benchmark.extra_info["subject"] = True
    decision = benchmark(CORE.ingest, "POST", "F", "", HEADERS, BODY, 1)
    assert isinstance(decision, _core.Accepted)
    assert decision.traceparent is None
    assert b"traceparent" not in decision.frame


@WARMUP
def test_ingest_with_a_traceparent(benchmark: Any) -> None:
    benchmark.group = "ingest 1KB: tracing"
    decision = benchmark(CORE.ingest, "POST", "F", "", HEADERS, BODY, 1, TRACEPARENT)
    assert isinstance(decision, _core.Accepted)
    assert f"traceparent: {TRACEPARENT}\r\n".encode() in decision.frame


@WARMUP
@pytest.mark.parametrize("sampled", [True, False], ids=["sampled", "unsampled"])
def test_ingest_in_a_span(benchmark: Any, sampled: bool) -> None:
    benchmark.group = "ingest 1KB: tracing"
    tracing = _tracing(sampled)
    ingest = tracing.ingest(CORE.ingest)

    def traced() -> Any:
        with tracing.tracer.start_as_current_span(f"POST {ROUTE}"):
            return ingest("POST", "F", "", HEADERS, BODY, 1)

    decision = benchmark(traced)
    assert isinstance(decision, _core.Accepted)
    assert decision.traceparent is not None
    assert decision.customer == "c1"
    assert bool(int(decision.traceparent[-2:], 16) & 1) is sampled  # the W3C sampled flag


class _Scope:
    """What the traced handler reads of Granian's RSGI scope."""

    method = "POST"
    path = "/trigger/F"
    headers = dict(HEADERS)


class _Proto:
    def response_bytes(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status


def _run(coroutine: Any) -> None:
    """Run a coroutine that never waits (no event loop needed)."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise AssertionError("the handler waited")


@WARMUP
@pytest.mark.parametrize("traced", ["off", "sampled", "unsampled"])
def test_trigger_handler(benchmark: Any, traced: str) -> None:
    """The ingress's per-request Python around the ingest call: untraced, or in the traced handler
    (`Tracing.trigger`: the span, the sender's context looked for, the answer's status recorded)."""
    benchmark.group = "trigger handler 1KB: tracing"
    benchmark.extra_info["subject"] = traced == "off"
    ingest = CORE.ingest

    async def handle(scope: Any, proto: Any, target: str, started: int) -> None:
        decision = ingest(scope.method, target, "", HEADERS, BODY, 1)
        proto.response_bytes(200, decision.headers, decision.response)

    if traced != "off":
        tracing = _tracing(traced == "sampled")
        ingest = tracing.ingest(CORE.ingest)
        handle = tracing.trigger(handle)  # type: ignore[assignment]
    proto = _Proto()
    benchmark(lambda: _run(handle(_Scope(), proto, "F", 0)))
    assert proto.status == 200
