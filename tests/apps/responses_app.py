"""Integration for the responses tests: synchronous flows, custom responses, on_trigger, retries."""

from __future__ import annotations

import asyncio
import hashlib
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from hookcore import HttpResponse, Integration, TriggerResult

app = Integration("responses")


@app.flow("Sync", synchronous=True, rate_limit=1_000_000)
async def sync(ctx: Any, payload: Any) -> Any:
    data = payload.body.data
    if isinstance(data, dict) and "echo" in data:
        return {"echo": data["echo"]}
    return {"item": "Widgets", "quantity": 5}


@app.flow("SyncFail", synchronous=True)
async def sync_fail(ctx: Any, payload: Any) -> None:
    raise LookupError("The widget requested is not in the database")


@app.flow("SyncSlow", synchronous=True, sync_timeout=0.5)
async def sync_slow(ctx: Any, payload: Any) -> str:
    await asyncio.sleep(2)
    return "late but done"


@app.flow("Async")
async def async_flow(ctx: Any, payload: Any) -> Any:
    return {"async": True}


@app.flow("Custom", response=HttpResponse(202, "text/plain", "thanks", {"x-custom": "1"}))
async def custom(ctx: Any, payload: Any) -> str:
    return "custom ran"


def echo_challenge(ctx: Any, payload: Any) -> TriggerResult:
    parsed = ET.fromstring(payload.raw_body.data)
    challenge = parsed.findtext("challenge")
    data = {child.tag: child.text for child in parsed}
    payload.body.data = {parsed.tag: data}
    if challenge is not None:
        return TriggerResult(payload, HttpResponse(200, "text/plain", challenge), run=False)
    return TriggerResult(payload)


@app.flow("Challenge", on_trigger=echo_challenge)
async def challenge(ctx: Any, payload: Any) -> Any:
    return payload.body.data


async def refuse(ctx: Any, payload: Any) -> TriggerResult:
    raise ValueError("signature header is missing")


@app.flow("Refused", on_trigger=refuse)
async def refused(ctx: Any, payload: Any) -> None: ...


@app.flow("Flaky")
async def flaky(ctx: Any, payload: Any) -> dict[str, Any]:
    runs = await ctx.flow_state.update(lambda n: (n or 0) + 1)
    if runs < 3:
        raise RuntimeError(f"flaky failure {runs}")
    return {"runs": runs}


@app.flow("Fixable", attempts=1)
async def fixable(ctx: Any, payload: Any) -> str:
    marker = os.environ.get("HOOKCORE_TEST_MARKER_DIR", "")
    if not Path(marker, "FIXED").exists():  # noqa: ASYNC240 (test marker)
        raise RuntimeError("not fixed yet")
    return "fixed"


@app.flow("Steps")
def steps(ctx: Any, payload: Any) -> int:
    total = ctx.step("add", lambda a, b: a + b, 2, 3)
    ctx.log.info("total is %d", total)
    return ctx.step("double", lambda x: x * 2, total)


@app.flow("Count", rate_limit=1_000_000)
async def count(ctx: Any, payload: Any) -> int:
    return await ctx.flow_state.update(lambda n: (n or 0) + 1)


@app.flow("CountSync")
def count_sync(ctx: Any, payload: Any) -> int:
    return ctx.instance_state.update_sync(lambda s: {"n": (s or {}).get("n", 0) + 1})["n"]


@app.flow("Binary", synchronous=True)
async def binary(ctx: Any, payload: Any) -> bytes:
    return b"\x89PNG\x00\x01"


def stamp(ctx: Any, payload: Any) -> TriggerResult:
    payload.body.data = {"stamped": True, "was": payload.body.data}
    return TriggerResult(payload)


@app.flow("Keyed", api_keys=True, on_trigger=stamp)
async def keyed(ctx: Any, payload: Any) -> dict[str, Any]:
    """Reports what it sees of its instance by digest, so that its result stores no key either."""
    ctx.log.info("keyed flow ran for %s", payload.customer)
    keys = payload.webhook_api_keys.get("Keyed", [])
    return {
        "keyDigests": [hashlib.sha256(k.encode()).hexdigest() for k in keys],
        "sameAsContext": payload.webhook_api_keys == ctx.webhook_api_keys,
        "webhookUrls": payload.webhook_urls,
        "invokeUrl": payload.invoke_url,
        "headers": sorted(payload.headers),
        "body": payload.body.data,
    }


def pass_through(ctx: Any, payload: Any) -> TriggerResult:
    return TriggerResult(payload)


@app.flow("ReprHooked", on_trigger=pass_through)
async def repr_hooked(ctx: Any, payload: Any) -> str:
    """What the flow saw after on_trigger handed the payload on unchanged."""
    return repr(payload.body.data)
