"""End-to-end benches: synchronous round trips and one worker's async throughput.

    python -m benches.load.e2e [--sync-requests 2000] [--async-executions 5000]

1. Sync round trip: POST to a synchronous trivial flow, follow the 303, GET the
   result (httpx, concurrency 1); and request -> 303 with wrk at concurrency 1
   and 32 (the 303 comes once the execution finished). One ingress, one worker.
2. Async throughput: queue N requests with no worker running, then start one
   worker process (concurrency 64) and time until the consumer has acked all.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx
import nats

from benches.load.__main__ import TOKEN, _latency, deploy_bench
from hookcore.embedded import EmbeddedNats, free_port
from hookcore.queue import EXECUTIONS_STREAM, WORKER_CONSUMER

ROOT = Path(__file__).resolve().parents[2]
APP = ["--app", "benches.load.bench_app:app"]
POST_LUA = Path(__file__).with_name("post_empty.lua")


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benches.load.e2e",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sync-requests", type=int, default=2000)
    parser.add_argument("--async-executions", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats(Path(tmp) / "nats")
        server.start()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "HOOKCORE_NATS_URL": server.url,
            "HOOKCORE_PUBLIC_URL": base,
            "HOOKCORE_ADMIN_TOKEN": TOKEN,
        }
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "hookcore", "serve", *APP, "--port", str(port)],
                env=env,
                cwd=ROOT,
                stderr=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        ]
        try:
            _wait(f"{base}/readyz")
            urls = deploy_bench(base)
            time.sleep(0.5)
            procs.append(_worker(env))
            latencies, elapsed = asyncio.run(_sync(urls["Sync"], args.sync_requests // 4, 1))
            q = statistics.quantiles(latencies, n=100)
            print("| synchronous, trivial flow | client | p50 ms | p99 ms | req/s |")
            print("|---|---|---:|---:|---:|")
            print(
                f"| request → 303 → result, concurrency 1 | httpx | {q[49]:.2f} | {q[98]:.2f} | "
                f"{len(latencies) / elapsed:.0f} |",
                flush=True,
            )
            if shutil.which("wrk"):
                for concurrency in (1, 32):
                    r = _wrk(urls["Sync"], concurrency)
                    print(
                        f"| request → 303 (execution done), concurrency {concurrency} | wrk | "
                        f"{r['p50']:.2f} | {r['p99']:.2f} | {r['rps']:.0f} |",
                        flush=True,
                    )
            procs.pop().terminate()
            asyncio.run(_fill(urls["Noop"], args.async_executions))
            start = time.perf_counter()
            procs.append(_worker(env, concurrency=64))
            asyncio.run(_drain(server.url))
            elapsed = time.perf_counter() - start
            print(
                f"\none worker process (concurrency 64, includes its start-up): "
                f"{args.async_executions} executions in {elapsed:.1f}s = "
                f"{args.async_executions / elapsed:.0f} executions/s"
            )
        finally:
            for p in procs:
                p.terminate()
                p.wait(20)
            server.stop()
    return 0


def _wrk(url: str, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", "-d10s", "--latency", "-s", str(POST_LUA), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": _latency(out, "50%"), "p99": _latency(out, "99%")}


def _wait(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not ready")


def _worker(env: dict[str, str], concurrency: int = 16) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "hookcore", "worker", *APP, "--concurrency", str(concurrency)],
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )


async def _sync(url: str, total: int, concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    todo = iter(range(total))
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:

        async def one() -> None:
            for _ in todo:
                t0 = time.perf_counter()
                response = await client.post(url, follow_redirects=True)
                assert response.status_code == 200, response.text
                latencies.append((time.perf_counter() - t0) * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(concurrency)))
    return latencies, time.perf_counter() - start


async def _fill(url: str, total: int) -> None:
    todo = iter(range(total))
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:

        async def one() -> None:
            for _ in todo:
                assert (await client.post(url)).status_code == 200

        await asyncio.gather(*(one() for _ in range(64)))


async def _drain(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    while True:
        info = await js.consumer_info(EXECUTIONS_STREAM, WORKER_CONSUMER)
        if info.num_pending == 0 and info.num_ack_pending == 0:
            break
        await asyncio.sleep(0.05)
    await nc.close()


if __name__ == "__main__":
    raise SystemExit(main())
