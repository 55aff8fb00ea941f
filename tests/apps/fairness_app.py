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
