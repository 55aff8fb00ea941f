"""The load generator: Debian's ``wrk`` (4.x), one thread, pinned to the load CPU.

Each run is bounded twice: wrk's own ``-d`` and a subprocess timeout beyond it,
so a run stops by itself even if a server hangs. Scripts are small Lua files
written per run (a fixed 1 KB JSON body, optional headers, an optional random
customer header per request).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benches.load.pinning import LOAD_CPU, pinned

BODY = json.dumps({"event": "order.created", "id": "A-1001", "pad": "x" * 960}).encode()


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    seconds: float


def script(
    path: Path,
    body: bytes | None = BODY,
    headers: dict[str, str] | None = None,
    random_customers: int = 0,
) -> Path:
    """Write a wrk Lua script POSTing ``body``; see the module docstring for the options."""
    lines = ['wrk.method = "POST"']
    if body is not None:
        lines += [
            'wrk.headers["Content-Type"] = "application/json"',
            f"wrk.body = {json.dumps(body.decode())}",
        ]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (headers or {}).items()]
    if random_customers:
        # The header wrk sends is chosen per request; X-Customer routes shared endpoints.
        lines += [
            "request = function()",
            f'  wrk.headers["X-Customer"] = "c" .. math.random(0, {random_customers - 1})',
            "  return wrk.format()",
            "end",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(url: str, lua: Path, duration: float, connections: int) -> WrkResult:
    """One wrk run against ``url`` (127.0.0.1 only) for at most ``duration`` seconds."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"load runs target 127.0.0.1 only, not {url}")
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s"]
    out = subprocess.run(
        pinned([*command, "--latency", "-s", str(lua), url], LOAD_CPU),
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    ).stdout
    done = _match(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return WrkResult(
        rps=float(_match(r"Requests/sec:\s+([\d.]+)", out)[0]),
        p50_ms=_latency(out, "50%"),
        p99_ms=_latency(out, "99%"),
        requests=int(done[0]),
        non_2xx=int(errors.group(1)) if errors else 0,
        seconds=float(done[1]) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[done[2]],
    )


def _match(pattern: str, out: str) -> tuple[str, ...]:
    found = re.search(pattern, out)
    if found is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{out}")
    return found.groups()


def _latency(out: str, label: str) -> float:
    value, unit = _match(rf"{label}\s+([\d.]+)(us|ms|s)", out)
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
