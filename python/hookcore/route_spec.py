"""Integration routing specs handed to the Rust router (built from code, not stored).

KEEP IN SYNC with ``IntegrationSpec`` / ``FlowSpec`` / ``RuleSpec`` / ``DedupSpec`` in
rust/route/spec.rs (``verify`` and ``handshake`` are ``VerifySpec`` / ``HandshakeSpec`` of
rust/verify/spec.rs, written by `hookcore.verify` and `hookcore.handshake`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from hookcore.integration import SCHEME, Flow, Integration, RoutingRule


class RuleSpec(msgspec.Struct, rename="camel"):
    source: str
    selector: str
    mapping: dict[str, str] | None


class DedupSpec(msgspec.Struct, rename="camel"):
    source: str
    """``scheme`` (the verify scheme's delivery id), ``header`` or ``body``."""
    selector: str | None
    window: int
    """Seconds a delivery id is remembered."""


class Senders(msgspec.Struct, rename="camel"):
    """Who may send and how duplicates are found: a flow's, or its integration's for a flow not known yet."""

    verify: dict[str, Any] | None
    handshake: dict[str, Any] | None
    dedup: DedupSpec | None


class FlowSpec(msgspec.Struct, rename="camel"):
    synchronous: bool
    api_keys: bool
    python: bool
    """The ingress runs Python for this flow: an on_trigger or a static response."""
    rate_limit: float | None
    burst: int | None
    senders: Senders


class IntegrationSpec(msgspec.Struct, rename="camel"):
    name: str
    endpoint: str
    customer_from: RuleSpec | None
    flow_from: RuleSpec | None
    preprocess: bool
    rate_limit: float
    burst: int | None
    senders: Senders
    flows: dict[str, FlowSpec]


def _rule(rule: RoutingRule | None) -> RuleSpec | None:
    if rule is None:
        return None
    return RuleSpec(
        source=rule.source, selector=rule.selector, mapping=dict(rule.mapping) if rule.mapping else None
    )


def _senders(app: Integration, flow: Flow | None) -> Senders:
    verifier, handshake, dedup = app.verifier(flow), app.handshake_of(flow), app.dedup_of(flow)
    dedup_spec = None
    if dedup is not None:
        rule = dedup.source
        dedup_spec = (
            DedupSpec(source="scheme", selector=None, window=dedup.window)
            if rule is SCHEME
            else DedupSpec(source=rule.source, selector=rule.selector, window=dedup.window)
        )
    return Senders(
        verify=None if verifier is None else verifier.spec(),
        handshake=None if handshake is None else handshake.spec(),
        dedup=dedup_spec,
    )


def integration_spec(app: Integration) -> bytes:
    """The JSON the Rust router loads for ``app``."""
    spec = IntegrationSpec(
        name=app.name,
        endpoint=str(app.endpoint),
        customer_from=_rule(app.customer_from),
        flow_from=_rule(app.flow_from),
        preprocess=app.preprocess is not None,
        rate_limit=float(app.rate_limit),
        burst=app.burst,
        senders=_senders(app, None),
        flows={
            name: FlowSpec(
                synchronous=flow.synchronous,
                api_keys=flow.api_keys,
                python=flow.on_trigger is not None or flow.response is not None,
                rate_limit=flow.rate_limit,
                burst=flow.burst,
                senders=_senders(app, flow),
            )
            for name, flow in app.flows.items()
        },
    )
    return msgspec.json.encode(spec)
