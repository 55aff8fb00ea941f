"""Body and query parsing, as flows see it (SPEC section 3, body-parsing table).

The byte work happens in Rust (``_core``); JSON documents are decoded by
msgspec. The ingress has already validated the body, so nothing here fails
on a request that was accepted.

A flow sees a JSON document exactly as `json.loads` decodes it (SPEC 9):
big integers exact, ``1e400`` -> ``inf``. msgspec agrees on everything the
validator accepts but numbers beyond the float range, which it refuses; those
documents (and only those) are decoded again by `json.loads`. Integers longer
than `MAX_INT_DIGITS`, which neither can decode, are refused by the validator.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from hookcore import _core
from hookcore.payload import Part

MAX_INT_DIGITS = 4300
"""Most digits of a JSON number's integer part: CPython's default
``sys.get_int_max_str_digits()``, beyond which `json.loads` (and msgspec) refuse
an integer. The Rust validator refuses longer ones before anything is stored.
KEEP IN SYNC with ``MAX_INT_DIGITS`` in ``rust/parse/json.rs`` (exported as
``_core.JSON_MAX_INT_DIGITS``)."""

_msgspec_decode = msgspec.json.Decoder().decode


def _decode_json(data: bytes) -> Any:
    """A validated JSON document as `json.loads` decodes it, at msgspec's speed."""
    try:
        return _msgspec_decode(data)
    except msgspec.DecodeError:
        # "Number out of range": a float beyond 1.8e308, which json.loads reads
        # as +-inf. Linear in the size, like the first attempt.
        return json.loads(data.decode())


def parse_query(query: str | bytes) -> dict[str, str | list[str]]:
    """Parse a query string or urlencoded form: ``+`` is a space, repeated names give lists.

    >>> parse_query("a=1&b=x+y&a=2&c")
    {'a': ['1', '2'], 'b': 'x y', 'c': ''}
    """
    return _core.parse_query(query)


def parse_body(
    body: bytes,
    content_type: str | None,
    parts: list[tuple[str, str | None, str | None, int, int]] | None = None,
) -> Any:
    """What ``payload.body.data`` is for ``body`` sent with ``content_type``.

    JSON -> parsed value; multipart -> name -> `Part` (repeated names -> list);
    urlencoded form -> like `parse_query`; text -> str; anything else -> bytes;
    no body -> None. ``parts`` is the index the ingress found (saves a re-parse).
    Raises `hookcore.errors.MalformedBody` (a ``ValueError``) for a body the ingress would have refused.
    """
    return parse_body_noted(body, content_type, parts)[0]


def parse_body_noted(
    body: bytes,
    content_type: str | None,
    parts: list[tuple[str, str | None, str | None, int, int]] | None = None,
) -> tuple[Any, str | None]:
    """`parse_body`, plus a note when the body could not be read as its type said
    (e.g. text its charset cannot decode: the data is then the raw bytes)."""
    parsed = _core.parse_body(body, content_type, parts)
    if parsed.kind == "json":
        return _decode_json(body), parsed.note
    if parsed.kind == "multipart":
        return _form(parsed.value), parsed.note
    return parsed.value, parsed.note


def _form(parts: list[tuple[str, str | None, str | None, bool, Any]]) -> dict[str, Part | list[Part]]:
    form: dict[str, Part | list[Part]] = {}
    for name, filename, content_type, is_json, data in parts:
        part = Part(
            data=_decode_json(data) if is_json else data, content_type=content_type, filename=filename
        )
        existing = form.get(name)
        if existing is None:
            form[name] = part
        elif isinstance(existing, list):
            existing.append(part)
        else:
            form[name] = [existing, part]
    return form
