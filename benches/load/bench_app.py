"""Trivial flows for the end-to-end benches."""

from __future__ import annotations

from typing import Any

from hookcore import Integration

app = Integration("bench")


@app.flow("Sync", synchronous=True)
async def sync(ctx: Any, payload: Any) -> dict[str, bool]:
    return {"ok": True}


@app.flow("Noop")
async def noop(ctx: Any, payload: Any) -> None:
    return None
