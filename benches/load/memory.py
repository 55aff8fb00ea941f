"""The ingress's memory with large uploads in flight: ``python -m benches.load.memory``.

Starts a nats-server (NATS's default 1 MB max_payload, so 10 MB bodies go to
the object store) and one ``hookcore serve`` process, sends ``rounds`` rounds
of ``uploads`` concurrent JSON bodies of ``size`` bytes to 127.0.0.1, and
prints the resident memory of the serve process tree (Granian's main process
and its worker): idle, and the peak (``VmHWM``) after the uploads. Issue 20's
bound: 8 concurrent 10 MB uploads cost the ingress at most 200 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benches.load.servers import TOKEN, app_flags, deploy, nats_server, process
from hookcore.embedded import free_port

MIB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benches.load.memory", description=__doc__)
    parser.add_argument("--uploads", type=int, default=8, help="concurrent uploads per round (8)")
    parser.add_argument("--size", type=int, default=10 * MIB, help="bytes per body (10 MiB)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of uploads (3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        idle, peak = measure(Path(tmp), args.uploads, args.size, args.rounds)
    print(f"hookcore serve, resident memory per process (MiB): idle {idle}, peak {peak}")
    print(f"{args.rounds} rounds of {args.uploads} concurrent {args.size / MIB:g} MiB uploads: ", end="")
    print(f"peak of the busiest process {max(peak.values())} MiB")


def measure(work: Path, uploads: int, size: int, rounds: int) -> tuple[dict[int, int], dict[int, int]]:
    """(RSS in MiB per process once ready, peak RSS in MiB per process after the uploads)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hookcore", "serve", *app_flags(), "--port", str(port)]
    with nats_server(work / "nats") as nats_url:
        env = {
            "HOOKCORE_NATS_URL": nats_url,
            "HOOKCORE_PUBLIC_URL": base,
            "HOOKCORE_ADMIN_TOKEN": TOKEN,
            "HOOKCORE_MAX_BODY": str(max(size, 10 * MIB)),
        }
        with process(command, env, work / "serve.log") as child:
            _wait_ready(base, child)
            url = deploy(base)["Noop"]
            time.sleep(1.0)  # the route reaches the table
            idle = {pid: rss for pid, (rss, _) in _memory(child.pid).items()}
            body = b'{"pad":"' + b"x" * (size - 10) + b'"}'
            asyncio.run(_upload(url, body, uploads, rounds))
            peak = {pid: hwm for pid, (_, hwm) in _memory(child.pid).items()}
    return idle, peak


def _wait_ready(base: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if child.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("hookcore serve did not become ready")
        time.sleep(0.1)


async def _upload(url: str, body: bytes, uploads: int, rounds: int) -> None:
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(timeout=120) as client:
        for _ in range(rounds):
            answers = await asyncio.gather(
                *(client.post(url, content=body, headers=headers) for _ in range(uploads))
            )
            failed = [a.status_code for a in answers if a.status_code != 200]
            if failed:
                raise RuntimeError(f"uploads answered {failed}")


def peak_mib(leader: int) -> int:
    """The highest peak resident memory (VmHWM) in MiB among ``leader`` and its children."""
    return max(hwm for _, hwm in _memory(leader).values())


def _memory(leader: int) -> dict[int, tuple[int, int]]:
    """(VmRSS, VmHWM) in MiB of ``leader`` and its children."""
    children = subprocess.run(["pgrep", "-P", str(leader)], capture_output=True, text=True).stdout.split()
    found = {}
    for pid in [leader, *map(int, children)]:
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
        )
        found[pid] = (int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024)
    return found


if __name__ == "__main__":
    main()
