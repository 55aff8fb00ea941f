"""The executions list's live feed: server-sent events from a JetStream subscription.

Each feed is an ordered push consumer on the records bucket's subjects
(`hookcore.records.record_subject`) delivering only what is written from now on
(``DeliverPolicy.NEW``): nothing is polled, and nothing already stored is read.
Every record write a filter matches becomes one ``execution`` event whose data is
``{"id", "status", "row"}`` (``row``: the escaped table row to show) and whose
event id is the write's stream sequence.

A feed lasts `FEED_SECONDS`: the HTTP server waits for open responses when it
stops, so a feed that never ended would hold every shutdown. The browser's
EventSource then reconnects by itself, sending the last event id it saw, and the
new feed starts right after that sequence: no write is missed between feeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import msgspec
from granian._granian import RSGIProtocolClosed as ProtocolClosed
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from hookcore.jetstream import JetStream
from hookcore.records import record_subject
from hookcore.store import ExecutionRecord

log = logging.getLogger("hookcore.console")

FEED_SECONDS = 5.0
"""How long one feed lasts (at most how long it delays a shutdown); the browser reconnects."""
RETRY_MILLIS = 500

_decode = msgspec.json.Decoder(ExecutionRecord).decode


def _start(last_event_id: str | None) -> ConsumerConfig:
    """Where a feed starts: after the last event its client saw, else at the next write."""
    if last_event_id and last_event_id.isascii() and last_event_id.isdigit() and len(last_event_id) <= 19:
        return ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=int(last_event_id) + 1
        )
    return ConsumerConfig(deliver_policy=DeliverPolicy.NEW)


async def feed(
    proto: Any,
    jet: JetStream,
    last_event_id: str | None,
    headers: list[tuple[str, str]],
    matches: Callable[[ExecutionRecord], bool],
    render: Callable[[ExecutionRecord], str],
) -> None:
    """Answer with an event stream of the record writes ``matches`` accepts, for `FEED_SECONDS`
    or until the client leaves."""
    sub = await jet.js.subscribe(record_subject(">"), ordered_consumer=True, config=_start(last_event_id))
    transport = proto.response_stream(200, [("content-type", "text/event-stream"), *headers])
    gone = asyncio.ensure_future(proto.client_disconnect())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FEED_SECONDS
    try:
        await transport.send_str(f"retry: {RETRY_MILLIS}\n\n")
        while (left := deadline - loop.time()) > 0 and (msg := await _next(sub, gone, left)) is not None:
            event = _event(msg.data, matches, render)
            if event is not None:
                await transport.send_str(f"id: {msg.metadata.sequence.stream}\n{event}")
    except ProtocolClosed:  # the client went away while an event was sent
        log.debug("live feed ended: the client left")
    finally:
        gone.cancel()
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def _next(sub: Any, gone: asyncio.Future[None], seconds: float) -> Msg | None:
    """The next message within ``seconds``; None when there is none or the client left.

    A timeout is not raised into `feed`: the exception, kept by its future, would reference
    `feed`'s frame and with it the response, which the HTTP server then finishes only when
    the garbage collector breaks that cycle (seconds later).
    """
    message = asyncio.ensure_future(sub.next_msg(timeout=seconds))
    await asyncio.wait({message, gone}, return_when=asyncio.FIRST_COMPLETED)
    if not message.done():
        message.cancel()
        return None
    if isinstance(message.exception(), TimeoutError):  # nats-py's own TimeoutError is one
        return None
    result: Msg = message.result()
    return result


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
