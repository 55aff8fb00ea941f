"""Integrations whose senders sign, retry and check URLs (SPEC section 8)."""

from __future__ import annotations

from typing import Any

from hookcore import Integration, body, handshake, header, verify

github = Integration("signed-github", verify=verify.github(secret="github_secret"), rate_limit=1000)


@github.flow("Push")
async def push(ctx: Any, payload: Any) -> dict[str, Any]:
    return {"body": payload.body.data}


@github.flow("Short", dedup_window=2)
async def short(ctx: Any, payload: Any) -> dict[str, Any]:
    return {"body": payload.body.data}


events = Integration(
    "signed-events",
    endpoint="shared",
    customer_from=header("x-tenant"),
    flow_from=body("/type"),
    verify=verify.standard_webhooks(secret="signing_secret"),
    rate_limit=5,
)


@events.flow("invoice.paid")
async def invoice_paid(ctx: Any, payload: Any) -> dict[str, Any]:
    return {"customer": payload.customer, "body": payload.body.data}


slack = Integration("signed-slack", verify=verify.slack(secret="slack_secret"))


@slack.flow("Events")
async def slack_events(ctx: Any, payload: Any) -> dict[str, Any]:
    return {"body": payload.body.data}


handshakes = Integration("handshakes")


@handshakes.flow("Meta", handshake=handshake.meta(verify_token="meta_token"))
async def meta(ctx: Any, payload: Any) -> str:
    return "meta ran"


@handshakes.flow("Zoom", handshake=handshake.zoom(secret="zoom_secret"))
async def zoom(ctx: Any, payload: Any) -> str:
    return "zoom ran"


@handshakes.flow("Graph", handshake=handshake.graph())
async def graph(ctx: Any, payload: Any) -> str:
    return "graph ran"


@handshakes.flow("Dropbox", handshake=handshake.dropbox())
async def dropbox(ctx: Any, payload: Any) -> str:
    return "dropbox ran"
