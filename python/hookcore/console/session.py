"""Console sessions: a signed, expiring cookie, and the CSRF token of each session.

The cookie holds no secret: ``{expires}.{nonce}.{signature}``, signed with
HMAC-SHA256 under a key derived from the admin token. The admin token itself
is never stored in the cookie, the page or a URL; changing it ends every
session. Each session's CSRF token is derived from its nonce under the same
key, so it needs no server-side state either: a form that changes something
carries it, and the server checks it against the session's cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import NamedTuple

COOKIE = "hookcore_console"
SESSION_SECONDS = 12 * 3600
"""How long a login lasts; the operator logs in again after that."""
PATH = "/console"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Session(NamedTuple):
    """A valid session: its nonce (what its CSRF token derives from) and when it ends."""

    nonce: str
    expires: int


class Sessions:
    """Issues and checks session cookies and CSRF tokens for one admin token."""

    def __init__(self, admin_token: str, secure: bool) -> None:
        self._token = admin_token.encode()
        # A key of its own: a console signature is never valid as anything else.
        self._key = hmac.new(self._token, b"hookcore console session", hashlib.sha256).digest()
        self._secure = secure

    def password_matches(self, candidate: str) -> bool:
        """Whether ``candidate`` is the admin token (constant time; never with an empty token)."""
        return bool(self._token) and hmac.compare_digest(candidate.encode(), self._token)

    def _sign(self, purpose: str, *parts: str) -> str:
        message = "\x00".join((purpose, *parts)).encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())

    def issue(self, now: float | None = None) -> tuple[Session, str]:
        """A new session and its ``Set-Cookie`` header value."""
        expires = int((time.time() if now is None else now) + SESSION_SECONDS)
        nonce = secrets.token_urlsafe(16)
        value = f"{expires}.{nonce}.{self._sign('session', str(expires), nonce)}"
        return Session(nonce, expires), self._cookie(value, SESSION_SECONDS)

    def clear(self) -> str:
        """The ``Set-Cookie`` header value that removes the session cookie."""
        return self._cookie("", 0)

    def _cookie(self, value: str, max_age: int) -> str:
        secure = "; Secure" if self._secure else ""
        return f"{COOKIE}={value}; Path={PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"

    def check(self, cookie_header: str | None, now: float | None = None) -> Session | None:
        """The session the request's ``Cookie`` header carries, if it is valid and current."""
        if not self._token or not cookie_header:
            return None
        value = _cookie_value(cookie_header, COOKIE)
        if value is None:
            return None
        parts = value.split(".")
        if len(parts) != 3:
            return None
        expires, nonce, signature = parts
        if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
            return None
        if not hmac.compare_digest(signature.encode(), self._sign("session", expires, nonce).encode()):
            return None
        if int(expires) < (time.time() if now is None else now):
            return None
        return Session(nonce, int(expires))

    def csrf_token(self, session: Session) -> str:
        """The token every changing form of ``session`` carries."""
        return self._sign("csrf", session.nonce)

    def csrf_matches(self, session: Session, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(
            candidate.encode(), self.csrf_token(session).encode()
        )


def _cookie_value(header: str, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header (the last one when repeated)."""
    found = None
    for pair in header.split(";"):
        key, sep, value = pair.strip().partition("=")
        if sep and key == name:
            found = value
    return found
