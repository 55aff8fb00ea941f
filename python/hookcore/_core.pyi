"""hookcore's Rust core (private; the public API is `hookcore`).

This stub is the contract between Python and ``rust/bindings``: names,
argument order and tuple shapes here must match the Rust code
(``tests/unit/test_typing.py`` runs mypy's stubtest on it).
"""

import os
from typing import Any, Final, Literal, final

__all__ = [
    "ALLOW",
    "ERROR_CODES",
    "EXECUTION_SHARDS",
    "JSON_MAX_INT_DIGITS",
    "RATE_TABLE_SLOTS",
    "Accepted",
    "Answer",
    "CountersSnapshot",
    "Ingress",
    "IngressCounters",
    "NatsWire",
    "NotStored",
    "ParsedBody",
    "Ping",
    "Pong",
    "RateLimiter",
    "Received",
    "Rejection",
    "ServerErr",
    "ServerInfo",
    "Verdict",
    "answer_handshake",
    "api_key_digest",
    "check_rate_table",
    "execution_shard",
    "new_id",
    "parse_body",
    "parse_query",
    "verify_signature",
]

ALLOW: Final[str]
"""The ``Allow`` header value of a 405 on a trigger URL."""

EXECUTION_SHARDS: Final[int]
"""Shards of the executions stream's asynchronous lane (``hookcore.queue.work_queues``)."""

ERROR_CODES: Final[list[str]]
"""Every ``hookcore-error-code`` the core answers with (all are members of
``hookcore.errors.ErrorCode``)."""

JSON_MAX_INT_DIGITS: Final[int]
"""Most digits the integer part of a JSON number may have (``rust/parse/json.rs``
``MAX_INT_DIGITS``): a body with a longer one is refused (400, code
``json_number_too_long``), a multipart part with one is not JSON. KEEP IN SYNC
with ``hookcore.parsing.MAX_INT_DIGITS``."""

@final
class Answer:
    """An answer to a trigger request that stores nothing: an error (with its
    ``hookcore-error-code`` header), HEAD, or a provider's handshake."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> list[tuple[str, str]]: ...
    @property
    def body(self) -> bytes: ...

@final
class Accepted:
    """An accepted trigger request: the frame that stores it, and the answer once stored."""

    @property
    def execution_id(self) -> str: ...
    @property
    def subject(self) -> str:
        """``{subject_prefix}.{execution_id}``."""
    @property
    def token(self) -> int:
        """The ack token the frame names (the one given to `Ingress.ingest`)."""
    @property
    def frame(self) -> bytes:
        """The ``HPUB`` frame publishing the envelope to ``subject`` with
        ``Nats-Msg-Id: {execution_id}``, replying to ``{inbox}{token}``: whole, or
        its head when ``body`` is set."""
    @property
    def body(self) -> bytes | None:
        """The request's body (the object given to `Ingress.ingest`) when it is
        large: it follows ``frame`` on the wire, then CRLF; None when ``frame`` is whole."""
    @property
    def envelope(self) -> bytes | None:
        """The envelope's msgpack bytes when ``python`` is set (hooks may rewrite it), else None."""
    @property
    def spill(self) -> bool:
        """Put the body into the object store as ``body.{execution_id}`` before sending the frame."""
    @property
    def synchronous(self) -> bool:
        """The caller waits for the execution to end (always comes with ``python``)."""
    @property
    def python(self) -> tuple[str, str | None] | None:
        """``(integration, flow)`` when Python decides the answer: the flow has
        hooks, a ``preprocess`` must pick it (flow None), or the execution is
        synchronous."""
    @property
    def dedup(self) -> tuple[str, int] | None:
        """``(delivery key, window in seconds)`` when the flow drops duplicates and the
        request carries a delivery id: claim the key (`hookcore.deliveries`) before storing."""
    @property
    def headers(self) -> list[tuple[str, str]]:
        """The 200 answer's headers (execution id, RateLimit headers)."""
    @property
    def response(self) -> bytes:
        """The 200 answer's body, ``{"executionId": …}``."""
    @property
    def traceparent(self) -> str | None:
        """The W3C trace context given to `Ingress.ingest`, which ``frame`` carries as its
        ``traceparent`` header (None: the ingress does not trace)."""
    @property
    def customer(self) -> str:
        """The customer (external id) of the instance the request was routed to."""
    @property
    def integration(self) -> str:
        """The integration the request was routed to."""
    @property
    def flow(self) -> str | None:
        """The flow it runs; None while a ``preprocess`` function has to pick it."""

@final
class Ingress:
    """The routing table and the hot path of one ingress process."""

    def __new__(
        cls,
        *,
        subject_prefix: str,
        reply_prefix: str,
        inbox: str,
        max_envelope: int,
        max_headers: int,
        max_header_bytes: int,
        max_parts: int,
        max_part_header_bytes: int,
        counters: IngressCounters,
        rate_limits: bool = True,
        rate_table: str | os.PathLike[str] | None = None,
    ) -> Ingress:
        """Accepted requests go to ``{subject_prefix}.{execution_id}``, their frames
        asking for the ack on ``{inbox}{token}`` (the publisher's); synchronous ones
        carry the reply subject ``{reply_prefix}.{execution_id}``. An envelope
        never exceeds ``max_envelope`` bytes: when the body, headers, query and
        part index together would, the body is flagged for the object store, and
        a request that does not fit even then is refused (413). With
        ``rate_limits`` off no bucket is checked and no RateLimit header sent.
        ``rate_table`` is the file whose rate-limit buckets every process mapping
        it shares (``hookcore.errors.RateTableError`` when it cannot be mapped); None keeps them in this
        process. Each accepted request counts for its customer in ``counters``."""

    def set_rate_share(self, machines: int) -> None:
        """Enforce ``1/machines`` of every rate limit (the other machines enforce the rest)."""

    def set_integration(self, spec: bytes) -> None:
        """Load an integration's routing spec (JSON of ``hookcore.route_spec.IntegrationSpec``)."""

    def set_endpoint(self, endpoint_id: str, record: bytes) -> None:
        """Insert or replace an endpoint (JSON of ``hookcore.store.EndpointRecord``).

        Raises ``hookcore.errors.RecordUnreadable`` when the record is malformed or names another endpoint."""

    def remove_endpoint(self, endpoint_id: str) -> bool:
        """Remove an endpoint; True when it existed."""

    def set_instance(self, instance_id: str, record: bytes) -> None:
        """Insert or replace an instance (JSON of ``hookcore.store.InstanceRecord``)."""

    def remove_instance(self, instance_id: str) -> bool:
        """Remove an instance; True when it existed."""

    def endpoint_count(self) -> int: ...
    def admit(self, method: str, target: str) -> Answer | None:
        """What can be answered before the body is read: 405, 404, 200 for HEAD,
        or 429 when the endpoint's bucket is empty (looked at, not taken).
        None: read the body and call `ingest`, which takes the token."""

    def ingest(
        self,
        method: str,
        target: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        token: int,
        traceparent: str | None = None,
    ) -> Answer | Accepted:
        """Decide one trigger request: the answer that stores nothing, or what to store.

        ``target`` is the (decoded) path after ``/trigger/``; ``token`` the ack
        token an accepted request's frame asks for (`Publisher.next_token`). For
        an `Accepted` request send its frame (after putting the body into the
        object store when ``spill``) and, once JetStream acknowledged it, answer
        200 with its ``headers`` and ``response`` — unless ``python`` is set: then
        the ingress's Python decides the answer. With ``traceparent`` (a W3C trace
        context, ``00-{trace id}-{span id}-{flags}``; `hookcore.tracing`) the frame
        carries it as a ``traceparent`` header; ``NatsProtocolError`` when it is not one.
        """

@final
class NatsWire:
    """The protocol state of one NATS connection of ``hookcore.publisher``: PUB
    frames out, acks and server events in. No I/O: the caller owns the socket."""

    def __new__(cls, inbox: str) -> NatsWire:
        """Publishes ask for replies on ``{inbox}{token}`` (``inbox`` ends with ``.``)."""

    def publish(
        self,
        subject: str,
        token: int,
        payload: bytes,
        msg_id: str | None = None,
        headers: bytes | None = None,
        traceparent: str | None = None,
    ) -> bytes:
        """The ``PUB`` frame of ``payload`` to ``subject``, replying to the inbox and ``token``.

        With ``msg_id``, an ``HPUB`` frame whose ``Nats-Msg-Id`` header carries it:
        JetStream stores one message per id within the stream's duplicate window
        and acks a second copy as a duplicate. ``hookcore.errors.NatsProtocolError`` when ``msg_id`` is
        empty or holds control characters (it would break the header block).

        With ``headers`` (a NATS header block: ``NATS/1.0\\r\\n``, ``Name: value\\r\\n``
        lines, ``\\r\\n``) an ``HPUB`` frame; ``NatsProtocolError`` when it is not one, or
        when both are given.

        With ``traceparent`` (a W3C trace context; not with ``headers``) an ``HPUB`` frame
        whose ``traceparent`` header carries it, beside ``Nats-Msg-Id``; ``NatsProtocolError``
        when it is not ``00-{32 hex}-{16 hex}-{2 hex}``."""

    def publish_head(self, subject: str, token: int, payload_len: int, msg_id: str | None = None) -> bytes:
        """The head of the frame `publish` would make for a ``payload_len``-byte payload
        (same ``msg_id`` rule): the caller writes the payload from its own buffer after
        it, then ``\\r\\n``, so a large payload is never copied into a frame."""

    def feed(self, data: bytes) -> Received:
        """Parse bytes read from the socket into what the server said. A frame cut short
        waits for the next call. Raises ``hookcore.errors.NatsProtocolError`` when the bytes
        are not the NATS protocol."""

@final
class Received:
    """What one `NatsWire.feed` read."""

    @property
    def acks(self) -> list[tuple[int, int]]:
        """``(token, stream sequence)`` of each publish JetStream stored, in order."""

    @property
    def events(self) -> list[NotStored | Ping | Pong | ServerInfo | ServerErr]:
        """Everything else the server said, in order."""

@final
class NotStored:
    """JetStream did not store the publish ``token``."""

    @property
    def token(self) -> int: ...
    @property
    def kind(self) -> Literal["nak", "full", "conflict"]:
        """``full``: the stream or the server's storage has no room; ``conflict``: a
        ``Nats-Expected-Last-Subject-Sequence`` did not hold; ``nak``: any other reason."""

    @property
    def reason(self) -> str:
        """JetStream's words and error code, or what the reply said (no stream answered:
        503 no responders; another status; an empty acknowledgement)."""

@final
class Ping:
    """The server asks whether the connection is alive: answer ``PONG``."""

@final
class Pong:
    """The server's answer to a ``PING``."""

@final
class ServerInfo:
    """The server's ``INFO``: at connect time and when its cluster changes."""

    @property
    def json(self) -> str: ...

@final
class ServerErr:
    """The server's ``-ERR``; it usually closes the connection after one."""

    @property
    def message(self) -> str: ...

@final
class IngressCounters:
    """The ingress's metrics: answers per status, an ingest latency histogram, publish
    failures, duplicates, accepted requests per customer. Atomic words, in this process's
    memory or in a file every process mapping it adds into."""

    def __new__(
        cls, path: str | os.PathLike[str] | None = None, *, customers: int, create: bool = False
    ) -> IngressCounters:
        """Counters of this process (``path`` None), or the block at ``path``: made there
        (``create``; the file must not exist) or mapped (``hookcore.errors.MetricsFileError``
        when it is missing or has another layout). The first ``customers`` customers seen are counted by name
        (at most 100000; ids longer than 224 bytes never are), the later ones together."""

    def answered(self, status: int, started_ns: int) -> None:
        """One answer to a trigger request received at ``started_ns`` (``time.monotonic_ns()``)."""

    def publish_failed(self) -> None: ...
    def duplicate(self) -> None: ...
    def snapshot(self) -> CountersSnapshot:
        """The counters now (each word read once; a scrape racing requests may see an answer
        in its status counter before its latency bucket)."""

@final
class CountersSnapshot:
    statuses: list[tuple[int, int]]
    """(status, answers), by status; only statuses answered at least once."""
    publish_failures: int
    duplicates: int
    latency_bounds: list[float]
    """Upper bounds (seconds, inclusive) of the latency buckets."""
    latency_buckets: list[int]
    """Answers per bucket, not cumulative: one per bound, then one for the slower ones."""
    latency_sum: float
    """Seconds, all answers together."""
    customers: list[tuple[str, int]]
    """(customer, accepted requests), by customer."""
    other_customers: int
    """Accepted requests of customers counted without a name."""

@final
class RateLimiter:
    """Token buckets (GCRA) keyed by string, as the ingress uses them.

    ``table`` maps a file shared with every process that maps it (``RateTableError`` when
    it cannot); without it the buckets live in this process. ``slots`` bounds the
    keys tracked at once (rounded up to a power of two)."""

    def __new__(cls, *, slots: int = 65536, table: str | os.PathLike[str] | None = None) -> RateLimiter: ...
    def check(self, key: str, rate: float, burst: int | None = None, *, now_us: int | None = None) -> Verdict:
        """Take one request from ``key``'s bucket (``rate`` per second, ``burst`` at once,
        default ``ceil(rate)``). ``now_us`` (microseconds, > 0) stands in for the monotonic
        clock: tests stop time with it."""

@final
class Verdict:
    """One request's verdict from `RateLimiter.check`, with the ``RateLimit-*`` figures."""

    @property
    def allowed(self) -> bool: ...
    @property
    def limit(self) -> int:
        """The bucket's burst (``RateLimit-Limit``)."""

    @property
    def remaining(self) -> int:
        """Requests that would still pass now (``RateLimit-Remaining``)."""

    @property
    def reset_secs(self) -> int:
        """Seconds until the bucket is full again (``RateLimit-Reset``), rounded up."""

    @property
    def retry_after_secs(self) -> int:
        """When refused: seconds until a request can pass (``Retry-After``), at least 1;
        0 when allowed."""

RATE_TABLE_SLOTS: Final[int]
"""Slots of the machine-wide rate-limit table that ``Ingress(rate_table=...)`` maps."""

def check_rate_table(path: str | os.PathLike[str], slots: int = ...) -> None:
    """Create the shared rate-limit table at ``path`` (mode 0600, complete before it
    appears under its name) or check the one there: a regular file of this user's,
    not readable or writable by others, of the expected size, magic, version and
    slot count. Raises ``hookcore.errors.RateTableError`` saying why the file cannot be used."""

def execution_shard(customer: str) -> int:
    """The shard (``0 <= shard < EXECUTION_SHARDS``) all of ``customer``'s executions are stored
    in: the same in every process and release, since stored subjects name it."""

def new_id() -> str:
    """A new time-sortable id (UUIDv7, lower-case hyphenated)."""

def api_key_digest(key: str) -> str:
    """SHA-256 (hex) of an API key, as instance records store it."""

def parse_query(query: str | bytes) -> dict[str, str | list[str]]:
    """Parse a query string / urlencoded form: ``+`` is a space, percent-decoding,
    invalid UTF-8 replaced with U+FFFD, blank values kept, repeated names -> list."""

@final
class ParsedBody:
    """What `parse_body` found in a body."""

    @property
    def kind(self) -> Literal["empty", "json", "multipart", "form", "text", "binary"]:
        """What the body is, from its ``Content-Type`` and bytes (see `value`)."""

    @property
    def value(self) -> Any:
        """By `kind`: ``empty``: None. ``json``: None (decode the body itself; it is valid
        JSON). ``multipart``: a list of ``(name, filename, content_type, is_json, data)``,
        ``data`` bytes for files and JSON parts, str for text parts. ``form``: like
        `parse_query`. ``text``: the str its charset decodes. ``binary``: the body itself,
        also for text its charset cannot decode (then `note` says why)."""

    @property
    def note(self) -> str | None:
        """Why the body is not what its type said (text its charset cannot decode), else None."""

def parse_body(
    body: bytes,
    content_type: str | None,
    parts: list[tuple[str, str | None, str | None, int, int]] | None = None,
) -> ParsedBody:
    """Classify and parse a body.

    ``parts`` is the multipart index the ingress found; without it the body is
    parsed. Raises ``hookcore.errors.MalformedJson`` or ``MalformedMultipart`` (with the reason),
    the former also for JSON with a number longer than ``JSON_MAX_INT_DIGITS`` digits.
    """

def verify_signature(
    spec: bytes,
    secrets: list[str],
    headers: list[tuple[str, str]],
    body: bytes,
    now: int,
) -> Rejection | None:
    """Check one request's signature as the ingress does (for tests and benchmarks).

    ``spec`` is the JSON ``hookcore.verify`` emits (``{"scheme":"github","secret":"NAME"}``
    …); ``secrets`` the values of the config entry it names (any one verifies;
    none is refused, fail closed); ``headers`` the request's, a repeated header
    joined with ", " (names match in any case); ``body`` the exact bytes
    received; ``now`` the Unix time in seconds timestamps are checked against.
    Returns None when the request verifies, else the `Rejection`, its ``code`` one of
    ``signature_missing``, ``signature_invalid``, ``timestamp_out_of_tolerance``,
    ``secret_not_configured``. Raises
    ``hookcore.errors.RecordUnreadable`` for a malformed ``spec``. Bodies of 16 KiB or more are
    checked with the GIL released."""

def answer_handshake(
    spec: bytes,
    secrets: list[str],
    method: str,
    query: str,
    body: bytes,
) -> Answer | Rejection | None:
    """The ingress's answer to a provider's handshake (for tests).

    ``spec`` is the JSON ``hookcore.handshake`` emits (``{"kind":"meta","verifyToken":"NAME"}``
    …), ``secrets`` the values of the config entry it names, ``query`` the raw
    query string without ``?``. Returns the `Answer` the ingress sends, a `Rejection` when
    refused (``handshake_refused``: 403; ``secret_not_configured``: 401), or None when
    the request is not a handshake (the flow runs). Raises
    ``hookcore.errors.RecordUnreadable`` for a malformed ``spec``."""

@final
class Rejection:
    """Why a request was refused, as the ingress answers it."""

    @property
    def code(self) -> str:
        """Its ``hookcore-error-code`` (a member of ``hookcore.errors.ErrorCode``)."""

    @property
    def message(self) -> str:
        """The ``error`` of the answer's body: what failed and what to do."""
