"""Where the load runs' processes run: servers on one CPU, wrk and nats-server on the other.

Pinning needs ``taskset`` and at least two CPUs; without either, processes
run where the kernel puts them and the saved results say so.
"""

from __future__ import annotations

import os
import shutil
import subprocess

SERVER_CPU = "0"  # the server under test (Granian, uvicorn, hookcore serve and worker)
LOAD_CPU = "1"  # wrk and nats-server


def enabled() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pinned(command: list[str], cpu: str) -> list[str]:
    """``command`` run on ``cpu`` (taskset execs it: the pid is the command's)."""
    return ["taskset", "-c", cpu, *command] if enabled() else command


def pin(pid: int, cpu: str) -> None:
    """Move a running process and all its threads to ``cpu``."""
    if enabled():
        subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(pid)], check=True, capture_output=True)


def describe() -> dict[str, str]:
    """The layout, for the saved results."""
    if not enabled():
        return {"pinning": "none (taskset missing or one CPU)"}
    return {
        "pinning": "taskset",
        "server_cpu": SERVER_CPU,
        "load_and_nats_cpu": LOAD_CPU,
    }
