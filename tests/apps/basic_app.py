"""The integration the end-to-end tests deploy."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from hookcore import Integration

app = Integration("testapp")


@app.flow("Echo")
async def echo(ctx: Any, payload: Any) -> dict[str, Any]:
    data = payload.body.data
    return {
        "headers": payload.headers,
        "body": data if not isinstance(data, bytes) else {"bytes": data.hex()},
        "rawBody": payload.raw_body.data.hex(),
        "contentType": payload.body.content_type,
        "pathFragment": payload.path_fragment,
        "queryParameters": payload.query_parameters,
        "webhookUrls": payload.webhook_urls,
        "executionId": payload.execution_id,
        "customer": payload.customer,
        "instance": payload.instance,
        "flow": payload.flow,
        "receivedAt": payload.received_at.isoformat(),
        "config": ctx.config,
    }


@app.flow("Plain")
def plain(ctx: Any, payload: Any) -> str:
    ctx.log.info("plain flow ran in a thread")
    return "plain text result"


@app.flow("Slow", rate_limit=1_000_000)  # load tests: not rate limited
async def slow(ctx: Any, payload: Any) -> dict[str, Any]:
    """Sleeps so a test can kill the worker mid-execution; counts its runs in a file."""
    marker = os.environ.get("HOOKCORE_TEST_MARKER_DIR")
    if marker:
        with Path(marker, payload.execution_id).open("a") as runs:  # noqa: ASYNC230 (test marker)
            runs.write("run\n")
    await asyncio.sleep(float(payload.query_parameters.get("sleep", "0.05")))
    return {"slept": True}


@app.flow("Gated", rate_limit=1_000_000)  # fault tests: not rate limited
async def gated(ctx: Any, payload: Any) -> dict[str, Any]:
    """Holds its execution until the test opens the gate: with ``?gate=DIR`` each run adds a line
    to ``DIR/<id>.started`` when it starts, and returns once ``DIR/open`` exists."""
    gate = Path(payload.query_parameters["gate"])
    with (gate / f"{payload.execution_id}.started").open("a") as runs:
        runs.write("run\n")
    while not (gate / "open").exists():  # noqa: ASYNC110 (the gate is another process's file)
        await asyncio.sleep(0.05)
    return {"gated": True}


@app.flow("Fail")
async def fail(ctx: Any, payload: Any) -> None:
    raise RuntimeError("The widget requested is not in the database")


@app.flow("Scarce", rate_limit=0.01, burst=1)  # one request per 100 s: rate-limit tests
async def scarce(ctx: Any, payload: Any) -> None:
    return None


@app.flow("Quick", rate_limit=1_000_000)  # load tests: not rate limited
async def quick(ctx: Any, payload: Any) -> dict[str, Any]:
    return {"ok": True, "at": time.time()}


@app.on_instance_deploy
async def deployed(ctx: Any, instance: Any) -> dict[str, Any]:
    return {"deployedUrls": ctx.webhook_urls, "config": ctx.config}


@app.flow("Repr")
async def repr_flow(ctx: Any, payload: Any) -> str:
    """What the flow saw, exactly: ``repr`` tells ``inf`` from ``None`` and ``1`` from ``1.0``."""
    return repr(payload.body.data)


@app.flow("Spanned")
def spanned(ctx: Any, payload: Any) -> dict[str, Any]:
    """Makes a span of its own with the OpenTelemetry API, from the worker's thread pool
    (tests/integration/test_tracing.py: it joins the execution's trace)."""
    from opentelemetry import trace

    with trace.get_tracer("testapp").start_as_current_span("look up the order") as span:
        data = payload.body.data
        span.set_attribute("order", data.get("order", 0) if isinstance(data, dict) else 0)
    return {"ok": True}
