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
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benches.load import wrk
from benches.load.servers import APPS, deploy, hookcore_serve, nats_server, wait_routable


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
    with tempfile.TemporaryDirectory() as tmp:
        lua = wrk.script(Path(tmp) / "post.lua")
        for round_no in range(args.rounds):
            for i, checkout in enumerate(args.checkouts):
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
                    r = wrk.run(url, lua, args.duration, 64)
                results[checkout].append(r.rps)
                print(
                    f"round {round_no + 1} {checkout}: {r.rps:.0f} req/s "
                    f"p50 {r.p50_ms:.2f} ms p99 {r.p99_ms:.2f} ms",
                    flush=True,
                )
    medians = {c: sorted(v)[len(v) // 2] for c, v in results.items()}
    old, new = args.checkouts
    for checkout, runs in results.items():
        print(f"{checkout}: median {medians[checkout]:.0f} req/s, runs {[round(x) for x in runs]}")
    print(f"new / old: {medians[new] / medians[old]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
