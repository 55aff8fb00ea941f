"""hookcore: a webhook trigger ingress.

Third-party systems call a webhook URL; hookcore accepts the request in
microseconds, stores it durably in NATS JetStream, answers, and runs the
matching customer's flow on Python workers.
"""

from importlib.metadata import version

from hookcore import handshake, verify
from hookcore.context import DeployContext, FlowContext
from hookcore.errors import HookcoreError
from hookcore.integration import (
    EndpointKind,
    Flow,
    HttpResponse,
    Integration,
    RoutingRule,
    TriggerResult,
    body,
    header,
)
from hookcore.parsing import parse_body, parse_query
from hookcore.payload import Body, Part, Payload, RawBody

__version__ = version("hookcore")  # Cargo.toml's version: maturin writes it into the metadata

__all__ = [
    "Body",
    "DeployContext",
    "EndpointKind",
    "Flow",
    "FlowContext",
    "HookcoreError",
    "HttpResponse",
    "Integration",
    "Part",
    "Payload",
    "RawBody",
    "RoutingRule",
    "TriggerResult",
    "__version__",
    "body",
    "handshake",
    "header",
    "parse_body",
    "parse_query",
    "verify",
]
