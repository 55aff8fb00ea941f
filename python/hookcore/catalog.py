"""Where configuration and per-instance data live: the layouts of four KV buckets.

The only module that names them or builds their keys (`tests/unit/test_layouts.py` checks it);
`store` (records and the config view), `instances`, `state`, `nodes` and `deliveries` read and
write with the keys built here.

``hookcore_config`` (no TTL), what is deployed; every ingress and worker watches it:

- ``endpoints.{endpoint id}`` -> the routing record of one webhook URL (`store.EndpointRecord`);
- ``shared.{integration}`` -> the id of a shared-endpoint integration's one endpoint;
- ``instances.{instance id}`` -> the instance (`store.InstanceRecord`, API keys' digests in it);
- ``customers.{token(external id)}`` -> the customer (`store.CustomerRecord`);
- ``shared-instances.{integration}.{token(external id)}`` -> the id of the customer's one
  instance of a shared-endpoint integration (`hookcore.instances.Instances.deploy` claims it).

``hookcore_state`` (no TTL), what flows keep (`hookcore.state`): ``instance.{instance id}``,
``flow.{instance id}.{base64url(flow)}``; and the slots of ``max_concurrency=``
(`hookcore.concurrency`): ``slots.{token(customer)}.{token(integration)}`` (an integration's cap)
and ``slots.{token(customer)}.{token(integration)}.{token(flow)}`` (a flow's) -> the leases of the
customer's executions running under that cap.

``hookcore_nodes`` (entries expire after a minute): ``nodes.{machine id}`` -> an ingress
machine's heartbeat (`hookcore.nodes`).

``hookcore_deliveries`` (each key its own TTL, the flow's window): ``{delivery digest}`` -> the
first delivery's execution id (`hookcore.deliveries`; the digest is made in Rust).

``token`` is the executions index's subject token (`hookcore.index.token`): URL-safe base64,
so any external id makes a valid key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from hookcore.index import token

CONFIG_BUCKET = "hookcore_config"
STATE_BUCKET = "hookcore_state"
NODES_BUCKET = "hookcore_nodes"
DELIVERIES_BUCKET = "hookcore_deliveries"

_ENDPOINT = "endpoints."
_SHARED = "shared."
_INSTANCE = "instances."
_CUSTOMER = "customers."
_SHARED_INSTANCE = "shared-instances."
_INSTANCE_STATE = "instance."
_FLOW_STATE = "flow."
_NODE = "nodes."
_SLOTS = "slots."
KEY_PREFIXES = (
    _ENDPOINT,
    _SHARED,
    _INSTANCE,
    _CUSTOMER,
    _SHARED_INSTANCE,
    _INSTANCE_STATE,
    _FLOW_STATE,
    _NODE,
    _SLOTS,
)
"""Every key layout of these buckets starts with one (the deliveries' digests excepted); no other
module starts a string with one (`tests/unit/test_layouts.py`)."""


def endpoint_key(endpoint_id: str) -> str:
    """Config key of an endpoint's routing record."""
    return _ENDPOINT + endpoint_id


def shared_key(integration: str) -> str:
    """Config key naming the one endpoint of a shared-endpoint integration."""
    return _SHARED + integration


def instance_key(instance_id: str) -> str:
    """Config key of an instance record."""
    return _INSTANCE + instance_id


def customer_key(external_id: str) -> str:
    """Config key of a customer: external ids may hold any character, keys may not."""
    return _CUSTOMER + token(external_id)


def shared_instance_key(integration: str, external_id: str) -> str:
    """Config key naming a customer's instance of a shared-endpoint integration."""
    return f"{_SHARED_INSTANCE}{integration}.{token(external_id)}"


def instance_keys(keys: Iterable[str]) -> list[str]:
    """The instance records' keys among the config bucket's ``keys``."""
    return [k for k in keys if k.startswith(_INSTANCE)]


def config_entry(key: str) -> tuple[Literal["endpoint", "instance"] | None, str]:
    """What a config key holds, and whose: ``("endpoint", endpoint id)``, ``("instance",
    instance id)``, or ``(None, key)`` for the other entries."""
    if key.startswith(_ENDPOINT):
        return "endpoint", key[len(_ENDPOINT) :]
    if key.startswith(_INSTANCE):
        return "instance", key[len(_INSTANCE) :]
    return None, key


def instance_state_key(instance_id: str) -> str:
    """State key of an instance's state."""
    return _INSTANCE_STATE + instance_id


def flow_state_key(instance_id: str, flow: str) -> str:
    """State key of a flow's state in one instance (flow names hold any character)."""
    return f"{_FLOW_STATE}{instance_id}.{token(flow)}"  # base64url: flow names are never empty


def slots_key(customer: str, integration: str, flow: str | None = None) -> str:
    """State key of the slots under one customer's ``max_concurrency`` of an integration (``flow``
    None) or of one of its flows."""
    key = f"{_SLOTS}{token(customer)}.{token(integration)}"
    return key if flow is None else f"{key}.{token(flow)}"


def node_key(machine_id: str) -> str:
    """Nodes key of an ingress machine's heartbeat."""
    return _NODE + machine_id


def node_keys(keys: Iterable[str]) -> list[str]:
    """The heartbeats' keys among the nodes bucket's ``keys``."""
    return [k for k in keys if k.startswith(_NODE)]
