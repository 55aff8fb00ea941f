"""Baseline: the cheapest Granian RSGI app — read the body, answer 200."""

from __future__ import annotations

from typing import Any

HEADERS = [("content-type", "application/json")]
BODY = b'{"executionId":"00000000-0000-7000-8000-000000000000"}'


async def app(scope: Any, proto: Any) -> None:
    await proto()
    proto.response_bytes(200, HEADERS, BODY)
