"""The SPEC's shared-endpoint example: many customers, one URL.

    hookcore up --app examples.shared_endpoint:app
    # deploy for a customer, then:
    curl "$INVOKE_URL" -H 'x-acme-account: acme-42' -H 'Content-Type: application/json' \\
      -d '{"event":{"type":"order.created"},"id":"A-1001"}'
"""

from __future__ import annotations

from typing import Any

from hookcore import Integration, body, header

app = Integration(
    "acme-erp",
    endpoint="shared",
    customer_from=header("x-acme-account"),
    flow_from=body("/event/type", {"order.created": "Order created", "order.paid": "Order paid"}),
    rate_limit=500,
)


@app.flow("Order created")
async def order_created(ctx: Any, payload: Any) -> dict[str, Any]:
    order = payload.body.data
    seen = await ctx.instance_state.update(lambda state: {"orders": (state or {}).get("orders", 0) + 1})
    ctx.log.info("order %s for %s (order #%d)", order["id"], payload.customer, seen["orders"])
    return {"received": order["id"], "customer": payload.customer}


@app.flow("Order paid", api_keys=True)
async def order_paid(ctx: Any, payload: Any) -> dict[str, Any]:
    return {"paid": payload.body.data["id"]}


@app.on_instance_deploy
async def deployed(ctx: Any, instance: Any) -> dict[str, Any]:
    # A real integration would register ctx.invoke_url with the customer's ERP here.
    return {"orders": 0, "invokeUrl": ctx.invoke_url}
