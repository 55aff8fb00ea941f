"""The integration `hookcore up` runs when no --app is given.

Two flows show what a flow receives: ``Echo`` returns what arrived, and
``Order created`` reads a JSON body and logs it.
"""

from __future__ import annotations

from typing import Any

from hookcore import Integration

app = Integration("quickstart")


@app.flow("Echo")
async def echo(ctx: Any, payload: Any) -> dict[str, Any]:
    """Return what the webhook carried, as the flow sees it."""
    data = payload.body.data
    if isinstance(data, bytes):
        data = f"<{len(data)} bytes>"
    return {
        "headers": payload.headers,
        "body": data,
        "pathFragment": payload.path_fragment,
        "queryParameters": payload.query_parameters,
    }


@app.flow("Order created")
def order_created(ctx: Any, payload: Any) -> dict[str, Any]:
    """A plain `def` flow (it runs in a thread): read the order from the JSON body."""
    order = payload.body.data or {}
    ctx.log.info("order %s for %s", order.get("id"), payload.customer)
    return {"received": order.get("id"), "items": len(order.get("items", []))}


@app.on_instance_deploy
async def deployed(ctx: Any, instance: Any) -> dict[str, Any]:
    """The returned dict becomes the instance's state."""
    return {"webhookUrls": ctx.webhook_urls}
