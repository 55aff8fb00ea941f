"""JetStream: one process's connection, and every stream and bucket of hookcore's, created with
their owners' names (the publisher is in `publisher`).

Resource names are fixed so every process of a deployment agrees on them. Each layout has one
owner, which names its stream or bucket and builds its keys and subjects (docs/architecture.md,
"Storage layouts"); this module creates them all with the owners' names.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from nats.errors import AuthorizationError
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import APIError, BadRequestError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from hookcore.catalog import CONFIG_BUCKET, DELIVERIES_BUCKET, NODES_BUCKET, STATE_BUCKET
from hookcore.config import Settings, env_name
from hookcore.errors import ConfigError, NatsUnreachable, QueueUnavailable, StorageFull
from hookcore.index import INDEX_ENTRIES, INDEX_STREAM
from hookcore.objects import OBJECTS_BUCKET, OBJECTS_STREAM
from hookcore.queue import ALL_EXECUTIONS, EXECUTIONS_STREAM
from hookcore.records import RECORDS_BUCKET, RESULTS_BUCKET

log = logging.getLogger("hookcore.jetstream")

CONNECT_DEADLINE = 10.0
"""Seconds a process waits for its first NATS connection before it gives up, naming the server."""
FLUSH_TIMEOUT = 5
"""Seconds a closing connection waits for the server to have read what was written to it."""
MESSAGE_HEADER_ROOM = 1024
"""Bytes of a message's max_payload kept for its NATS headers (``Nats-Msg-Id`` and the like)."""
JETSTREAM_API = ("$JS.API.>", "$KV.>", "$O.>", "$JS.FC.>")
"""JetStream's API, every KV bucket's and object store's subjects, and flow control: what a
process that creates and uses hookcore's streams and buckets publishes to (`hookcore.nats_roles`)."""
NODES_TTL = 60.0
"""Seconds a heartbeat stays in the nodes bucket (`hookcore.nodes` judges liveness by its own,
shorter, TTL)."""

# JetStream's err_codes for "no room" (KEEP IN SYNC with rust/nats_wire.rs, which
# classifies the publisher's acks the same way): a stream at its limit with
# discard=new answers 10077 "maximum bytes exceeded" (or "maximum messages
# exceeded"); a server out of storage 10023 "insufficient resources"; a limit
# the server cannot reserve 10047 "insufficient storage resources available".
STORE_FAILED = 10077
FULL_CODES = (10023, 10047)
LIMIT_WORDS = ("maximum bytes", "maximum messages")
STORAGE_NOT_RESERVED = 10047


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
        """Close the connection once what was written reached the server (a worker's acks are not
        awaited one by one: a stopping worker's last ones are flushed here). Publishes are
        awaited (their acks), so nothing else is in flight."""
        if self.nc.is_closed:
            return
        if self.nc.is_connected:
            with contextlib.suppress(Exception):  # a server gone: its acks are redelivered work
                await self.nc.flush(timeout=FLUSH_TIMEOUT)
        await self.nc.close()


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

    refused = ""
    last_error: list[Exception] = []

    async def on_error(e: Exception) -> None:
        nonlocal refused
        last_error[:] = [e]
        text = str(e)
        if isinstance(e, AuthorizationError | ssl.SSLError) or "Authorization Violation" in text:
            if text != refused:  # retried forever: say it once
                refused = text
                log.warning(
                    "NATS refused the connection (%s): check the HOOKCORE_NATS_* credentials and TLS "
                    "settings",
                    text,
                )
        elif "Permissions Violation" in text:
            log.warning("NATS refused an operation to this process's user: %s", e)
        else:
            log.debug("NATS connection error: %s", e)

    nc = NatsClient()
    try:
        # nats-py retries a first connection forever when reconnecting is allowed: bound it.
        await asyncio.wait_for(
            nc.connect(
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
                **settings.nats_auth.nats_py_options(),
            ),
            CONNECT_DEADLINE,
        )
    except Exception as e:
        with contextlib.suppress(Exception):
            await nc.close()
        reason = str(e) or type(e).__name__
        if isinstance(e, TimeoutError):
            last = f"; last error: {str(last_error[0]) or type(last_error[0]).__name__}" if last_error else ""
            reason = f"not connected within {CONNECT_DEADLINE:g}s{last}"
        raise NatsUnreachable(
            f"cannot connect to NATS at {settings.nats_url} ({reason}); is nats-server running "
            f"there with JetStream enabled (`nats-server -js`)? (setting {env_name('nats_url')})"
        ) from e
    js = nc.jetstream(timeout=10)
    try:
        await ensure_resources(js, settings)
    except BaseException:
        await nc.close()
        raise
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


async def kv_keys(kv: KeyValue, prefix: str = "") -> list[str]:
    """The keys of ``kv`` under ``prefix`` (empty, or ending in a dot) that hold an entry, deleted
    ones too: the subjects of the bucket's stream, from its stream info, which the server answers
    from its own index, whole (in pages of up to 100,000 subjects). nats-py's ``KeyValue.keys`` is
    a consumer, and can end before a key rewritten meanwhile: that key would be left out."""
    js, info = kv._js, f"{kv._js._prefix}.STREAM.INFO.{kv._stream}"
    request = {"subjects_filter": f"{kv._pre}{prefix}>", "offset": 0}
    subjects: list[str] = []
    while True:
        page = await js._api_request(info, json.dumps(request).encode(), timeout=js._timeout)
        found = list(page["state"].get("subjects") or {})
        subjects += found
        request["offset"] = len(subjects)
        if not found or len(subjects) >= page.get("total", 0):
            return [subject.removeprefix(kv._pre) for subject in subjects]


def storage_error(error: Exception) -> QueueUnavailable:
    """The `QueueUnavailable` (a `StorageFull` when JetStream is out of room) for an error
    raised while storing a request: the publisher's own, or nats-py's from an object
    store put, which comes before the envelope is published (so whatever happened to
    the body, the request itself was not stored)."""
    if isinstance(error, QueueUnavailable):
        return error
    if isinstance(error, APIError):
        words = error.description or ""
        if error.err_code in FULL_CODES or (
            error.err_code == STORE_FAILED and any(w in words for w in LIMIT_WORDS)
        ):
            return StorageFull(f"{words} (code {error.err_code})")
        # JetStream answered, and answered no: nothing was stored.
        return QueueUnavailable(f"{words} (code {error.err_code})")
    return QueueUnavailable(str(error) or type(error).__name__)


async def ensure_resources(js: JetStreamContext, settings: Settings) -> None:
    """Create (or update to the current settings) the stream and the buckets. Idempotent.

    Each has a byte limit (``HOOKCORE_MAX_STREAM_BYTES``, ``_BUCKET_BYTES``,
    ``_OBJECT_BYTES``) and discards *new* messages at it: JetStream then refuses
    a publish ("maximum bytes exceeded") and the ingress answers 503
    ``storage_full``. With discard=old it would instead delete the oldest
    accepted requests to make room, silently. A limit lowered below what is
    stored deletes nothing either: new messages are refused until enough expire.
    """
    retention = settings.retention_seconds
    await _ensure_stream(
        js,
        "max_stream_bytes",
        StreamConfig(
            name=EXECUTIONS_STREAM,
            subjects=[ALL_EXECUTIONS],
            max_bytes=settings.max_stream_bytes,
            max_age=retention,
            num_replicas=settings.replicas,
            # Only as long as a resend needs: see Settings.duplicate_window.
            duplicate_window=min(settings.duplicate_window, retention),
        ),
    )
    await _ensure_stream(
        js,
        "max_bucket_bytes",
        StreamConfig(
            name=INDEX_STREAM,
            subjects=[INDEX_ENTRIES],
            max_bytes=settings.max_bucket_bytes,
            max_age=retention,  # entries expire with the records they index
            max_msgs_per_subject=1,  # one entry per subject: a second write of the same one replaces it
            num_replicas=settings.replicas,
        ),
    )
    buckets = (
        (CONFIG_BUCKET, None),
        (STATE_BUCKET, None),
        (NODES_BUCKET, NODES_TTL),
        (DELIVERIES_BUCKET, None),  # each key has its own TTL
        (RECORDS_BUCKET, retention),
        (RESULTS_BUCKET, retention),
    )
    for bucket, ttl in buckets:
        async with _reserving("max_bucket_bytes", settings.max_bucket_bytes):
            try:
                await js.create_key_value(
                    KeyValueConfig(
                        bucket=bucket,
                        history=1,
                        ttl=ttl,
                        max_bytes=settings.max_bucket_bytes,
                        storage=StorageType.FILE,
                        replicas=settings.replicas,
                        direct=True,
                    )
                )
            except BadRequestError:  # it exists with other settings
                await _update_limits(js, f"KV_{bucket}", settings.max_bucket_bytes, ttl)
    async with _reserving("max_object_bytes", settings.max_object_bytes):
        try:
            await js.create_object_store(
                OBJECTS_BUCKET,
                ObjectStoreConfig(
                    ttl=retention,
                    max_bytes=settings.max_object_bytes,
                    storage=StorageType.FILE,
                    replicas=settings.replicas,
                ),
            )
        except BadRequestError:
            await _update_limits(js, OBJECTS_STREAM, settings.max_object_bytes, retention)


async def _ensure_stream(js: JetStreamContext, setting: str, stream: StreamConfig) -> None:
    """Create ``stream``, or update it to ``stream`` when it exists: limits retention, discarding
    new messages at its byte limit (``setting``), on file, with direct gets."""
    stream.retention = RetentionPolicy.LIMITS
    stream.discard = DiscardPolicy.NEW
    stream.storage = StorageType.FILE
    stream.allow_direct = True
    async with _reserving(setting, stream.max_bytes or 0):
        try:
            await js.add_stream(stream)
        except BadRequestError:
            await js.update_stream(stream)


async def _update_limits(js: JetStreamContext, stream: str, max_bytes: int, max_age: float | None) -> None:
    """Apply the current byte limit and age to an existing bucket's stream (nats-py only creates)."""
    config = (await js.stream_info(stream)).config
    config.max_bytes = max_bytes
    config.discard = DiscardPolicy.NEW
    if max_age is not None:
        config.max_age = max_age
    await js.update_stream(config)


@asynccontextmanager
async def _reserving(setting: str, limit: int) -> AsyncIterator[None]:
    """Turn JetStream's "cannot reserve that much" into a `ConfigError` saying what to change."""
    try:
        yield
    except APIError as e:
        if e.err_code != STORAGE_NOT_RESERVED:
            raise
        raise ConfigError(
            f"nats-server cannot reserve {setting}={limit} bytes ({e.description}): lower "
            f"{env_name(setting)} (see docs/operations.md, Sizing) or give JetStream more storage "
            "(nats-server's jetstream { max_file_store })"
        ) from e
