"""Load run: 1 KB JSON webhooks against bare Granian, a naive JetStream app and hookcore, same run.

    python -m benches.load [--duration 10] [--connections 64] [--rounds 2]

Each server runs one process pinned to CPU 0 (taskset); wrk and nats-server
share CPU 1. hookcore's ingress runs alone (no worker), with JetStream file
storage, so the run measures accepting durably; it runs twice, with rate
limiting on (a limit never reached: every request pays for the decision)
and off. Prints a Markdown table
with req/s, p50, p99 and the ratio to bare Granian measured in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from hookcore.embedded import EmbeddedNats, free_port

ROOT = Path(__file__).resolve().parents[2]
BODY = json.dumps({"event": "order.created", "id": "A-1001", "pad": "x" * 960}).encode()
TOKEN = "bench-token"
SECRET = "bench signing secret"


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benches.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default 64)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per target (default 2)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found: install it with `apt-get install wrk`", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        script = work / "post.lua"
        script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(BODY.decode())}\n"
        )
        signed_script = work / "signed.lua"
        signature = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
        signed_script.write_text(
            script.read_text() + f'wrk.headers["X-Hub-Signature-256"] = "sha256={signature}"\n'
        )
        nats = EmbeddedNats(work / "nats")
        nats.start()
        _pin(nats.process.pid, "1")  # type: ignore[union-attr]
        try:
            targets = {
                "bare Granian RSGI (200, no I/O)": lambda: _bare(work),
                "naive RSGI (msgspec decode + await js.publish)": lambda: _naive(work, nats.url),
                "hookcore ingress (durable, JetStream file)": lambda: _hookcore(work, nats.url),
                "hookcore ingress, rate limiting off": lambda: _hookcore(work, nats.url, rate_limits=False),
                "hookcore ingress, verify.github (signed requests)": lambda: _hookcore(
                    work, nats.url, flow="Signed"
                ),
            }
            scripts = {name: signed_script if "verify" in name else script for name in targets}
            results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for round_no in range(args.rounds):
                for name, start in targets.items():
                    server, url = start()
                    try:
                        _wrk(url, scripts[name], 2, args.connections)  # warm-up
                        r = _wrk(url, scripts[name], args.duration, args.connections)
                        print(
                            f"round {round_no + 1}/{args.rounds}  {name}: {r['rps']:.0f} req/s "
                            f"p50 {r['p50']:.2f} ms p99 {r['p99']:.2f} ms  non-2xx {r['errors']:.0f}",
                            file=sys.stderr,
                            flush=True,
                        )
                        results[name].append(r)
                    finally:
                        server.terminate()
                        server.wait(20)
        finally:
            nats.stop()
    _report(results, args)
    return 0


def _pin(pid: int, cpus: str) -> None:
    if shutil.which("taskset"):
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], check=False, capture_output=True)


def _serve(
    command: list[str], env: dict[str, str], port: int, ready_path: str, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    prefix = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    process = subprocess.Popen(
        [*prefix, *command],
        env={**os.environ, **env},
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=1):
                return process
        except urllib.error.HTTPError:
            return process  # answering at all is ready enough for the baselines
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{command} did not start")


def _granian(target: str, port: int, env: dict[str, str], factory: bool = False) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "rsgi",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        command.append("--factory")
    return _serve([*command, target], env, port, "/")


def _bare(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    return _granian("benches.load.bare_app:app", port, {}), f"http://127.0.0.1:{port}/trigger/x"


def _naive(work: Path, nats_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    return _granian(
        "benches.load.naive_app:app", port, {"NAIVE_NATS_URL": nats_url}
    ), f"http://127.0.0.1:{port}/trigger/x"


def _hookcore(
    work: Path, nats_url: str, rate_limits: bool = True, flow: str = "Load"
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    env = {
        "HOOKCORE_NATS_URL": nats_url,
        "HOOKCORE_PUBLIC_URL": public,
        "HOOKCORE_ADMIN_TOKEN": TOKEN,
        "HOOKCORE_RATE_LIMITS": str(rate_limits),
    }
    server = _serve(
        [
            sys.executable,
            "-m",
            "hookcore",
            "serve",
            "--app",
            "benches.load.bench_app:app",
            "--port",
            str(port),
        ],
        env,
        port,
        "/readyz",
    )
    url = deploy_bench(public)[flow]
    time.sleep(0.5)  # the deploy reaches the routing table through the KV watch
    return server, url


def deploy_bench(base: str) -> dict[str, str]:
    """Deploy `bench_app` for a bench customer; flow name -> webhook URL."""
    request = urllib.request.Request(
        f"{base}/api/instances",
        method="POST",
        data=json.dumps(
            {"integration": "bench", "customer": "bench", "config": {"bench_secret": SECRET}}
        ).encode(),
        headers={"authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return dict(json.loads(response.read())["webhookUrls"])


def _wrk(url: str, script: Path, duration: int, connections: int) -> dict[str, float]:
    prefix = ["taskset", "-c", "1"] if shutil.which("taskset") else []
    out = subprocess.run(
        [*prefix, "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50": _latency(out, "50%"),
        "p99": _latency(out, "99%"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def _latency(out: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    best = {name: max(runs, key=lambda r: r["rps"]) for name, runs in results.items()}
    baseline = next(iter(best.values()))["rps"]
    rounds = f"best of {args.rounds} alternating rounds"
    print(f"\n{args.connections} connections, {args.duration}s per run, {rounds}\n")
    print("| target | req/s | p50 ms | p99 ms | non-2xx | ratio to bare |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in best.items():
        print(
            f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']:.0f} | "
            f"{r['rps'] / baseline:.2f} |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
