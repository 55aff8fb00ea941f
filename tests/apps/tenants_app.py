"""Integrations for the multi-tenancy tests: shared, instance and preprocess endpoints."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hookcore import Integration, body, header


def _identity(ctx: Any, payload: Any) -> dict[str, Any]:
    return {
        "customer": payload.customer,
        "instance": payload.instance,
        "flow": payload.flow,
        "invokeUrl": payload.invoke_url,
        "webhookUrls": payload.webhook_urls,
        "webhookApiKeys": payload.webhook_api_keys,
        "config": ctx.config,
    }


shared = Integration(
    "acme-shared",
    endpoint="shared",
    customer_from=header("x-acme-account"),
    flow_from=body("/event/type", {"order.created": "Order created", "order.paid": "Order paid"}),
)


@shared.flow("Order created")
async def order_created(ctx: Any, payload: Any) -> dict[str, Any]:
    return _identity(ctx, payload)


@shared.flow("Order paid", api_keys=True)
async def order_paid(ctx: Any, payload: Any) -> dict[str, Any]:
    return _identity(ctx, payload)


@shared.on_instance_remove
async def removed(ctx: Any, instance: Any) -> None:
    marker = os.environ.get("HOOKCORE_TEST_MARKER_DIR")
    if marker:
        Path(marker, f"removed-{instance.id}").write_text(ctx.webhook_urls["Order created"])  # noqa: ASYNC240


per_instance = Integration("acme-instance", endpoint="instance", flow_from=header("x-event"))


@per_instance.flow("Created")
def created(ctx: Any, payload: Any) -> dict[str, Any]:
    return _identity(ctx, payload)


@per_instance.flow("Deleted")
def deleted(ctx: Any, payload: Any) -> dict[str, Any]:
    return _identity(ctx, payload)


def choose(ctx: Any, payload: Any) -> str:
    n = payload.body.data["n"]
    return "Now" if n < 0 else "Big" if n > 10 else "Small"


preprocessed = Integration("acme-pre", endpoint="instance", preprocess=choose)


@preprocessed.flow("Big")
async def big(ctx: Any, payload: Any) -> dict[str, Any]:
    return _identity(ctx, payload)


@preprocessed.flow("Now", synchronous=True)
async def now(ctx: Any, payload: Any) -> dict[str, Any]:
    return _identity(ctx, payload)


@preprocessed.flow("Small", api_keys=True)
async def small(ctx: Any, payload: Any) -> dict[str, Any]:
    return _identity(ctx, payload)
