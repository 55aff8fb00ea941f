"""Errors: one root, a stable snake_case ``code`` per kind, messages that say what to do."""

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
    # control plane and signed result URLs
    NOT_FOUND = "not_found"
    ADMIN_TOKEN_INVALID = "admin_token_invalid"
    BAD_REQUEST = "bad_request"
    RESULT_URL_INVALID = "result_url_invalid"
    RESULT_URL_EXPIRED = "result_url_expired"
    INTERNAL_ERROR = "internal_error"


class HookcoreError(Exception):
    """Root of every error hookcore raises on purpose."""

    code = "hookcore_error"


class ConfigError(HookcoreError, ValueError):
    """A setting or an integration definition is invalid."""

    code = "config_error"


class AppLoadError(HookcoreError, ImportError):
    """`--app MODULE:ATTR` could not be imported or is not an `Integration`."""

    code = "app_load_error"


class QueueUnavailable(HookcoreError):
    """JetStream did not acknowledge a publish in time or refused it."""

    code = "queue_unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(f"JetStream did not store the request: {reason}")
        self.reason = reason


class NotFound(HookcoreError, LookupError):
    """An instance, execution or result does not exist (any more)."""

    code = "not_found"


class BadRequest(HookcoreError, ValueError):
    """A control-plane request is malformed; the message says which field and why."""

    code = "bad_request"


class EmbeddedServerError(HookcoreError, RuntimeError):
    """The embedded nats-server could not be found or did not start."""

    code = "embedded_server_error"
