"""`rate_limit=` and `burst=` on an integration and on a flow, through real HTTP (SPEC 3, 4)."""

from __future__ import annotations

import asyncio
import math
import time

import httpx
import pytest

from hookcore.errors import ErrorCode
from support import Hookcore


async def _at_once(url: str, total: int) -> tuple[list[httpx.Response], float]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=total)) as client:
        # connections first (HEAD takes no token), so the burst is as short as the machine allows
        await asyncio.gather(*(client.head(url) for _ in range(total)))
        start = time.monotonic()
        answers = await asyncio.gather(*(client.post(url) for _ in range(total)))
        return answers, time.monotonic() - start


def _next_refusal(url: str) -> httpx.Response:
    """Requests one after another until one is refused; that answer."""
    with httpx.Client(timeout=30) as client:
        for _ in range(100):
            if (answer := client.post(url)).status_code != 200:
                return answer
    raise AssertionError(f"100 requests in a row to {url} were accepted")


@pytest.mark.parametrize(
    ("integration", "flow", "rate", "burst"),
    [
        ("limited", "Default", 5, 5),  # Integration(rate_limit=5): burst defaults to the rate
        ("limited", "Bursty", 1, 8),  # @flow(rate_limit=1, burst=8) wins over the integration's
        ("limited-burst", "Any", 2, 6),  # Integration(rate_limit=2, burst=6)
    ],
)
def test_rate_and_burst_settings(
    hookcore: Hookcore, integration: str, flow: str, rate: int, burst: int
) -> None:
    instance = hookcore.deploy(f"rl-{flow.lower()}", integration=integration)
    url = instance["webhookUrls"][flow]
    endpoint_id = url.rsplit("/", 1)[1]
    answers, elapsed = asyncio.run(_at_once(url, 20))
    accepted = [a for a in answers if a.status_code == 200]
    # On a machine slow enough that the bucket refilled as fast as the 20 drained it, none was
    # refused: the next one that is shows what a refusal says.
    refused = [a for a in answers if a.status_code != 200] or [_next_refusal(url)]
    # exactly the burst at once, plus what refilled while the 20 were answered
    assert burst <= len(accepted) <= burst + math.floor(rate * elapsed), (len(accepted), elapsed)
    for answer in answers:
        assert answer.headers["ratelimit-limit"] == str(burst)
        assert 0 <= int(answer.headers["ratelimit-remaining"]) < burst
    for answer in refused:
        assert answer.status_code == 429
        assert answer.headers["hookcore-error-code"] == ErrorCode.RATE_LIMITED
        assert answer.json() == {
            "error": f"Endpoint with id: {endpoint_id} has exceeded maximum allowed throughput of "
            f"{rate} requests/second. Please throttle your requests."
        }
        assert int(answer.headers["retry-after"]) >= 1
        assert "hookcore-execution-id" not in answer.headers
    assert len({a.json()["executionId"] for a in accepted}) == len(accepted)
