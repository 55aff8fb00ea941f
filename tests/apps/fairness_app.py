"""The integration the fairness tests deploy (tests/integration/test_fairness.py): one shared
endpoint for every customer, the flow named by the ``x-event`` header, not rate limited."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from hookcore import Integration, header

fair = Integration(
    "fair-shared",
    endpoint="shared",
    customer_from=header("x-customer"),
    flow_from=header("x-event"),
    rate_limit=1_000_000,  # floods are the point
)


@fair.flow("Work")
async def work(ctx: Any, payload: Any) -> dict[str, Any]:
    """Appends ``{customer} {execution id} {unix time} {pid}`` to ``$HOOKCORE_TEST_MARKER_DIR/starts`` as it
    starts (one short append per run: the order the workers started them), then sleeps ``?sleep=``
    seconds (default: none)."""
    marker = os.environ.get("HOOKCORE_TEST_MARKER_DIR")
    if marker:
        with Path(marker, "starts").open("a") as starts:  # noqa: ASYNC230 (test marker)
            starts.write(f"{payload.customer} {payload.execution_id} {time.time():.6f} {os.getpid()}\n")
    await asyncio.sleep(float(payload.query_parameters.get("sleep", "0")))
    return {"customer": payload.customer}


@fair.flow("Ask", synchronous=True, sync_timeout=20)
async def ask(ctx: Any, payload: Any) -> dict[str, Any]:
    """Answers the caller who waits for it."""
    return {"customer": payload.customer}


capped = Integration(
    "capped-shared",
    endpoint="shared",
    customer_from=header("x-customer"),
    flow_from=header("x-event"),
    rate_limit=1_000_000,
    max_concurrency=3,
)
"""``max_concurrency``: at most 3 of one customer's executions of its flows at once, 2 of ``Slow``'s."""


def _mark(payload: Any, what: str) -> None:
    marker = os.environ.get("HOOKCORE_TEST_MARKER_DIR")
    if marker:
        with Path(marker, "runs").open("a") as runs:
            line = f"{what} {payload.customer} {payload.flow} {payload.execution_id} {time.time():.6f}"
            runs.write(f"{line} {os.getpid()}\n")


@capped.flow("Slow", max_concurrency=2, attempts=1)
async def slow(ctx: Any, payload: Any) -> dict[str, Any]:
    """Appends ``begin|end {customer} {flow} {execution id} {unix time} {pid}`` to
    ``$HOOKCORE_TEST_MARKER_DIR/runs`` around a sleep of ``?sleep=`` seconds (default 0.2)."""
    _mark(payload, "begin")
    await asyncio.sleep(float(payload.query_parameters.get("sleep", "0.2")))
    _mark(payload, "end")
    return {"customer": payload.customer}


@capped.flow("Quick")
async def quick(ctx: Any, payload: Any) -> dict[str, Any]:
    """Like ``Slow``, under the integration's cap only."""
    return await slow(ctx, payload)
