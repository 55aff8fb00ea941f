"""JetStream: the connection, hookcore's streams and buckets (the publisher is in `publisher`).

Resource names are fixed so every process of a deployment agrees on them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import (
    KeyValueConfig,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from hookcore.config import Settings
from hookcore.errors import QueueUnavailable

log = logging.getLogger("hookcore.queue")

EXECUTIONS_STREAM = "HOOKCORE_EXECUTIONS"
# KEEP IN SYNC with the subject_prefix handed to `_core.Ingress` (ingress.py).
EXECUTIONS_SUBJECT_PREFIX = "hookcore.executions"
WORKER_CONSUMER = "hookcore-workers"
CONFIG_BUCKET = "hookcore_config"
RECORDS_BUCKET = "hookcore_records"
RESULTS_BUCKET = "hookcore_results"
NODES_BUCKET = "hookcore_nodes"
"""Ingress machines' heartbeats (``nodes.{machine}``), for splitting rate limits."""
DELIVERIES_BUCKET = "hookcore_deliveries"
"""Delivery ids seen, for duplicates: ``{digest}`` -> the first execution's id, each with a TTL of
its flow's dedup window (`hookcore.deliveries`)."""
STATE_BUCKET = "hookcore_state"
"""Instance and flow state: ``instance.{id}``, ``flow.{id}.{flow key}``; compare-and-set updates."""
MESSAGE_HEADER_ROOM = 1024
"""Bytes of a message's max_payload kept for its NATS headers (``Nats-Msg-Id`` and the like)."""
OBJECTS_BUCKET = "hookcore_objects"
"""Bodies and results too big for one message: ``body.{execution_id}``, ``result.{execution_id}``."""


@dataclass(slots=True)
class JetStream:
    """One process's NATS connection and handles to hookcore's resources."""

    nc: NatsClient
    js: JetStreamContext
    config: KeyValue
    records: KeyValue
    results: KeyValue
    state: KeyValue
    nodes: KeyValue
    deliveries: KeyValue
    objects: ObjectStore

    @property
    def max_inline(self) -> int:
        """Largest value stored inline in a message or KV entry; larger ones go to ``objects``."""
        return int(self.nc.max_payload) - 64 * 1024

    @property
    def max_envelope(self) -> int:
        """Largest envelope one message may carry: the server's limit less room for its headers."""
        return int(self.nc.max_payload) - MESSAGE_HEADER_ROOM

    async def close(self) -> None:
        """Close the connection. Everything hookcore sends is awaited (publish acks,
        ``ack_sync``), so there is nothing in flight to drain."""
        if not self.nc.is_closed:
            await self.nc.close()


def kv_subject(bucket: str, key: str) -> str:
    """The subject a put to ``key`` of ``bucket`` publishes to (what nats-py's ``KeyValue.put`` does)."""
    return f"$KV.{bucket}.{key}"


async def connect(settings: Settings, name: str) -> JetStream:
    """Connect, make sure every stream and bucket exists, and return the handles.

    Reconnects forever in the background: a NATS restart is an outage, not a crash.
    """
    servers = [s.strip() for s in settings.nats_url.split(",") if s.strip()]

    async def on_disconnect() -> None:
        if not nc.is_closed:  # nats-py also calls this when we close the connection ourselves
            log.warning("disconnected from NATS at %s; reconnecting", settings.nats_url)

    async def on_reconnect() -> None:
        log.warning("reconnected to NATS")

    async def on_error(e: Exception) -> None:
        log.debug("NATS connection error: %s", e)

    nc = NatsClient()
    try:
        await nc.connect(
            servers,
            name=name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.25,  # type: ignore[arg-type]  # annotated int; nats-py sleeps this many seconds
            connect_timeout=5,
            allow_reconnect=True,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            error_cb=on_error,
            # Every subject hookcore publishes to is built from ids it made itself.
            skip_subject_validation=True,
        )
    except Exception as e:
        raise QueueUnavailable(
            f"cannot connect to NATS at {settings.nats_url} ({e}); is nats-server running "
            "with JetStream enabled (`nats-server -js`)?"
        ) from e
    js = nc.jetstream(timeout=10)
    await ensure_resources(js, settings)
    return JetStream(
        nc=nc,
        js=js,
        config=await js.key_value(CONFIG_BUCKET),
        records=await js.key_value(RECORDS_BUCKET),
        results=await js.key_value(RESULTS_BUCKET),
        state=await js.key_value(STATE_BUCKET),
        nodes=await js.key_value(NODES_BUCKET),
        deliveries=await js.key_value(DELIVERIES_BUCKET),
        objects=await js.object_store(OBJECTS_BUCKET),
    )


async def ensure_resources(js: JetStreamContext, settings: Settings) -> None:
    """Create (or update to the current settings) the stream and the buckets. Idempotent."""
    retention = settings.retention_seconds
    stream = StreamConfig(
        name=EXECUTIONS_STREAM,
        subjects=[f"{EXECUTIONS_SUBJECT_PREFIX}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=retention,
        num_replicas=settings.replicas,
        duplicate_window=min(120.0, retention),
        allow_direct=True,
    )
    try:
        await js.add_stream(stream)
    except BadRequestError:
        await js.update_stream(stream)
    buckets = (
        (CONFIG_BUCKET, None),
        (STATE_BUCKET, None),
        (NODES_BUCKET, 60.0),
        (DELIVERIES_BUCKET, None),  # each key has its own TTL
        (RECORDS_BUCKET, retention),
        (RESULTS_BUCKET, retention),
    )
    for bucket, ttl in buckets:
        await js.create_key_value(
            KeyValueConfig(
                bucket=bucket,
                history=1,
                ttl=ttl,
                storage=StorageType.FILE,
                replicas=settings.replicas,
                direct=True,
            )
        )
    await js.create_object_store(
        OBJECTS_BUCKET,
        ObjectStoreConfig(ttl=retention, storage=StorageType.FILE, replicas=settings.replicas),
    )
