"""What taking turns between shards costs in CPU: ``python -m benches.load.fairness_cpu``.

Queues a backlog on the shared endpoint (1 KB JSON from ``--customers`` customers, ``wrk`` for
``--seconds``) with no worker running, then starts one worker and lets it drain the backlog:
the worker taking turns between the shards, then the same worker reading one first-come-first-
served queue (`first_come_worker`), alternated for ``--rounds`` rounds (ABBA). For each drain it prints
executions per second and the CPU time per execution of nats-server and of hookcore's processes
(the worker; the ingress is idle meanwhile), read from ``/proc``: a cost that holds on a busy
machine, where executions per second mostly measure the neighbours.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benches.load import wrk
from benches.load.ab import _cpu_seconds
from benches.load.runs import _abba, _drained, _emptied, _stored
from benches.load.servers import deploy_shared, hookcore_serve, hookcore_worker, nats_server


@dataclass(frozen=True)
class Drain:
    first_come: bool
    executions: int
    per_second: float
    nats_us: float
    """nats-server's CPU time per execution, microseconds."""
    hookcore_us: float
    """hookcore's processes' CPU time per execution, microseconds."""

    def __str__(self) -> str:
        who = "first come first served" if self.first_come else "turns between shards   "
        return (
            f"{who}: {self.executions} executions, {self.per_second:.0f}/s; CPU per execution: "
            f"nats-server {self.nats_us:.0f} µs, hookcore {self.hookcore_us:.0f} µs"
        )


def measure(
    work: Path, customers: int, rounds: int, seconds: float, concurrency: int = 64, connections: int = 64
) -> list[Drain]:
    """Every drain, in the order run (``connections``: wrk's, queueing the backlog)."""
    lua = wrk.script(work / "customers.lua", random_customers=customers)
    drains = []
    with nats_server(work / "nats") as nats_url, hookcore_serve(nats_url, work) as base:
        shared = deploy_shared(base, nats_url, customers)
        for round_no in range(rounds):
            for first_come in _abba(round_no, False, True):
                asyncio.run(_emptied(nats_url))
                before = asyncio.run(_stored(nats_url))
                wrk.run(shared, lua, seconds, connections)
                queued = asyncio.run(_stored(nats_url)) - before
                with hookcore_worker(nats_url, work, concurrency, first_come):
                    spent, started = _cpu_seconds(), time.perf_counter()
                    asyncio.run(_drained(nats_url, first_come))
                    elapsed, after = time.perf_counter() - started, _cpu_seconds()
                drains.append(
                    Drain(
                        first_come,
                        queued,
                        queued / elapsed,
                        (after["nats"] - spent["nats"]) / queued * 1e6,
                        (after["hookcore"] - spent["hookcore"]) / queued * 1e6,
                    )
                )
    return drains


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benches.load.fairness_cpu", description=__doc__)
    parser.add_argument("--customers", type=int, default=1000, help="customers sending (1000)")
    parser.add_argument("--rounds", type=int, default=2, help="drains of each kind, alternated (2)")
    parser.add_argument("--seconds", type=float, default=4, help="seconds of requests per backlog (4)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for drain in measure(Path(tmp), args.customers, args.rounds, args.seconds):
            print(drain)


if __name__ == "__main__":
    main()
