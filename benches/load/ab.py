"""A/B of the durable ingest between two checkouts, interleaved in one run.

    python -m benches.load.ab OLD_CHECKOUT NEW_CHECKOUT [--rounds 6] [--duration 10]

Each checkout needs its own ``.venv`` with hookcore installed (``make install``
there). Every round starts, for each checkout in turn, a fresh nats-server
(pinned to CPU 1, sharing it with wrk) and ``hookcore serve`` from that
checkout (pinned to CPU 0), deploys the bench integration and measures 1 KB
JSON POSTs at 64 connections, as ``benches.load`` does; it prints each run and
the medians. Use it to tell whether a change made the hot path slower: the
machine's speed drifts between runs by more than the changes being measured.

Besides req/s it reports the CPU time each side spent per request during the
measured run (``/proc``'s utime + stime of hookcore's process tree and of
nats-server, divided by the requests wrk counted): a cost that holds up on a
busy machine, where req/s mostly measures the neighbours.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from benches.load.__main__ import BODY, TOKEN, _pin, _serve, _wrk, deploy_bench
from hookcore.embedded import EmbeddedNats, free_port


def _start(checkout: Path, nats_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    env = {"HOOKCORE_NATS_URL": nats_url, "HOOKCORE_PUBLIC_URL": public, "HOOKCORE_ADMIN_TOKEN": TOKEN}
    python = str(checkout / ".venv" / "bin" / "python")
    command = [python, "-m", "hookcore", "serve", "--app", "benches.load.bench_app:app", "--port", str(port)]
    server = _serve(command, env, port, "/readyz", cwd=checkout)
    url = deploy_bench(public)["Load"]
    time.sleep(0.5)  # the deploy reaches the routing table through the KV watch
    return server, url


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of ``pid`` and its descendants so far; 0 for one that is gone."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += _cpu_seconds(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benches.load.ab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkouts", nargs=2, type=Path, help="the two checkouts, old first")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    args = parser.parse_args()
    results: dict[Path, list[float]] = {c: [] for c in args.checkouts}
    costs: dict[Path, list[tuple[float, float]]] = {c: [] for c in args.checkouts}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(BODY.decode())}\n"
        )
        for round_no in range(args.rounds):
            for i, checkout in enumerate(args.checkouts):
                nats = EmbeddedNats(Path(tmp) / f"nats-{round_no}-{i}")
                nats.start()
                _pin(nats.process.pid, "1")  # type: ignore[union-attr]
                server, url = _start(checkout.resolve(), nats.url)
                pids = {"hookcore": server.pid, "nats": nats.process.pid}  # type: ignore[union-attr]
                try:
                    _wrk(url, script, 2, 64)  # warm-up
                    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
                    r = _wrk(url, script, args.duration, 64)
                    spent = {name: _cpu_seconds(pid) - before[name] for name, pid in pids.items()}
                finally:
                    server.terminate()
                    server.wait(20)
                    nats.stop()
                results[checkout].append(r["rps"])
                requests = r["rps"] * args.duration
                cost = (spent["hookcore"] / requests * 1e6, spent["nats"] / requests * 1e6)
                costs[checkout].append(cost)
                print(
                    f"round {round_no + 1} {checkout}: {r['rps']:.0f} req/s "
                    f"p50 {r['p50']:.2f} ms p99 {r['p99']:.2f} ms, CPU per request: "
                    f"hookcore {cost[0]:.1f} µs, nats-server {cost[1]:.1f} µs",
                    flush=True,
                )
    medians = {c: sorted(v)[len(v) // 2] for c, v in results.items()}
    old, new = args.checkouts
    cpu = {c: tuple(sorted(x[i] for x in v)[len(v) // 2] for i in (0, 1)) for c, v in costs.items()}
    for checkout, runs in results.items():
        print(
            f"{checkout}: median {medians[checkout]:.0f} req/s, runs {[round(x) for x in runs]}; median "
            f"CPU per request: hookcore {cpu[checkout][0]:.1f} µs, nats-server {cpu[checkout][1]:.1f} µs"
        )
    print(f"new / old: {medians[new] / medians[old]:.2f} req/s")
    for i, side in enumerate(("hookcore", "nats-server")):
        print(f"new / old: {cpu[new][i] / cpu[old][i]:.2f} of {side}'s CPU per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
