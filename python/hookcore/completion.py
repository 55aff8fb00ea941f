"""Synchronous executions: the worker pushes the end of an execution to the waiting ingress.

Each ingress process listens on its own reply prefix; the envelope of a
synchronous request carries ``{prefix}.{execution_id}``. No KV polling.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import msgspec
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg


class Completion(msgspec.Struct, rename="camel", frozen=True):
    """What the worker publishes to the reply subject when a synchronous execution ends."""

    execution_id: str
    status: Literal["succeeded", "failed", "dead"]
    error: str | None = None


_decode = msgspec.json.Decoder(Completion).decode
encode_completion = msgspec.json.encode


class CompletionWaiter:
    """Futures of the synchronous executions this process is waiting for."""

    def __init__(self, nc: NatsClient) -> None:
        self._nc = nc
        self._waiting: dict[str, asyncio.Future[Completion]] = {}
        self.prefix = ""

    async def start(self) -> None:
        self.prefix = self._nc.new_inbox()
        await self._nc.subscribe(self.prefix + ".*", cb=self._on_completion)

    def expect(self, execution_id: str) -> asyncio.Future[Completion]:
        """Register before publishing: a fast worker may finish before the publish is acked."""
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._waiting[execution_id] = future
        return future

    async def wait(self, execution_id: str, timeout: float) -> Completion | None:
        """The completion, or None after ``timeout`` seconds (the execution goes on)."""
        future = self._waiting[execution_id]
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(execution_id, None)

    def forget(self, execution_id: str) -> None:
        self._waiting.pop(execution_id, None)

    async def _on_completion(self, msg: Msg) -> None:
        try:
            completion = _decode(msg.data)
        except msgspec.DecodeError:
            return
        future = self._waiting.get(completion.execution_id)
        if future is not None and not future.done():
            future.set_result(completion)
