"""Integration for the rate-limit tests: an integration-wide limit and a flow's own rate and burst."""

from __future__ import annotations

from typing import Any

from hookcore import Integration

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
