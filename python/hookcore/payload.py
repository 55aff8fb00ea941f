"""The trigger payload: what a flow receives (SPEC section 3, "What the flow receives").

Value types only: `hookcore.payload_codec` builds them from a stored request.
Serialized names are camelCase as in the seed; Python attributes are snake_case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class Body(msgspec.Struct, rename="camel"):
    """The parsed body: ``data`` depends on the content type (see `hookcore.parse_body`)."""

    data: Any
    content_type: str | None


class RawBody(msgspec.Struct, rename="camel"):
    """The exact bytes received."""

    data: bytes
    content_type: str | None


class Part(msgspec.Struct, rename="camel"):
    """One multipart/form-data part: JSON parts parsed, text decoded, files (with a filename) bytes."""

    data: Any
    content_type: str | None
    filename: str | None = None


class Payload(msgspec.Struct, rename="camel"):
    """Everything the webhook request carried, plus the instance's URLs and identity."""

    headers: dict[str, str]
    body: Body
    raw_body: RawBody
    path_fragment: str
    query_parameters: dict[str, str | list[str]]
    webhook_urls: dict[str, str]
    webhook_api_keys: dict[str, list[str]]
    invoke_url: str | None
    execution_id: str
    customer: str
    instance: str
    flow: str
    received_at: datetime


class InstanceLinks(msgspec.Struct, frozen=True):
    """What a flow knows about its own instance's URLs and keys (derived when the payload is built,
    never stored)."""

    webhook_urls: dict[str, str]
    webhook_api_keys: dict[str, list[str]]
    invoke_url: str | None
