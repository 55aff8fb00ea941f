"""Integrations for the rate-limit tests: an integration-wide limit, a flow's own rate and burst,
and a shared endpoint whose per-customer bucket a test can empty on a loaded machine."""

from __future__ import annotations

from typing import Any

from hookcore import Integration, body, header

limited = Integration("limited", rate_limit=5)


@limited.flow("Default")  # the integration's limit: 5/s, burst 5
async def default(ctx: Any, payload: Any) -> None:
    return None


@limited.flow("Bursty", rate_limit=1, burst=8)  # its own: 1/s, but 8 at once
async def bursty(ctx: Any, payload: Any) -> None:
    return None


wide = Integration("limited-burst", rate_limit=2, burst=6)  # an integration-wide burst


@wide.flow("Any")
async def any_flow(ctx: Any, payload: Any) -> None:
    return None


# 2/s per customer: a flood empties a customer's bucket however slowly a loaded machine answers.
shared = Integration(
    "limited-shared",
    endpoint="shared",
    customer_from=header("x-acme-account"),
    flow_from=body("/event/type", {"order.created": "Order created"}),
    rate_limit=2,
    burst=20,
)


@shared.flow("Order created")
async def order_created(ctx: Any, payload: Any) -> None:
    return None
