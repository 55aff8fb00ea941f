"""``hookcore worker`` reading one first-come-first-served queue instead of the shards: the
baseline the fairness run (`runs.fairness_cost`) measures the shards against.

One durable consumer (``bench-first-come``) over every stored request, served by the same
worker, scheduler and pull requests as the shards (as the sync lane is: no turns), so the two
differ only in what fairness adds. Run it on a stream that holds only what it should run: the
shards' consumers see the same messages (`runs.fairness_cost` purges between rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from hookcore import logs
from hookcore.apps import load_apps
from hookcore.config import Settings
from hookcore.jetstream import JetStream
from hookcore.queue import ALL_EXECUTIONS, EXECUTIONS_STREAM, Priority, WorkQueue
from hookcore.worker import Worker

CONSUMER = "bench-first-come"


async def first_come(jet: JetStream, settings: Settings) -> list[WorkQueue]:
    await jet.js.add_consumer(
        EXECUTIONS_STREAM,
        ConsumerConfig(
            durable_name=CONSUMER,
            filter_subject=ALL_EXECUTIONS,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=settings.ack_wait,
            max_ack_pending=-1,
        ),
    )
    return [WorkQueue(CONSUMER, ALL_EXECUTIONS, Priority.SYNC)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app", action="append", required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    settings = Settings.load()
    logs.configure(settings.log_format, settings.log_level)  # the bench waits for "worker ready"
    worker = Worker(settings, load_apps(args.app), args.concurrency, queues=first_come)

    async def run() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await worker.run(stop)

    try:
        import uvloop  # as `hookcore worker` runs where it is installed
    except ImportError:
        asyncio.run(run())
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run())


if __name__ == "__main__":
    main()
