"""Signed, expiring result URLs: ``/results/{execution_id}?expires=…&signature=…``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

RESULTS_PREFIX = "/results/"


def _signature(key: bytes, execution_id: str, expires: int) -> str:
    mac = hmac.new(key, f"result\x00{execution_id}\x00{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def result_url(public_url: str, key: bytes, execution_id: str, ttl: float, now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + ttl)
    return (
        f"{public_url}{RESULTS_PREFIX}{execution_id}"
        f"?expires={expires}&signature={_signature(key, execution_id, expires)}"
    )


def check_result_url(
    key: bytes, execution_id: str, expires: str | None, signature: str | None, now: float | None = None
) -> str | None:
    """None when the URL is valid, else why not (for a 403)."""
    if not expires or not signature or not expires.isdigit():
        return "This result URL is missing its expires/signature parameters."
    if not hmac.compare_digest(signature, _signature(key, execution_id, int(expires))):
        return "This result URL's signature is not valid."
    if int(expires) < (now if now is not None else time.time()):
        return "This result URL has expired; fetch the result through /api/executions/{id}/result."
    return None
