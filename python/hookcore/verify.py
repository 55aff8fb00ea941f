"""Who may send (SPEC section 8): the signature schemes a flow's senders use.

``verify=`` on `Integration` or `Integration.flow` takes one of these; the
check runs in the Rust core on the exact bytes received, in constant time,
before anything is stored. ``secret`` names an instance config value
(``POST /api/instances {"config": {"github_secret": "..."}}``): a string, or a
list of strings while the secret is rotated (any one verifies). An instance
without it refuses every request (401 ``secret_not_configured``).

>>> from hookcore import Integration, verify
>>> app = Integration("acme-github", verify=verify.github(secret="github_secret"))
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hookcore.errors import ConfigError

DEFAULT_TOLERANCE = 300
"""Seconds a signed timestamp may be away from the ingress's clock."""


class Scheme(StrEnum):
    """The signature schemes hookcore checks. KEEP IN SYNC with ``VerifySpec`` in rust/verify/spec.rs."""

    STANDARD_WEBHOOKS = "standardWebhooks"
    GITHUB = "github"
    STRIPE = "stripe"
    SLACK = "slack"
    SHOPIFY = "shopify"
    HMAC = "hmac"


class Algorithm(StrEnum):
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA512 = "sha512"


class Encoding(StrEnum):
    HEX = "hex"
    BASE64 = "base64"


@dataclass(frozen=True, slots=True)
class Verifier:
    """One scheme with its settings; made by the functions of this module."""

    scheme: Scheme
    secret: str
    """Name of the instance config value holding the secret."""
    tolerance: int | None = None
    header: str | None = None
    algorithm: Algorithm | None = None
    encoding: Encoding | None = None
    prefix: str | None = None

    def __post_init__(self) -> None:
        if not self.secret:
            raise ConfigError(f"verify.{self.scheme} needs secret=<name of an instance config value>")
        if self.tolerance is not None and self.tolerance < 1:
            raise ConfigError(
                f"verify.{self.scheme}: tolerance must be at least 1 second, got {self.tolerance}"
            )

    def spec(self) -> dict[str, Any]:
        """The JSON the Rust core loads (``VerifySpec``)."""
        fields = {
            "scheme": str(self.scheme),
            "secret": self.secret,
            "tolerance": self.tolerance,
            "header": self.header,
            "algorithm": None if self.algorithm is None else str(self.algorithm),
            "encoding": None if self.encoding is None else str(self.encoding),
            "prefix": self.prefix,
        }
        return {k: v for k, v in fields.items() if v is not None}


def standard_webhooks(secret: str, tolerance: int = DEFAULT_TOLERANCE) -> Verifier:
    """Standard Webhooks (Svix and others): ``webhook-id``, ``webhook-timestamp`` and
    ``webhook-signature`` (``v1,<base64>``, several space separated) over ``{id}.{timestamp}.{body}``;
    the secret is ``whsec_<base64 key>``. Delivery id for duplicates: ``webhook-id``."""
    return Verifier(Scheme.STANDARD_WEBHOOKS, secret, tolerance=tolerance)


def github(secret: str) -> Verifier:
    """GitHub: ``X-Hub-Signature-256: sha256=<hex>`` of the body. Delivery id: ``X-GitHub-Delivery``."""
    return Verifier(Scheme.GITHUB, secret)


def stripe(secret: str, tolerance: int = DEFAULT_TOLERANCE) -> Verifier:
    """Stripe: ``Stripe-Signature: t=<ts>,v1=<hex>[,v1=…]`` over ``{t}.{body}``. Delivery id: body ``/id``."""
    return Verifier(Scheme.STRIPE, secret, tolerance=tolerance)


def slack(secret: str, tolerance: int = DEFAULT_TOLERANCE) -> Verifier:
    """Slack: ``X-Slack-Signature: v0=<hex>`` of ``v0:{X-Slack-Request-Timestamp}:{body}``; also answers
    Slack's signed ``url_verification`` with its challenge. Delivery id: body ``/event_id``."""
    return Verifier(Scheme.SLACK, secret, tolerance=tolerance)


def shopify(secret: str) -> Verifier:
    """Shopify: ``X-Shopify-Hmac-Sha256: <base64>`` of the body. Delivery id: ``X-Shopify-Webhook-Id``."""
    return Verifier(Scheme.SHOPIFY, secret)


def hmac(
    secret: str,
    header: str,
    algorithm: Algorithm | str = Algorithm.SHA256,
    encoding: Encoding | str = Encoding.HEX,
    prefix: str = "",
) -> Verifier:
    """Any other sender: ``header`` holds ``prefix`` + the HMAC of the body, hex or base64.
    No delivery id is implied: set ``dedup=header(...)`` or ``body(...)`` for duplicates."""
    if not header:
        raise ConfigError("verify.hmac needs header=<the header carrying the signature>")
    try:
        algorithm, encoding = Algorithm(algorithm), Encoding(encoding)
    except ValueError as e:
        raise ConfigError(
            f"verify.hmac: {e}; algorithm is one of sha1, sha256, sha512 and encoding hex or base64"
        ) from None
    return Verifier(
        Scheme.HMAC, secret, header=header.lower(), algorithm=algorithm, encoding=encoding, prefix=prefix
    )
