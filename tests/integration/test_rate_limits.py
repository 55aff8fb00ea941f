"""Rate limits: token buckets per endpoint (and per customer on shared endpoints),
held across the ingress processes of a machine."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from hookcore import _core
from hookcore.config import Settings
from hookcore.errors import ErrorCode
from hookcore.ingress import rate_table_file
from support import Hookcore, running_hookcore, running_nats, stream_last_seq

SEED_429 = re.compile(
    r"Endpoint with id: (\S+) has exceeded maximum allowed throughput of 50 requests/second\. "
    r"Please throttle your requests\."
)


async def _burst(
    urls: list[str], total: int, headers: dict[str, str] | None = None, content: bytes = b""
) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=80)) as client:
        # Open the connections first, so the burst itself is as short as the machine allows.
        await asyncio.gather(*(client.head(urls[i % len(urls)]) for i in range(min(total, 80))))
        return await asyncio.gather(
            *(client.post(urls[i % len(urls)], headers=headers, content=content) for i in range(total))
        )


def _check(responses: list[httpx.Response], endpoint_id: str) -> Counter[int]:
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 429}, statuses
    for r in responses:
        assert r.headers["ratelimit-limit"] == "50"
        assert 0 <= int(r.headers["ratelimit-remaining"]) <= 50
        assert int(r.headers["ratelimit-reset"]) >= 0
        if r.status_code == 429:
            match = SEED_429.fullmatch(r.json()["error"])
            assert match and match.group(1) == endpoint_id, r.text
            assert int(r.headers["retry-after"]) >= 1
            assert r.headers["hookcore-error-code"] == ErrorCode.RATE_LIMITED
            assert "hookcore-execution-id" not in r.headers
        else:
            assert r.headers["hookcore-execution-id"] == r.json()["executionId"]
    return statuses


REQUESTS_CAP = 1 << 30  # no target yet


def _in_range(accepted: int, elapsed: float) -> bool:
    """80 requests at once: the burst of 50 (±10 %) plus what refilled (50/s) while they arrived."""
    return 45 <= accepted <= 55 + 50 * elapsed


def test_80_requests_in_a_second_at_one_endpoint(hookcore: Hookcore, instance: dict) -> None:
    url = instance["webhookUrls"]["Echo"]  # the default limit: 50/s, burst 50
    stored_before = stream_last_seq(hookcore.nats.url)
    start = time.monotonic()
    statuses = _check(asyncio.run(_burst([url], 80)), url.rsplit("/", 1)[1])
    assert _in_range(statuses[200], time.monotonic() - start), statuses
    assert statuses[429] == 80 - statuses[200]
    # every accepted request was stored, and no refused one
    assert stream_last_seq(hookcore.nats.url) - stored_before == statuses[200]


def test_limits_hold_across_processes_of_one_machine(tmp_path: Path) -> None:
    with (
        running_nats(tmp_path) as server,
        running_hookcore(server, tmp_path, serve_workers=2) as hc,
        running_hookcore(server, tmp_path, workers=0) as other,
    ):
        url = hc.deploy("rl")["webhookUrls"]["Echo"]
        path = url.removeprefix(hc.base)
        other.wait_for_routes([other.base + path], client=other.client)
        # two Granian worker processes behind one port, and a separately started ingress
        start = time.monotonic()
        statuses = _check(asyncio.run(_burst([url, other.base + path], 80)), path.rsplit("/", 1)[1])
        assert _in_range(statuses[200], time.monotonic() - start), statuses


SHARED_RATE, SHARED_BURST = 2, 20  # limits_app:shared, per customer


def test_one_flooding_tenant_does_not_starve_another(hookcore: Hookcore) -> None:
    # A low per-customer limit: the flood empties the flooder's bucket even when a loaded
    # machine answers only a few requests a second (at the default 50/s it might never).
    flood = hookcore.deploy("flooder", integration="limited-shared")
    calm = hookcore.deploy("calm", integration="limited-shared")
    url = flood["invokeUrl"]
    endpoint_id = url.rsplit("/", 1)[1]
    body = b'{"event":{"type":"order.created"}}'
    json_headers = {"content-type": "application/json"}

    flood_headers = {**json_headers, "x-acme-account": "flooder"}

    async def both() -> tuple[list[httpx.Response], list[httpx.Response], int, float]:
        flooded: list[httpx.Response] = []
        refused = asyncio.Event()  # set once the flooder's own bucket is empty
        stop = asyncio.Event()
        enough = asyncio.Event()  # set once the flood went on `target` answers
        target = [REQUESTS_CAP]
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=8)) as client:

            async def flood() -> None:
                while not stop.is_set():
                    response = await client.post(url, headers=flood_headers, content=body)
                    flooded.append(response)
                    if response.status_code == 429:
                        refused.set()
                    if len(flooded) >= target[0]:
                        enough.set()

            start = time.monotonic()
            flooders = [asyncio.create_task(flood()) for _ in range(8)]
            try:
                # Wait on the condition, not a time: the flood has used up the flooder's share.
                await asyncio.wait_for(refused.wait(), timeout=120)
                calm_answers = await _burst(
                    [url], SHARED_BURST, {**json_headers, "x-acme-account": "calm"}, body
                )
                during = len(flooded)  # the flood went on while the calm tenant was answered
                # ...and goes on a little after it, so the calm requests were sent in the middle of it
                target[0] = during + 40
                if len(flooded) >= target[0]:
                    enough.set()
                await asyncio.wait_for(enough.wait(), timeout=120)
                stop.set()
                await asyncio.gather(*flooders)
            finally:  # on a failure too: no request left running into the closed client
                for task in flooders:
                    task.cancel()
                await asyncio.gather(*flooders, return_exceptions=True)
            return flooded, calm_answers, during, time.monotonic() - start

    flooded, calm_answers, during, elapsed = asyncio.run(both())
    assert Counter(r.status_code for r in calm_answers) == Counter({200: SHARED_BURST}), [
        r.text for r in calm_answers if r.status_code != 200
    ]
    assert len(flooded) > during, "the flood had stopped before the calm tenant sent"
    flooded_statuses = Counter(r.status_code for r in flooded)
    assert set(flooded_statuses) == {200, 429}, flooded_statuses
    # the flooder gets its own bucket's worth: the burst plus the rate, however fast it sends
    assert flooded_statuses[200] <= SHARED_BURST + SHARED_RATE * elapsed + 1, (flooded_statuses, elapsed)
    for r in flooded:
        if r.status_code == 429:
            assert r.json() == {
                "error": f"Endpoint with id: {endpoint_id} has exceeded maximum allowed throughput of "
                f"{SHARED_RATE} requests/second. Please throttle your requests."
            }
            assert r.headers["hookcore-error-code"] == ErrorCode.RATE_LIMITED
            assert "hookcore-execution-id" not in r.headers
    assert calm["invokeUrl"] == url


@pytest.mark.may_skip  # "foreign" needs root (CI runs as root)
@pytest.mark.parametrize("planted", ["garbage", "foreign"])
def test_a_planted_rate_table_is_not_trusted(tmp_path: Path, planted: str) -> None:
    """Someone put a file at the table's name first: the ingress never maps it, serves,
    limits with buckets of its own, and says so in its log."""
    if planted == "foreign" and os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    with running_nats(tmp_path) as server:
        path = rate_table_file(Settings.load(nats_url=server.url))
        if planted == "garbage":  # not a table, and writable by anyone
            path.write_bytes(b"not a rate table")
            path.chmod(0o666)
            reason = "mode is 0666"
        else:  # a valid table in every respect but its owner
            _core.check_rate_table(path)
            os.chown(path, 65534, 65534)
            reason = "belongs to uid 65534"
        planted_bytes = path.read_bytes()
        try:
            with running_hookcore(server, tmp_path, workers=0) as hc:
                url = hc.deploy("planted")["webhookUrls"]["Echo"]
                start = time.monotonic()
                statuses = _check(asyncio.run(_burst([url], 80)), url.rsplit("/", 1)[1])
                assert _in_range(statuses[200], time.monotonic() - start), statuses
                assert hc.ingress is not None
                log = hc.ingress.log()
                assert f"rate-limit table {path} is not used" in log, log
                assert reason in log, log
                assert "this process keeps its own rate-limit buckets" in log
                assert path.read_bytes() == planted_bytes  # never written, never resized
        finally:
            path.unlink(missing_ok=True)
