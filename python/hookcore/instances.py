"""Deploying and removing instances: an integration set up for one customer."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from hookcore import _core
from hookcore.apps import Apps
from hookcore.catalog import (
    customer_key,
    endpoint_key,
    instance_key,
    instance_keys,
    instance_state_key,
    shared_instance_key,
    shared_key,
)
from hookcore.config import Settings
from hookcore.context import DeployContext
from hookcore.errors import ApiKeysNotEnabled, BadRequest, InstanceExists, NotFound
from hookcore.integration import EndpointKind, InstanceConfig, Integration, LifecycleHook
from hookcore.jetstream import JetStream, kv_keys
from hookcore.keys import api_key_digest, api_keys, derive_api_key, new_key_id
from hookcore.payload import InstanceLinks
from hookcore.store import CustomerRecord, EndpointRecord, InstanceRecord, encode, valid_token

LIST_READS = 64
"""Instance records a listing reads at once: thousands of reads sent together can outlast
NATS's request timeout on a busy machine."""


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
    config: InstanceConfig
    created_at: datetime


class InstancePage(msgspec.Struct):
    """``GET /api/instances``: every instance (``next`` is for paging to come; always null)."""

    items: list[InstanceView]
    next: str | None = None


class NewApiKey(msgspec.Struct, rename="camel"):
    """``POST /api/instances/{id}/api-keys``: the new key (shown once; only its hash is stored)."""

    api_key: str


def new_endpoint_id() -> str:
    """128 random bits, URL-safe base64 without padding (22 characters)."""
    return secrets.token_urlsafe(16)


def trigger_url(public_url: str, endpoint_id: str) -> str:
    return f"{public_url}/trigger/{endpoint_id}"


def webhook_urls(public_url: str, record: InstanceRecord) -> dict[str, str]:
    """Flow name -> the URL that runs it for this instance."""
    return {flow: trigger_url(public_url, eid) for flow, eid in record.endpoints.items()}


def invoke_url(public_url: str, app: Integration | None, record: InstanceRecord) -> str | None:
    """The shared endpoint's URL (shared configuration only)."""
    if app is None or app.endpoint is not EndpointKind.SHARED or not record.endpoints:
        return None
    return trigger_url(public_url, next(iter(record.endpoints.values())))


class Instances:
    """Deploy, list, show and remove instances, and manage their API keys."""

    def __init__(self, jet: JetStream, apps: Apps, settings: Settings) -> None:
        self._jet = jet
        self._apps = apps
        self._settings = settings
        self._decode = msgspec.json.Decoder(InstanceRecord).decode

    async def view(self, record: InstanceRecord, state: Any = ...) -> InstanceView:
        if state is ...:
            state = await self._state(record.id)
        links = instance_links(record, self._apps.get(record.integration), self._settings)
        return InstanceView(
            id=record.id,
            integration=record.integration,
            customer=record.customer,
            name=record.name,
            webhook_urls=links.webhook_urls,
            webhook_api_keys=links.webhook_api_keys,
            invoke_url=links.invoke_url,
            state=state,
            config=record.config,
            created_at=record.created_at,
        )

    async def deploy(
        self,
        integration: str,
        customer: str,
        config: InstanceConfig | None = None,
        name: str | None = None,
        *,
        replace: bool = False,
    ) -> tuple[InstanceRecord, Any]:
        """Create an instance of ``integration`` for ``customer`` (created if new), run its deploy
        hook and return the record and the hook's state.

        A customer has at most one instance of a shared-endpoint integration (the endpoint
        routes by customer): a second is `InstanceExists`, unless ``replace``, which removes
        the one there (its hook runs; its API keys stop working) once the new one is stored.
        """
        app = self._integration(integration)
        if not customer or not isinstance(customer, str):
            raise BadRequest('"customer" must be a non-empty string (the customer\'s external id).')
        config = _check_config(config)
        now = datetime.now(UTC)
        instance_id = _core.new_id()
        replaced = await self._claim(app, customer, instance_id, replace)
        record = InstanceRecord(
            id=instance_id,
            integration=app.name,
            customer=customer,
            name=name or f"{app.name} for {customer}",
            config=config,
            endpoints=await self._endpoint_ids(app),
            created_at=now,
        )
        for flow in (f for f in app.flows.values() if f.api_keys):
            self._add_key(record, flow.name)
        try:
            state = await _run_hook(app.deploy_hook, self._deploy_context(record), record)
        except BaseException:
            if app.endpoint is EndpointKind.SHARED:  # the customer is free again at once
                await self._release(shared_instance_key(app.name, customer), instance_id)
            raise
        await self._jet.state.put(instance_state_key(instance_id), encode(state))
        await self._ensure_customer(customer, now)
        # The instance first, then its endpoints: a URL never points at a missing instance.
        await self._jet.config.put(instance_key(instance_id), encode(record))
        if app.endpoint is not EndpointKind.SHARED:
            for eid in set(record.endpoints.values()):
                flow_name = next(f for f, e in record.endpoints.items() if e == eid)
                route = EndpointRecord(
                    endpoint=eid,
                    integration=app.name,
                    kind=str(app.endpoint),
                    instance=instance_id,
                    flow=flow_name if app.endpoint is EndpointKind.INSTANCE_AND_FLOW else None,
                )
                await self._jet.config.put(endpoint_key(eid), encode(route))
        for old in replaced:  # the newest instance already has the routing: no gap
            await self.remove(old)
        return record, state

    async def _claim(self, app: Integration, customer: str, instance_id: str, replace: bool) -> list[str]:
        """Make ``instance_id`` the customer's one instance of a shared-endpoint integration;
        the ids it replaces. Compare-and-set on `shared_instance_key`, so of two deploys at
        once one wins and the other is `InstanceExists`."""
        if app.endpoint is not EndpointKind.SHARED:
            return []
        key = shared_instance_key(app.name, customer)
        try:
            entry = await self._jet.config.get(key)
            holder, revision = (entry.value or b"").decode(), int(entry.revision or 0)
        except KeyNotFoundError:  # never claimed, or released by a removal
            holder, revision = "", 0
        # One read, not a listing: tenants onboard by the thousand.
        existing: list[str] = []
        if holder:
            if await self._exists(holder):
                existing.append(holder)
            elif _age(holder) < DEPLOY_GRACE:  # its deploy is still running its hook
                raise self._exists_error(app, customer, holder)
            # else a deploy that failed or died: its claim is void
        if existing and not replace:
            raise self._exists_error(app, customer, existing[0])
        try:
            if revision:
                await self._jet.config.update(key, instance_id.encode(), last=revision)
            else:
                await self._jet.config.create(key, instance_id.encode())
        except Exception as e:  # another deploy claimed the customer first
            if not isinstance(e, KeyWrongLastSequenceError) and "wrong last sequence" not in str(e).lower():
                raise
            winner = (await self._jet.config.get(key)).value or b""
            raise self._exists_error(app, customer, winner.decode()) from None
        return existing

    @staticmethod
    def _exists_error(app: Integration, customer: str, instance_id: str) -> InstanceExists:
        return InstanceExists(
            f"Customer {customer!r} already has an instance of {app.name}, {instance_id}, to which "
            'its shared endpoint routes; send "replace": true to replace it (its API keys stop '
            f"working), or DELETE /api/instances/{instance_id} first.",
            instance_id,
        )

    async def _exists(self, instance_id: str) -> bool:
        try:
            await self._get(instance_id)
        except NotFound:
            return False
        return True

    async def get(self, instance_id: str) -> InstanceRecord:
        return (await self._get(instance_id))[0]

    async def list(self, customer: str | None = None) -> list[InstanceRecord]:
        keys = instance_keys(await kv_keys(self._jet.config))
        reads = asyncio.Semaphore(LIST_READS)

        async def read(key: str) -> bytes | None:
            async with reads:
                try:
                    return (await self._jet.config.get(key)).value or b""
                except KeyNotFoundError:  # removed since the keys were listed
                    return None

        # A read that fails otherwise fails the listing: an instance is never left out silently.
        values = await asyncio.gather(*(read(k) for k in keys))
        found = [self._decode(v) for v in values if v is not None]
        if customer is not None:
            found = [r for r in found if r.customer == customer]
        return sorted(found, key=lambda r: r.id, reverse=True)

    async def remove(self, instance_id: str) -> None:
        """Run the remove hook, then delete the instance; its URLs answer 404 everywhere."""
        record = await self.get(instance_id)
        app = self._apps.get(record.integration)
        if app is not None:
            await _run_hook(app.remove_hook, self._deploy_context(record), record)
        if app is None or app.endpoint is not EndpointKind.SHARED:
            for endpoint_id in set(record.endpoints.values()):
                await self._jet.config.delete(endpoint_key(endpoint_id))
        await self._jet.config.delete(instance_key(instance_id))
        await self._jet.state.delete(instance_state_key(instance_id))
        if app is not None and app.endpoint is EndpointKind.SHARED:
            await self._release(shared_instance_key(app.name, record.customer), instance_id)

    async def _release(self, key: str, instance_id: str) -> None:
        """Delete the customer's claim if it still names ``instance_id`` (not a replacement's)."""
        try:
            entry = await self._jet.config.get(key)
        except KeyNotFoundError:
            return
        if entry.value == instance_id.encode():
            with contextlib.suppress(KeyWrongLastSequenceError):
                await self._jet.config.delete(key, last=entry.revision)

    async def add_api_key(self, instance_id: str, flow: Any) -> str:
        """A new API key for ``flow``; the old ones stay valid until deleted."""
        for _ in range(100):
            record, revision = await self._get(instance_id)
            if not isinstance(flow, str) or flow not in record.endpoints:
                raise BadRequest(
                    f'"flow" must name a flow of {record.integration}: {sorted(record.endpoints)}.'
                )
            app = self._apps.get(record.integration)
            declared = app.flows.get(flow) if app is not None else None
            if declared is not None and not declared.api_keys:
                raise ApiKeysNotEnabled(
                    f"Flow {flow!r} of {record.integration} takes no API keys: its requests are not "
                    "checked for one, so a key would protect nothing. Declare the flow with "
                    "@app.flow(..., api_keys=True) to require keys."
                )
            key = self._add_key(record, flow)
            if await self._replace(record, revision):
                return key
        raise RuntimeError(f"instance {instance_id} changed 100 times while adding a key")

    async def delete_api_key(self, instance_id: str, key: str) -> None:
        digest = api_key_digest(key)
        for _ in range(100):
            record, revision = await self._get(instance_id)
            for flow, digests in record.api_key_hashes.items():
                if digest in digests:
                    index = digests.index(digest)
                    del digests[index]
                    del record.api_key_ids[flow][index]
                    break
            else:
                raise NotFound(f"Instance {instance_id} has no such API key.")
            if await self._replace(record, revision):
                return
        raise RuntimeError(f"instance {instance_id} changed 100 times while deleting a key")

    def _add_key(self, record: InstanceRecord, flow: str) -> str:
        key_id = new_key_id()
        key = derive_api_key(self._settings.signing_key, record.id, flow, key_id)
        record.api_key_ids.setdefault(flow, []).append(key_id)
        record.api_key_hashes.setdefault(flow, []).append(api_key_digest(key))
        return key

    async def _get(self, instance_id: str) -> tuple[InstanceRecord, int]:
        if not valid_token(instance_id):
            raise NotFound(f"No instance with id {instance_id!r}.")
        try:
            entry = await self._jet.config.get(instance_key(instance_id))
        except KeyNotFoundError:
            raise NotFound(f"No instance with id {instance_id!r}.") from None
        return self._decode(entry.value or b""), int(entry.revision or 0)

    async def _replace(self, record: InstanceRecord, revision: int) -> bool:
        try:
            await self._jet.config.update(instance_key(record.id), encode(record), last=revision)
        except KeyWrongLastSequenceError:
            return False
        return True

    async def _state(self, instance_id: str) -> Any:
        try:
            entry = await self._jet.state.get(instance_state_key(instance_id))
        except KeyNotFoundError:
            return None
        return msgspec.json.decode(entry.value) if entry.value else None

    async def _endpoint_ids(self, app: Integration) -> dict[str, str]:
        """Flow name -> endpoint id, as the integration's endpoint configuration wants it."""
        if app.endpoint is EndpointKind.INSTANCE_AND_FLOW:
            return {flow: new_endpoint_id() for flow in app.flows}
        if app.endpoint is EndpointKind.INSTANCE:
            shared_id = new_endpoint_id()
        else:
            shared_id = await self._shared_endpoint(app)
        return dict.fromkeys(app.flows, shared_id)

    async def _shared_endpoint(self, app: Integration) -> str:
        """The integration's one shared endpoint, created by the first deploy."""
        key = shared_key(app.name)
        try:
            return (await self._jet.config.get(key)).value.decode()  # type: ignore[union-attr]
        except KeyNotFoundError:
            pass
        endpoint_id = new_endpoint_id()
        try:
            await self._jet.config.create(key, endpoint_id.encode())
        except Exception as e:  # another deploy created it first
            if "wrong last sequence" not in str(e).lower():
                raise
            return (await self._jet.config.get(key)).value.decode()  # type: ignore[union-attr]
        route = EndpointRecord(endpoint=endpoint_id, integration=app.name, kind=str(app.endpoint))
        await self._jet.config.put(endpoint_key(endpoint_id), encode(route))
        return endpoint_id

    def _integration(self, name: Any) -> Integration:
        app = self._apps.get(name) if isinstance(name, str) else None
        if app is None:
            known = ", ".join(sorted(self._apps)) or "none"
            raise BadRequest(f"Unknown integration {name!r}; this server runs: {known}.")
        return app

    def _deploy_context(self, record: InstanceRecord) -> DeployContext:
        links = instance_links(record, self._apps.get(record.integration), self._settings)
        return DeployContext(
            instance=record.id,
            customer=record.customer,
            config=record.config,
            webhook_urls=links.webhook_urls,
            webhook_api_keys=links.webhook_api_keys,
            invoke_url=links.invoke_url,
        )

    async def _ensure_customer(self, external_id: str, now: datetime) -> None:
        try:
            await self._jet.config.create(
                customer_key(external_id), encode(CustomerRecord(external_id=external_id, created_at=now))
            )
        except Exception as e:  # the customer already exists
            if "wrong last sequence" not in str(e).lower():
                raise


# Seconds a claimed customer's instance may take to appear (its deploy hook runs first);
# after that a claim naming no instance is void (that deploy failed or died).
DEPLOY_GRACE = 120.0


def _age(instance_id: str) -> float:
    """Seconds since ``instance_id`` was made: a UUIDv7 starts with its Unix time in ms."""
    try:
        made_ms = int(instance_id.replace("-", "")[:12], 16)
    except ValueError:
        return float("inf")
    return time.time() - made_ms / 1000


def _check_config(config: Any) -> InstanceConfig:
    if config is None:
        return {}
    if not isinstance(config, dict) or not all(
        isinstance(k, str) and _config_value(v) for k, v in config.items()
    ):
        raise BadRequest(
            '"config" must be an object of string names to string values '
            "(or lists of strings, for a secret being rotated)."
        )
    return dict(config)


def _config_value(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
    )


async def _run_hook(hook: LifecycleHook | None, ctx: DeployContext, record: InstanceRecord) -> Any:
    """Run a lifecycle hook as ``hook(ctx, instance)``; a plain def runs in a thread."""
    if hook is None:
        return None
    if inspect.iscoroutinefunction(hook):
        return await hook(ctx, record)
    return await asyncio.to_thread(hook, ctx, record)


def instance_links(record: InstanceRecord, app: Integration | None, settings: Settings) -> InstanceLinks:
    keys = api_keys(settings.signing_key, record.id, record.api_key_ids) if record.api_key_ids else {}
    return InstanceLinks(
        webhook_urls=webhook_urls(settings.public_url, record),
        webhook_api_keys=keys,
        invoke_url=invoke_url(settings.public_url, app, record),
    )
