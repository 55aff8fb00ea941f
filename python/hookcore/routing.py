"""Integration routing specs handed to the Rust router (built from code, not stored).

KEEP IN SYNC with ``IntegrationSpec`` / ``FlowSpec`` / ``RuleSpec`` in rust/route/spec.rs.
"""

from __future__ import annotations

import msgspec

from hookcore.integration import Integration, RoutingRule


class RuleSpec(msgspec.Struct, rename="camel"):
    source: str
    selector: str
    mapping: dict[str, str] | None


class FlowSpec(msgspec.Struct, rename="camel"):
    synchronous: bool
    api_keys: bool
    python: bool
    """The ingress runs Python for this flow: an on_trigger or a static response."""
    rate_limit: float | None
    burst: int | None


class IntegrationSpec(msgspec.Struct, rename="camel"):
    name: str
    endpoint: str
    customer_from: RuleSpec | None
    flow_from: RuleSpec | None
    preprocess: bool
    rate_limit: float
    burst: int | None
    flows: dict[str, FlowSpec]


def _rule(rule: RoutingRule | None) -> RuleSpec | None:
    if rule is None:
        return None
    return RuleSpec(
        source=rule.source, selector=rule.selector, mapping=dict(rule.mapping) if rule.mapping else None
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
        flows={
            name: FlowSpec(
                synchronous=flow.synchronous,
                api_keys=flow.api_keys,
                python=flow.on_trigger is not None or flow.response is not None,
                rate_limit=flow.rate_limit,
                burst=flow.burst,
            )
            for name, flow in app.flows.items()
        },
    )
    return msgspec.json.encode(spec)
