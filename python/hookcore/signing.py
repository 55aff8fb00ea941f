"""Signed, expiring result URLs: ``/results/{execution_id}?expires=…&signature=…``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import NamedTuple

from hookcore.errors import ErrorCode

RESULTS_PREFIX = "/results/"


class Refusal(NamedTuple):
    """Why a result URL is refused (HTTP 403)."""

    message: str
    code: ErrorCode


def _signature(key: bytes, execution_id: str, expires: int) -> bytes:
    mac = hmac.new(key, f"result\x00{execution_id}\x00{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=")


def result_url(public_url: str, key: bytes, execution_id: str, ttl: float, now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + ttl)
    return (
        f"{public_url}{RESULTS_PREFIX}{execution_id}"
        f"?expires={expires}&signature={_signature(key, execution_id, expires).decode()}"
    )


def check_result_url(
    key: bytes, execution_id: str, expires: str | None, signature: str | None, now: float | None = None
) -> Refusal | None:
    """None when the URL is valid, else why not (for a 403).

    Parameters come from the caller as any text: only up to 20 ASCII digits are a
    time (``str.isdigit`` also accepts "²"), and the signature is compared as UTF-8 bytes.
    """
    if not expires or not signature or not (len(expires) <= 20 and expires.isascii() and expires.isdigit()):
        return Refusal(
            "This result URL is missing its expires/signature parameters or they are malformed.",
            ErrorCode.RESULT_URL_INVALID,
        )
    if not hmac.compare_digest(signature.encode(), _signature(key, execution_id, int(expires))):
        return Refusal("This result URL's signature is not valid.", ErrorCode.RESULT_URL_INVALID)
    if int(expires) < (now if now is not None else time.time()):
        return Refusal(
            "This result URL has expired; fetch the result through /api/executions/{id}/result.",
            ErrorCode.RESULT_URL_EXPIRED,
        )
    return None
