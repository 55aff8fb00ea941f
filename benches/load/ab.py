"""A/B of the durable ingest between two checkouts, interleaved in one run.

    python -m benches.load.ab OLD_CHECKOUT NEW_CHECKOUT [--rounds 6] [--duration 10]

Each checkout needs its own ``.venv`` with hookcore installed (``make install``
there). Every round starts, for each checkout in turn, a fresh nats-server
(pinned to the load CPU, sharing it with wrk) and ``hookcore serve`` from that
checkout (pinned to the server CPU), deploys the bench integration and
measures 1 KB JSON POSTs at 64 connections, as ``make bench``'s durable ingest
run does; it prints each run and the medians. Use it to tell whether a change
made the hot path slower: the machine's speed drifts between runs by more
than the changes being measured.

Besides req/s it reports the CPU time each side spent per request during the
measured run (``/proc``'s utime + stime of nats-server and of hookcore's
process tree, divided by the requests wrk counted): a cost that holds up on a
busy machine, where req/s mostly measures the neighbours.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from benches.load import wrk
from benches.load.servers import APPS, deploy, hookcore_serve, nats_server, wait_routable


def _cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) so far of this process's live descendants: nats-server's
    and the rest's (hookcore's process tree; wrk runs only while measured, then is gone)."""
    tick = os.sysconf("SC_CLK_TCK")
    spent = {"nats": 0.0, "hookcore": 0.0}
    todo = [os.getpid()]
    while todo:
        pid = todo.pop()
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
            if pid == os.getpid():
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            side = "nats" if Path(f"/proc/{pid}/comm").read_text().strip() == "nats-server" else "hookcore"
            spent[side] += (int(fields[11]) + int(fields[12])) / tick
        except (FileNotFoundError, ProcessLookupError):
            continue
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benches.load.ab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkouts", nargs=2, type=Path, help="the two checkouts, old first")
    parser.add_argument("--rounds", type=int, default=6, help="an even number: each goes first as often")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    args = parser.parse_args()
    results: dict[Path, list[float]] = {c: [] for c in args.checkouts}
    costs: dict[Path, list[tuple[float, float]]] = {c: [] for c in args.checkouts}
    with tempfile.TemporaryDirectory() as tmp:
        lua = wrk.script(Path(tmp) / "post.lua")
        for round_no in range(args.rounds):
            # ABBA: the second of a pair runs while the first one's servers wind down (measured:
            # ~7 % slower), so each checkout goes first in every other round.
            order = list(enumerate(args.checkouts))
            for i, checkout in order if round_no % 2 == 0 else order[::-1]:
                work = Path(tmp) / f"{round_no}-{i}"
                work.mkdir()
                python = str(checkout.resolve() / ".venv" / "bin" / "python")
                with (
                    nats_server(work / "nats") as nats_url,
                    # an older checkout's bench app may lack the shared integration
                    hookcore_serve(nats_url, work, python, checkout.resolve(), APPS[:1]) as base,
                ):
                    url = deploy(base)["Load"]
                    wait_routable(url, {"content-type": "application/json"}, wrk.BODY)
                    wrk.run(url, lua, 2, 64)  # warm-up
                    before = _cpu_seconds()
                    r = wrk.run(url, lua, args.duration, 64)
                    after = _cpu_seconds()
                results[checkout].append(r.rps)
                requests = r.rps * args.duration
                cost = tuple((after[side] - before[side]) / requests * 1e6 for side in ("hookcore", "nats"))
                costs[checkout].append(cost)  # type: ignore[arg-type]
                print(
                    f"round {round_no + 1} {checkout}: {r.rps:.0f} req/s "
                    f"p50 {r.p50_ms:.2f} ms p99 {r.p99_ms:.2f} ms, CPU per request: "
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
