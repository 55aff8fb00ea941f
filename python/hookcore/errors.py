"""Errors: one root, a stable snake_case ``code`` per kind, messages that say what to do.

Every exception hookcore raises on purpose is a `HookcoreError`, the Rust core's
included: ``hookcore._core`` raises the classes of this module (PyO3's
``import_exception!``), never bare builtins, so one ``except HookcoreError``
catches them all. Each class keeps the builtin base callers would expect
(`ConfigError` is a ``ValueError``, `RateTableError` an ``OSError``).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """The ``hookcore-error-code`` header of every error answer: one stable code per cause.

    docs/errors.md lists them with what a sender or operator should do; the
    codes of the answers the Rust core gives (``_core.ERROR_CODES``) are among them.
    KEEP IN SYNC with ``rust/error_code.rs``.
    """

    # /trigger: routing and the request itself (most are answered by the Rust core)
    ENDPOINT_NOT_FOUND = "endpoint_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    MALFORMED_JSON = "malformed_json"
    JSON_NUMBER_TOO_LONG = "json_number_too_long"
    """A JSON number with more than 4300 digits before its decimal point (400):
    valid JSON, but Python cannot decode it (``hookcore.parsing.MAX_INT_DIGITS``)."""
    MALFORMED_MULTIPART = "malformed_multipart"
    BODY_TOO_LARGE = "body_too_large"
    MULTIPART_TOO_LARGE = "multipart_too_large"
    HEADERS_TOO_LARGE = "headers_too_large"
    REQUEST_TOO_LARGE = "request_too_large"
    BODY_READ_TIMEOUT = "body_read_timeout"
    UNROUTABLE = "unroutable"
    API_KEY_MISSING = "api_key_missing"
    API_KEY_INVALID = "api_key_invalid"
    RATE_LIMITED = "rate_limited"
    INTEGRATION_MISCONFIGURED = "integration_misconfigured"
    # /trigger: who may send (signatures and handshakes, checked by the Rust core)
    SIGNATURE_MISSING = "signature_missing"
    SIGNATURE_INVALID = "signature_invalid"
    TIMESTAMP_OUT_OF_TOLERANCE = "timestamp_out_of_tolerance"
    SECRET_NOT_CONFIGURED = "secret_not_configured"
    HANDSHAKE_REFUSED = "handshake_refused"
    # /trigger: the flow's ingress hooks and synchronous executions
    HOOK_FAILED = "hook_failed"
    EXECUTION_FAILED = "execution_failed"
    SYNC_TIMEOUT = "sync_timeout"
    # storing the request
    QUEUE_UNAVAILABLE = "queue_unavailable"
    STORAGE_FULL = "storage_full"
    # control plane and signed result URLs
    NOT_FOUND = "not_found"
    ADMIN_TOKEN_INVALID = "admin_token_invalid"
    CONTROL_PLANE_DISABLED = "control_plane_disabled"
    BAD_REQUEST = "bad_request"
    API_KEYS_NOT_ENABLED = "api_keys_not_enabled"
    INSTANCE_EXISTS = "instance_exists"
    EXECUTION_NOT_STARTED = "execution_not_started"
    RESULT_URL_INVALID = "result_url_invalid"
    RESULT_URL_EXPIRED = "result_url_expired"
    INTERNAL_ERROR = "internal_error"
    # the console (/console/)
    LOGIN_REQUIRED = "login_required"
    CSRF_INVALID = "csrf_invalid"


class HookcoreError(Exception):
    """Root of every error hookcore raises on purpose."""

    code = "hookcore_error"


class BodyTooLarge(HookcoreError):
    """A request's body is over its limit (HTTP 413)."""

    code = ErrorCode.BODY_TOO_LARGE

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body is larger than the limit of {limit} bytes.")
        self.limit = limit


class TriggerRefused(HookcoreError):
    """A flow's ingress hook refused the request: answer ``status``, ``{"error": message}``, ``code``."""

    code: ErrorCode

    def __init__(self, status: int, message: str, code: ErrorCode) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ResultError(HookcoreError, TypeError):
    """A flow returned (or a step produced) something hookcore cannot store: the run fails, an attempt."""

    code = "result_unstorable"


class MalformedBody(HookcoreError, ValueError):
    """A body does not parse as its content type says (`hookcore.parse_body`). The ingress
    refuses such requests with 400, so a flow's payload never holds one."""

    code = "malformed_body"


class MalformedJson(MalformedBody):
    code = ErrorCode.MALFORMED_JSON


class MalformedMultipart(MalformedBody):
    code = ErrorCode.MALFORMED_MULTIPART


class RecordUnreadable(HookcoreError, ValueError):
    """An endpoint record or a signature spec read from the config bucket cannot be decoded:
    written by another hookcore version, or damaged. The endpoint is left out of the routing table."""

    code = "record_unreadable"


class ObjectDamaged(HookcoreError):
    """A stored body or result cannot be read back whole: chunks missing or not matching its digest."""

    code = "object_damaged"


class NatsProtocolError(HookcoreError, ValueError):
    """A frame could not be written (a subject or header NATS would refuse), or the server sent
    bytes that are not the NATS protocol (``_core.NatsWire``); the publisher reconnects."""

    code = "nats_protocol_error"


class RateTableError(HookcoreError, OSError):
    """The machine-wide rate-limit table (``/dev/shm/hookcore-<uid>-<deployment>.rates``) cannot be
    trusted, created or mapped: someone else's file at its name, or a directory without room.
    The ingress then keeps its rate-limit buckets in its own memory and logs why."""

    code = "rate_table_unavailable"


class MetricsFileError(HookcoreError, OSError):
    """The shared-memory block of a ``hookcore serve``'s counters cannot be created or opened
    (``/dev/shm`` full or not writable, or the block removed while the processes start)."""

    code = "metrics_file_unavailable"


class ConfigError(HookcoreError, ValueError):
    """A setting or an integration definition is invalid."""

    code = "config_error"


class AppLoadError(HookcoreError, ImportError):
    """`--app MODULE:ATTR` could not be imported or is not an `Integration`."""

    code = "app_load_error"


class QueueUnavailable(HookcoreError):
    """JetStream did not acknowledge a publish in time or refused it.

    ``maybe_stored`` tells the two cases apart: False when JetStream surely
    holds nothing (the frame never left, or JetStream refused it), True when
    the frame was sent and its fate is unknown (no ack in time, or the
    connection dropped after the frame was written).
    """

    code = "queue_unavailable"
    retry_after = 1
    """Seconds a sender is asked to wait (the ``Retry-After`` of the 503)."""

    def __init__(self, reason: str, *, maybe_stored: bool = False) -> None:
        super().__init__(f"JetStream did not store the request: {reason}")
        self.reason = reason
        self.maybe_stored = maybe_stored

    @property
    def answer(self) -> str:
        """The ``error`` of the 503 a sender gets: what happened to its request, truthfully."""
        if self.maybe_stored:
            return (
                "The queue did not confirm the request in time; it may not have been stored. "
                "Retry the request later."
            )
        return "The queue is unavailable; nothing was stored. Retry the request later."


class StorageFull(QueueUnavailable):
    """JetStream refused a publish because the stream (or the server's storage) is full.

    Nothing was stored, and nothing stored before was dropped to make room
    (hookcore's streams discard new messages, not old ones, at their limits).
    """

    code = "storage_full"
    retry_after = 30

    @property
    def answer(self) -> str:
        return "Storage is full; nothing was stored. Retry the request later."


class WriteConflict(HookcoreError):
    """JetStream refused a publish that expected another last message on its subject
    (``Nats-Expected-Last-Subject-Sequence``): someone else wrote there first."""

    code = "write_conflict"

    def __init__(self, reason: str) -> None:
        super().__init__(f"JetStream refused the write: {reason}")
        self.reason = reason


class NotFound(HookcoreError, LookupError):
    """An instance, execution or result does not exist (any more)."""

    code = "not_found"


class BadRequest(HookcoreError, ValueError):
    """A control-plane request is malformed; the message says which field and why."""

    code = "bad_request"


class ApiKeysNotEnabled(BadRequest):
    """An API key was asked for a flow that takes none (no ``api_keys=True``)."""

    code = "api_keys_not_enabled"


class InstanceExists(HookcoreError):
    """The customer already has an instance of this shared-endpoint integration."""

    code = "instance_exists"

    def __init__(self, message: str, instance_id: str) -> None:
        super().__init__(message)
        self.instance_id = instance_id


class NotStarted(HookcoreError):
    """An execution no worker has started yet cannot be replayed: it has no record to link from."""

    code = "execution_not_started"


class EmbeddedServerError(HookcoreError, RuntimeError):
    """The embedded nats-server could not be found or did not start."""

    code = "embedded_server_error"


class ControlFileError(HookcoreError):
    """The control file `hookcore up` keeps in its data dir is missing, unreadable, or left
    by an `up` that no longer runs (`hookcore.control`)."""

    code = "control_file_error"


class Unreachable(HookcoreError, ConnectionError):
    """The CLI has no hookcore to talk to: no URL known, or nothing answered at it."""

    code = "unreachable"


class ApiError(HookcoreError):
    """A hookcore's ``/api`` answered with an error: its message and ``hookcore-error-code``."""

    def __init__(self, message: str, code: str, status: int) -> None:
        super().__init__(f"{message} ({code})")
        self.message = message
        self.code = code
        self.status = status


class NatsUnreachable(HookcoreError, ConnectionError):
    """A process's first connection to NATS failed or got no answer in time (`hookcore.jetstream.connect`)."""

    code = "nats_unreachable"
