"""`_core.Ingress` objects with routes loaded, for the micro benches (no NATS, no HTTP)."""

from __future__ import annotations

from typing import Any

import msgspec

from hookcore import _core
from hookcore.integration import Integration
from hookcore.route_spec import integration_spec

_encode = msgspec.json.encode


def bench_ingress(*integrations: Integration, rate_limits: bool = True) -> Any:
    """An Ingress knowing ``integrations`` (give them limits a bench never reaches)."""
    core = _core.Ingress(
        subject_prefix="hookcore.executions",
        reply_prefix="_INBOX.bench",
        inbox="_INBOX.acks.",
        max_envelope=1 << 20,
        max_headers=64,
        max_header_bytes=65536,
        max_parts=1000,
        max_part_header_bytes=16384,
        counters=_core.IngressCounters(customers=100),
        rate_limits=rate_limits,
    )
    for app in integrations:
        core.set_integration(integration_spec(app))
    return core


def add_instance(core: Any, instance: str, integration: str, customer: str) -> None:
    core.set_instance(instance, _encode({"id": instance, "integration": integration, "customer": customer}))


def add_endpoint(
    core: Any,
    endpoint: str,
    integration: str,
    kind: str,
    instance: str | None = None,
    flow: str | None = None,
) -> None:
    record = {
        "endpoint": endpoint,
        "integration": integration,
        "kind": kind,
        "instance": instance,
        "flow": flow,
    }
    core.set_endpoint(endpoint, _encode(record))
