"""URL handshakes (SPEC section 8): providers' checks that a webhook URL is really yours.

``handshake=`` on `Integration` or `Integration.flow` takes one of these; the
ingress answers such a request itself, without running the flow or creating
an execution. (Slack's ``url_verification`` comes with ``verify.slack``.)

>>> from hookcore import Integration, handshake
>>> app = Integration("acme-meta", handshake=handshake.meta(verify_token="meta_token"))
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hookcore.errors import ConfigError


class Kind(StrEnum):
    """KEEP IN SYNC with ``HandshakeSpec`` in rust/verify/spec.rs."""

    ZOOM = "zoom"
    META = "meta"
    GRAPH = "graph"
    DROPBOX = "dropbox"


@dataclass(frozen=True, slots=True)
class Handshake:
    """One provider's handshake; made by the functions of this module."""

    kind: Kind
    secret: str | None = None
    """Name of the instance config value the answer needs (Zoom's secret, Meta's verify token)."""

    def spec(self) -> dict[str, Any]:
        """The JSON the Rust core loads (``HandshakeSpec``)."""
        if self.kind is Kind.ZOOM:
            return {"kind": "zoom", "secret": self.secret}
        if self.kind is Kind.META:
            return {"kind": "meta", "verifyToken": self.secret}
        return {"kind": str(self.kind)}


def zoom(secret: str) -> Handshake:
    """Zoom's ``endpoint.url_validation``: answers ``{"plainToken": P, "encryptedToken":
    hex(HMAC-SHA256(secret, P))}``; ``secret`` names the config value with the app's secret token."""
    if not secret:
        raise ConfigError("handshake.zoom needs secret=<name of an instance config value>")
    return Handshake(Kind.ZOOM, secret)


def meta(verify_token: str) -> Handshake:
    """Meta (Facebook, Instagram, WhatsApp): ``GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C``
    answers ``C`` when ``T`` equals the config value named ``verify_token``, else 403."""
    if not verify_token:
        raise ConfigError("handshake.meta needs verify_token=<name of an instance config value>")
    return Handshake(Kind.META, verify_token)


def graph() -> Handshake:
    """Microsoft Graph: a request with ``?validationToken=V`` answers ``V`` as text/plain."""
    return Handshake(Kind.GRAPH)


def dropbox() -> Handshake:
    """Dropbox: ``GET ?challenge=C`` answers ``C`` as text/plain with ``X-Content-Type-Options: nosniff``."""
    return Handshake(Kind.DROPBOX)
