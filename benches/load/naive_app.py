"""Peer: the naive design — decode the body in Python, await each JetStream publish.

The floor hookcore's ingress has to beat; not a design to copy.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import msgspec
import nats

HEADERS = [("content-type", "application/json")]


class NaiveApp:
    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        async def start() -> None:
            self.nc = await nats.connect(os.environ["PEER_NATS_URL"])
            self.js = self.nc.jetstream()
            await self.js.add_stream(name="NAIVE", subjects=["naive.>"])

        loop.run_until_complete(start())

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        body = await proto()
        try:
            msgspec.json.decode(body)
        except msgspec.DecodeError:
            proto.response_bytes(400, HEADERS, b'{"error":"Received malformed JSON payload."}')
            return
        execution_id = str(uuid.uuid4())
        await self.js.publish(f"naive.{execution_id}", body)
        proto.response_bytes(200, HEADERS, msgspec.json.encode({"executionId": execution_id}))


app = NaiveApp()
