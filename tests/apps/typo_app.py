"""A shared-endpoint integration whose routing map names a flow it lacks ("Order canceled")."""

from __future__ import annotations

from typing import Any

from hookcore import Integration, body, header

app = Integration(
    "typo",
    endpoint="shared",
    customer_from=header("x-account"),
    flow_from=body("/type", {"order.created": "Order created", "order.cancelled": "Order canceled"}),
)


@app.flow("Order created")
async def created(ctx: Any, payload: Any) -> None:
    return None


@app.flow("Order cancelled")
async def cancelled(ctx: Any, payload: Any) -> None:
    return None
