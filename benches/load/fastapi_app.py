"""Peer: the same naive design written the common way, FastAPI under uvicorn.

Parse the JSON body, publish it to JetStream with nats-py and await the ack,
answer with an execution id. One uvicorn process (uvloop, httptools).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
from fastapi import FastAPI, HTTPException, Request
from nats.js import JetStreamContext


class Broker:
    js: JetStreamContext


broker = Broker()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    nc = await nats.connect(os.environ["PEER_NATS_URL"])
    broker.js = nc.jetstream()
    await broker.js.add_stream(name="FASTAPI", subjects=["fastapi.>"])
    yield
    await nc.close()


app = FastAPI(lifespan=lifespan)


@app.post("/trigger/{endpoint}")
async def trigger(endpoint: str, request: Request) -> dict[str, str]:
    body = await request.body()
    try:
        json.loads(body)
    except ValueError as error:
        raise HTTPException(400, "Received malformed JSON payload.") from error
    execution_id = str(uuid.uuid4())
    await broker.js.publish(f"fastapi.{execution_id}", body)
    return {"executionId": execution_id}
