"""Trivial flows for the end-to-end benches."""

from __future__ import annotations

from typing import Any

from hookcore import Integration

app = Integration("bench")


@app.flow("Load", rate_limit=1e9)  # the load harness measures accepting, not refusing
async def load(ctx: Any, payload: Any) -> None:
    return None


@app.flow("Sync", synchronous=True, rate_limit=1e9)
async def sync(ctx: Any, payload: Any) -> dict[str, bool]:
    return {"ok": True}


@app.flow("Noop", rate_limit=1e9)
async def noop(ctx: Any, payload: Any) -> None:
    return None
