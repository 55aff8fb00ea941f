"""Trivial flows for the end-to-end benches."""

from __future__ import annotations

from typing import Any

from hookcore import Integration, verify

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


# Signed like GitHub's deliveries; duplicates off, since the load repeats one delivery.
@app.flow("Signed", rate_limit=1e9, verify=verify.github(secret="bench_secret"), dedup=None)
async def signed(ctx: Any, payload: Any) -> None:
    return None
