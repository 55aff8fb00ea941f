"""The executions list's live feed: server-sent events from a JetStream subscription.

Each feed is an ordered push consumer on the records bucket's subjects
(``$KV.hookcore_records.>``) delivering only what is written from now on
(``DeliverPolicy.NEW``): nothing is polled, and nothing already stored is read.
Every record write a filter matches becomes one ``execution`` event whose data is
``{"id", "status", "row"}`` (``row``: the escaped table row to show).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import msgspec
from granian.rsgi import ProtocolClosed
from nats.js.api import DeliverPolicy

from hookcore.queue import RECORDS_BUCKET, JetStream, kv_subject
from hookcore.store import ExecutionRecord

log = logging.getLogger("hookcore.console")

HEARTBEAT_SECONDS = 15.0
"""A comment line this often keeps proxies from closing an idle feed."""
FEED_SECONDS = 300.0
"""A feed ends after this long; the browser's EventSource reconnects by itself."""
RETRY_MILLIS = 2000

_decode = msgspec.json.Decoder(ExecutionRecord).decode


async def feed(
    proto: Any,
    jet: JetStream,
    headers: list[tuple[str, str]],
    matches: Callable[[ExecutionRecord], bool],
    render: Callable[[ExecutionRecord], str],
) -> None:
    """Answer with an event stream of the record writes ``matches`` accepts, until the client leaves."""
    sub = await jet.js.subscribe(
        kv_subject(RECORDS_BUCKET, ">"), ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
    )
    transport = proto.response_stream(200, [("content-type", "text/event-stream"), *headers])
    gone = asyncio.ensure_future(proto.client_disconnect())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FEED_SECONDS
    try:
        await transport.send_str(f"retry: {RETRY_MILLIS}\n: live\n\n")
        while not gone.done() and loop.time() < deadline:
            message = asyncio.ensure_future(sub.next_msg(timeout=HEARTBEAT_SECONDS))
            await asyncio.wait({message, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not message.done():
                message.cancel()
                break
            try:
                data = message.result().data
            except TimeoutError:  # nats-py's own is one too
                await transport.send_str(": heartbeat\n\n")
                continue
            event = _event(data, matches, render)
            if event is not None:
                await transport.send_str(event)
    except ProtocolClosed:  # the client went away while an event was sent
        log.debug("live feed ended: the client left")
    finally:
        gone.cancel()
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


def _event(
    data: bytes, matches: Callable[[ExecutionRecord], bool], render: Callable[[ExecutionRecord], str]
) -> str | None:
    if not data:  # a delete or purge marker
        return None
    try:
        record = _decode(data)
    except msgspec.DecodeError:
        log.warning("live feed: skipping a records entry that is not an execution record")
        return None
    if not matches(record):
        return None
    payload = json.dumps({"id": record.id, "status": record.status, "row": render(record)})
    return f"event: execution\ndata: {payload}\n\n"
