"""The code-native API: `Integration`, flows, responses and routing rules."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Annotated, Any, Literal, TypeAlias

import msgspec

from hookcore.errors import ConfigError
from hookcore.handshake import Handshake
from hookcore.verify import Scheme, Verifier

InstanceConfig: TypeAlias = dict[str, str | Annotated[list[str], msgspec.Meta(min_length=1)]]
"""An instance's config values: strings, or a (non-empty) list of strings for a secret being rotated."""

DEFAULT_DEDUP_WINDOW = 86_400
"""Seconds a delivery id is remembered (SPEC section 8); see docs/verification.md for retry schedules."""


class EndpointKind(StrEnum):
    """How an integration's webhook URLs map to instances and flows (SPEC section 3)."""

    INSTANCE_AND_FLOW = "instance_and_flow"
    INSTANCE = "instance"
    SHARED = "shared"


class HttpResponse(msgspec.Struct, rename="camel"):
    """An HTTP answer chosen by the flow's definition or by `on_trigger`."""

    status_code: int
    content_type: str
    body: bytes | str
    headers: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if not 100 <= self.status_code <= 599:
            raise ConfigError(f"HttpResponse.status_code must be 100-599, got {self.status_code}")


class TriggerResult(msgspec.Struct):
    """What `on_trigger` returns: the payload to run with, an optional response, and whether to run."""

    payload: Any
    response: HttpResponse | None = None
    run: bool = True


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """Where to read a routing value: a header, or a JSON pointer into the body."""

    source: str
    selector: str
    mapping: Mapping[str, str] | None = None

    def describe(self) -> str:
        return f"header {self.selector!r}" if self.source == "header" else f"body field {self.selector!r}"


def header(name: str, mapping: Mapping[str, str] | None = None) -> RoutingRule:
    """Route on a request header's value (optionally mapped to a flow name)."""
    if not name:
        raise ConfigError("header() needs a header name")
    return RoutingRule("header", name.lower(), dict(mapping) if mapping else None)


def body(pointer: str, mapping: Mapping[str, str] | None = None) -> RoutingRule:
    """Route on a JSON body field addressed by an RFC 6901 pointer such as ``/event/type``."""
    if pointer and not pointer.startswith("/"):
        raise ConfigError(f"body() needs a JSON pointer starting with '/', got {pointer!r}")
    return RoutingRule("body", pointer, dict(mapping) if mapping else None)


class Default(Enum):
    """Sentinels for settings a flow takes from its integration, or a scheme implies."""

    INHERIT = "inherit"
    """A flow setting left to its integration."""
    SCHEME = "scheme"
    """``dedup``: the delivery id the ``verify`` scheme implies (none for ``verify.hmac``)."""


INHERIT: Literal[Default.INHERIT] = Default.INHERIT
SCHEME: Literal[Default.SCHEME] = Default.SCHEME

DedupSetting: TypeAlias = "RoutingRule | Literal[Default.SCHEME] | None"


@dataclass(frozen=True, slots=True)
class Dedup:
    """How duplicates of a flow's deliveries are recognised: where the delivery id comes
    from (the scheme's own, or a rule) and for how long it is remembered."""

    source: RoutingRule | Literal[Default.SCHEME]
    window: int


FlowFunction: TypeAlias = Callable[..., Any]
TriggerHook: TypeAlias = Callable[..., "TriggerResult | Awaitable[TriggerResult]"]
LifecycleHook: TypeAlias = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Flow:
    """One flow: a name, the code it runs, and how its trigger behaves."""

    name: str
    fn: FlowFunction
    synchronous: bool = False
    response: HttpResponse | None = None
    on_trigger: TriggerHook | None = None
    api_keys: bool = False
    rate_limit: float | None = None
    burst: int | None = None
    attempts: int = 3
    """Runs of an async execution before it is declared dead (failures only: runs that die
    with their worker count against the server's ``max_redeliveries`` instead)."""
    sync_timeout: float | None = None
    """Seconds a synchronous request waits before a 504 (default: the server's sync_timeout)."""
    verify: Verifier | Literal[Default.INHERIT] | None = INHERIT
    dedup: DedupSetting | Literal[Default.INHERIT] = INHERIT
    dedup_window: int | None = None
    handshake: Handshake | Literal[Default.INHERIT] | None = INHERIT
    max_concurrency: int | None = None
    """Most executions of this flow one customer has running at once, across workers (None: no
    cap but the integration's)."""
    is_async: bool = field(init=False)
    """``fn`` is an ``async def`` (awaited) rather than a plain ``def`` (run in a thread)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_async", inspect.iscoroutinefunction(self.fn))


@dataclass(slots=True)
class Integration:
    """An integration: flows, endpoint configuration, and lifecycle hooks.

    >>> app = Integration("acme-erp")
    >>> @app.flow("Order created")
    ... async def order_created(ctx, payload):
    ...     return {"received": payload.body.data["id"]}
    """

    name: str
    endpoint: EndpointKind | str = EndpointKind.INSTANCE_AND_FLOW
    customer_from: RoutingRule | None = None
    flow_from: RoutingRule | None = None
    preprocess: Callable[..., Any] | None = None
    rate_limit: float = 50
    burst: int | None = None
    verify: Verifier | None = None
    """How senders sign their requests (`hookcore.verify`); flows may set their own."""
    dedup: DedupSetting = SCHEME
    """Where a delivery's id comes from: the scheme's (default), ``header(...)`` or ``body(...)``,
    or None (off)."""
    dedup_window: int = DEFAULT_DEDUP_WINDOW
    handshake: Handshake | None = None
    """A provider's URL handshake the ingress answers (`hookcore.handshake`)."""
    max_concurrency: int | None = None
    """Most executions of this integration's flows one customer has running at once, across
    workers (None: no cap; flows may set their own as well)."""
    flows: dict[str, Flow] = field(default_factory=dict)
    deploy_hook: LifecycleHook | None = None
    remove_hook: LifecycleHook | None = None

    def __post_init__(self) -> None:
        if not self.name or "." in self.name or any(c.isspace() for c in self.name):
            raise ConfigError(f"integration name {self.name!r} must be non-empty, without dots or spaces")
        try:
            self.endpoint = EndpointKind(self.endpoint)
        except ValueError:
            allowed = ", ".join(repr(k.value) for k in EndpointKind)
            raise ConfigError(f"endpoint must be one of {allowed}, got {self.endpoint!r}") from None
        if self.rate_limit <= 0:
            raise ConfigError(f"rate_limit must be > 0 requests/second, got {self.rate_limit}")
        if self.endpoint is EndpointKind.SHARED and self.customer_from is None:
            raise ConfigError(
                f"integration {self.name!r} uses endpoint='shared' and needs customer_from= "
                "(e.g. header('x-account-id')) to pick the customer"
            )
        if self.endpoint is not EndpointKind.INSTANCE_AND_FLOW and not (self.flow_from or self.preprocess):
            raise ConfigError(
                f"integration {self.name!r} uses endpoint={str(self.endpoint)!r} and needs flow_from= "
                "(header(...) or body(...)) or preprocess= to pick the flow"
            )
        _check_window(self.dedup_window)
        _check_concurrency(self.max_concurrency)

    def flow(
        self,
        name: str,
        *,
        synchronous: bool = False,
        response: HttpResponse | None = None,
        on_trigger: TriggerHook | None = None,
        api_keys: bool = False,
        rate_limit: float | None = None,
        burst: int | None = None,
        attempts: int = 3,
        sync_timeout: float | None = None,
        verify: Verifier | Literal[Default.INHERIT] | None = INHERIT,
        dedup: DedupSetting | Literal[Default.INHERIT] = INHERIT,
        dedup_window: int | None = None,
        handshake: Handshake | Literal[Default.INHERIT] | None = INHERIT,
        max_concurrency: int | None = None,
    ) -> Callable[[FlowFunction], FlowFunction]:
        """Register ``fn(ctx, payload)`` as the flow called ``name``; returns ``fn`` unchanged.

        ``verify``, ``dedup``, ``dedup_window`` and ``handshake`` win over the integration's
        (None turns them off for this flow). ``max_concurrency`` caps one customer's executions
        of this flow running at once; the integration's cap, if any, applies as well."""
        if not name:
            raise ConfigError("a flow needs a non-empty name")
        if name in self.flows:
            raise ConfigError(f"integration {self.name!r} already has a flow named {name!r}")
        if attempts < 1:
            raise ConfigError(f"attempts must be at least 1, got {attempts}")
        if dedup_window is not None:
            _check_window(dedup_window)
        _check_concurrency(max_concurrency)

        def register(fn: FlowFunction) -> FlowFunction:
            self.flows[name] = Flow(
                name=name,
                fn=fn,
                synchronous=synchronous,
                response=response,
                on_trigger=on_trigger,
                api_keys=api_keys,
                rate_limit=rate_limit,
                burst=burst,
                attempts=attempts,
                sync_timeout=sync_timeout,
                verify=verify,
                dedup=dedup,
                dedup_window=dedup_window,
                handshake=handshake,
                max_concurrency=max_concurrency,
            )
            return fn

        return register

    def verifier(self, flow: Flow | None) -> Verifier | None:
        """The signature scheme requests to ``flow`` are checked with (None: the flow is not
        known yet, e.g. before ``preprocess`` picks it; then the integration's)."""
        if flow is None or flow.verify is INHERIT:
            return self.verify
        return flow.verify

    def handshake_of(self, flow: Flow | None) -> Handshake | None:
        """The URL handshake the ingress answers for ``flow`` (the integration's unless it has one)."""
        if flow is None or flow.handshake is INHERIT:
            return self.handshake
        return flow.handshake

    def dedup_of(self, flow: Flow | None) -> Dedup | None:
        """How duplicates of ``flow``'s deliveries are found; None when they are not."""
        source = self.dedup if flow is None or flow.dedup is INHERIT else flow.dedup
        window = self.dedup_window if flow is None or flow.dedup_window is None else flow.dedup_window
        verifier = self.verifier(flow)
        if source is None or (source is SCHEME and (verifier is None or verifier.scheme is Scheme.HMAC)):
            return None
        return Dedup(source, window)

    def check_routing(self) -> None:
        """`ConfigError` when ``flow_from``'s mapping names a flow this integration does not have.

        Called when the integration is loaded (``--app``), once every flow is registered:
        a typo there would otherwise refuse each request it maps, at the sender's expense.
        """
        mapping = self.flow_from.mapping if self.flow_from is not None else None
        bad = {value: flow for value, flow in (mapping or {}).items() if flow not in self.flows}
        if bad:
            pairs = ", ".join(f"{value!r} -> {flow!r}" for value, flow in bad.items())
            raise ConfigError(
                f"integration {self.name!r}: flow_from's mapping names flows it does not have "
                f"({pairs}); its flows are {', '.join(repr(f) for f in self.flows) or 'none'}"
            )

    def on_instance_deploy(self, fn: LifecycleHook) -> LifecycleHook:
        """Run ``fn(ctx, instance)`` when an instance is deployed; its return value is the state."""
        self.deploy_hook = fn
        return fn

    def on_instance_remove(self, fn: LifecycleHook) -> LifecycleHook:
        """Run ``fn(ctx, instance)`` when an instance is removed."""
        self.remove_hook = fn
        return fn


def _check_concurrency(cap: int | None) -> None:
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise ConfigError(f"max_concurrency must be a whole number of at least 1 (or None), got {cap!r}")


def _check_window(seconds: int) -> None:
    if not 1 <= seconds <= 30 * 86_400:
        raise ConfigError(f"dedup_window must be 1 to 2592000 seconds (30 days), got {seconds}")
