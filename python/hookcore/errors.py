"""Errors: one root, a stable snake_case ``code`` per kind, messages that say what to do."""

from __future__ import annotations


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
