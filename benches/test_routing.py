"""Routing: the whole Rust ingest decision on a shared endpoint (customer from a header, flow
from a JSON pointer into the body) vs an instance_and_flow endpoint (no rules), and the
Python baseline of the rule part alone (`json.loads` + dict lookups)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from benches.cores import add_endpoint, add_instance, bench_ingress
from hookcore import _core
from hookcore.integration import Integration, body, header

BODIES = {
    "1KB": json.dumps({"event": {"type": "order.created"}, "items": [{"sku": f"W-{i}"} for i in range(50)]}),
    "100KB": json.dumps(
        {"event": {"type": "order.created"}, "items": [{"sku": f"W-{i}", "d": "x" * 20} for i in range(2800)]}
    ),
}
HEADERS = [("content-type", "application/json"), ("x-account", "c1"), ("user-agent", "bench")]


def _core_with_routes() -> Any:
    # Limits far above what a bench sends: this measures routing, not refusing.
    shared = Integration(
        "shared",
        endpoint="shared",
        rate_limit=1e9,
        customer_from=header("x-account"),
        flow_from=body("/event/type", {"order.created": "Order created"}),
    )
    shared.flow("Order created")(lambda ctx, payload: None)
    simple = Integration("simple", rate_limit=1e9)
    simple.flow("Order created")(lambda ctx, payload: None)
    core = bench_ingress(shared, simple)
    add_instance(core, "i1", "shared", "c1")
    add_instance(core, "i2", "simple", "c1")
    add_endpoint(core, "S", "shared", "shared")
    add_endpoint(core, "F", "simple", "instance_and_flow", "i2", "Order created")
    return core


CORE = _core_with_routes()


@pytest.mark.parametrize("size", list(BODIES))
def test_ingest_shared_endpoint_rules(benchmark: Any, size: str) -> None:
    benchmark.group = f"routing {size}"
    benchmark.extra_info["subject"] = True  # hookcore's side of the group
    data = BODIES[size].encode()
    decision = benchmark(CORE.ingest, "POST", "S", "", HEADERS, data, 1)
    assert isinstance(decision, _core.Accepted)


@pytest.mark.parametrize("size", list(BODIES))
def test_ingest_instance_and_flow_no_rules(benchmark: Any, size: str) -> None:
    benchmark.group = f"routing {size}"
    data = BODIES[size].encode()
    decision = benchmark(CORE.ingest, "POST", "F", "", HEADERS, data, 1)
    assert isinstance(decision, _core.Accepted)


TABLE = {("shared", "c1"): "i1"}
MAPPING = {"order.created": "Order created"}


def _python_rules(data: bytes, headers: list[tuple[str, str]]) -> tuple[str, str]:
    customer = dict(headers)["x-account"]
    flow = MAPPING[json.loads(data)["event"]["type"]]
    return TABLE[("shared", customer)], flow


@pytest.mark.parametrize("size", list(BODIES))
def test_python_json_loads_and_lookup(benchmark: Any, size: str) -> None:
    benchmark.group = f"routing {size}"
    assert benchmark(_python_rules, BODIES[size].encode(), HEADERS) == ("i1", "Order created")
