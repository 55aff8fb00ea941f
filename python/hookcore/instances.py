"""Deploying and removing instances: an integration set up for one customer."""

from __future__ import annotations

import asyncio
import inspect
import secrets
from datetime import UTC, datetime
from typing import Any

import msgspec
from nats.js.errors import KeyNotFoundError, NoKeysError

from hookcore import _core
from hookcore.apps import Apps
from hookcore.context import DeployContext
from hookcore.errors import BadRequest, NotFound
from hookcore.integration import Integration, LifecycleHook
from hookcore.queue import JetStream
from hookcore.store import (
    ENDPOINT_PREFIX,
    INSTANCE_PREFIX,
    CustomerRecord,
    EndpointRecord,
    InstanceRecord,
    customer_key,
    encode,
)


class InstanceView(msgspec.Struct, rename="camel"):
    """The control plane's JSON shape of an instance (SPEC section 5)."""

    id: str
    integration: str
    customer: str
    name: str
    webhook_urls: dict[str, str]
    webhook_api_keys: dict[str, list[str]]
    invoke_url: str | None
    state: Any
    config: dict[str, str]
    created_at: datetime


def new_endpoint_id() -> str:
    """128 random bits, URL-safe base64 without padding (22 characters)."""
    return secrets.token_urlsafe(16)


def trigger_url(public_url: str, endpoint_id: str) -> str:
    return f"{public_url}/trigger/{endpoint_id}"


class Instances:
    """Deploy, list, show and remove instances; everything is stored in the config bucket."""

    def __init__(self, jet: JetStream, apps: Apps, public_url: str) -> None:
        self._jet = jet
        self._apps = apps
        self._public_url = public_url
        self._decode = msgspec.json.Decoder(InstanceRecord).decode

    def view(self, record: InstanceRecord) -> InstanceView:
        return InstanceView(
            id=record.id,
            integration=record.integration,
            customer=record.customer,
            name=record.name,
            webhook_urls=self._urls(record),
            webhook_api_keys={},
            invoke_url=None,
            state=record.state,
            config=record.config,
            created_at=record.created_at,
        )

    async def deploy(
        self, integration: str, customer: str, config: dict[str, str] | None = None, name: str | None = None
    ) -> InstanceRecord:
        """Create an instance of ``integration`` for ``customer`` (created if new) and run its deploy hook."""
        app = self._integration(integration)
        if not customer or not isinstance(customer, str):
            raise BadRequest('"customer" must be a non-empty string (the customer\'s external id).')
        config = _check_config(config)
        now = datetime.now(UTC)
        record = InstanceRecord(
            id=_core.new_id(),
            integration=app.name,
            customer=customer,
            name=name or f"{app.name} for {customer}",
            config=config,
            state=None,
            endpoints={flow: new_endpoint_id() for flow in app.flows},
            created_at=now,
        )
        record.state = await _run_hook(app.deploy_hook, self._deploy_context(record), record)
        await self._ensure_customer(customer, now)
        await self._jet.config.put(INSTANCE_PREFIX + record.id, encode(record))
        for flow, endpoint_id in record.endpoints.items():
            route = EndpointRecord(
                endpoint=endpoint_id,
                integration=app.name,
                instance=record.id,
                flow=flow,
                customer=customer,
            )
            await self._jet.config.put(ENDPOINT_PREFIX + endpoint_id, encode(route))
        return record

    async def get(self, instance_id: str) -> InstanceRecord:
        if not instance_id.replace("-", "").isalnum():
            raise NotFound(f"No instance with id {instance_id!r}.")
        try:
            entry = await self._jet.config.get(INSTANCE_PREFIX + instance_id)
        except KeyNotFoundError:
            raise NotFound(f"No instance with id {instance_id!r}.") from None
        return self._decode(entry.value or b"")

    async def list(self, customer: str | None = None) -> list[InstanceRecord]:
        try:
            # nats-py's server-side key filters miss keys; filter here instead.
            keys = [k for k in await self._jet.config.keys() if k.startswith(INSTANCE_PREFIX)]
        except NoKeysError:
            return []
        records = await asyncio.gather(*(self._jet.config.get(k) for k in keys))
        found = [self._decode(r.value or b"") for r in records]
        if customer is not None:
            found = [r for r in found if r.customer == customer]
        return sorted(found, key=lambda r: r.id, reverse=True)

    async def remove(self, instance_id: str) -> None:
        """Run the remove hook, then delete the instance; its URLs answer 404 everywhere."""
        record = await self.get(instance_id)
        app = self._apps.get(record.integration)
        if app is not None:
            await _run_hook(app.remove_hook, self._deploy_context(record), record)
        for endpoint_id in record.endpoints.values():
            await self._jet.config.delete(ENDPOINT_PREFIX + endpoint_id)
        await self._jet.config.delete(INSTANCE_PREFIX + instance_id)

    def _integration(self, name: Any) -> Integration:
        app = self._apps.get(name) if isinstance(name, str) else None
        if app is None:
            known = ", ".join(sorted(self._apps)) or "none"
            raise BadRequest(f"Unknown integration {name!r}; this server runs: {known}.")
        return app

    def _urls(self, record: InstanceRecord) -> dict[str, str]:
        return {flow: trigger_url(self._public_url, eid) for flow, eid in record.endpoints.items()}

    def _deploy_context(self, record: InstanceRecord) -> DeployContext:
        return DeployContext(
            instance=record.id,
            customer=record.customer,
            config=record.config,
            webhook_urls=self._urls(record),
            webhook_api_keys={},
            invoke_url=None,
        )

    async def _ensure_customer(self, external_id: str, now: datetime) -> None:
        try:
            await self._jet.config.create(
                customer_key(external_id), encode(CustomerRecord(external_id=external_id, created_at=now))
            )
        except Exception as e:  # KeyWrongLastSequenceError: the customer already exists
            if "wrong last sequence" not in str(e).lower():
                raise


def _check_config(config: Any) -> dict[str, str]:
    if config is None:
        return {}
    if not isinstance(config, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in config.items()
    ):
        raise BadRequest('"config" must be an object of string names to string values.')
    return dict(config)


async def _run_hook(hook: LifecycleHook | None, ctx: DeployContext, record: InstanceRecord) -> Any:
    """Run a lifecycle hook as ``hook(ctx, instance)``; a plain def runs in a thread."""
    if hook is None:
        return None
    if inspect.iscoroutinefunction(hook):
        return await hook(ctx, record)
    return await asyncio.to_thread(hook, ctx, record)
