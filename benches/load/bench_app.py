"""Trivial flows for the load runs: per-instance URLs (``app``) and one shared endpoint (``shared``)."""

from __future__ import annotations

from typing import Any

from hookcore import Integration, verify
from hookcore.integration import body, header

app = Integration("bench")


@app.flow("Load", rate_limit=1e9)  # the load runs measure accepting, not refusing
async def load(ctx: Any, payload: Any) -> None:
    return None


@app.flow("Sync", synchronous=True, rate_limit=1e9)
async def sync(ctx: Any, payload: Any) -> dict[str, bool]:
    return {"ok": True}


@app.flow("Noop", rate_limit=1e9)
async def noop(ctx: Any, payload: Any) -> None:
    return None


# Signed like GitHub's deliveries; duplicates off, since the load repeats one delivery.
@app.flow("Signed", rate_limit=1e9, verify=verify.github(secret="bench_secret"), dedup=None)
async def signed(ctx: Any, payload: Any) -> None:
    return None


# One URL for every customer: the customer from a header, the flow from the body.
shared = Integration(
    "bench-shared",
    endpoint="shared",
    rate_limit=1e9,
    customer_from=header("x-customer"),
    flow_from=body("/event", {"order.created": "Order"}),
)


@shared.flow("Order")
async def order(ctx: Any, payload: Any) -> None:
    return None
