"""hookcore's Rust core (private; the public API is `hookcore`).

This stub is the contract between Python and ``rust/bindings``: names,
argument order and tuple shapes here must match the Rust code.
"""

from typing import Any, Final

ALLOW: Final[str]
"""The ``Allow`` header value of a 405 on a trigger URL."""

BODY_EMPTY: Final[int]
BODY_JSON: Final[int]
BODY_MULTIPART: Final[int]
BODY_FORM: Final[int]
BODY_TEXT: Final[int]
BODY_BINARY: Final[int]

class Ingress:
    """The routing table and the hot path of one ingress process."""

    def __init__(
        self,
        *,
        subject_prefix: str,
        max_inline_body: int,
        max_headers: int,
        max_header_bytes: int,
        max_parts: int,
        max_part_header_bytes: int,
    ) -> None:
        """Accepted requests go to ``{subject_prefix}.{execution_id}``; bodies above
        ``max_inline_body`` bytes are flagged for the object store."""

    def set_route(self, endpoint_id: str, record: bytes) -> None:
        """Insert or replace a route from its JSON endpoint record (``hookcore.store.EndpointRecord``).

        Raises ``ValueError`` when the record is malformed or names another endpoint."""

    def remove_route(self, endpoint_id: str) -> bool:
        """Remove a route; True when it existed."""

    def route_count(self) -> int: ...
    def ingest(
        self,
        method: str,
        target: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> tuple[int, bytes, str | None, str | None, bytes | None, bool]:
        """Decide one trigger request.

        ``target`` is the (decoded) path after ``/trigger/``. Returns
        ``(status, response_body, execution_id, subject, envelope, body_to_object_store)``:
        when ``envelope`` is None, answer ``status`` with ``response_body`` (an error
        JSON, or empty for HEAD) and store nothing; otherwise publish ``envelope`` to
        ``subject`` (after putting the body into the object store under
        ``execution_id`` when the flag is set) and answer 200 with ``response_body``.
        """

def new_id() -> str:
    """A new time-sortable id (UUIDv7, lower-case hyphenated)."""

def parse_query(query: str | bytes) -> dict[str, str | list[str]]:
    """Parse a query string / urlencoded form: ``+`` is a space, percent-decoding,
    invalid UTF-8 replaced with U+FFFD, blank values kept, repeated names -> list."""

def parse_body(
    body: bytes,
    content_type: str | None,
    parts: list[tuple[str, str | None, str | None, int, int]] | None = None,
) -> tuple[int, Any, str | None]:
    """Classify and parse a body; returns ``(kind, value, note)`` with kind one of ``BODY_*``.

    - ``BODY_EMPTY``: None. ``BODY_JSON``: None (decode ``body`` itself; it is valid JSON).
    - ``BODY_MULTIPART``: list of ``(name, filename, content_type, is_json, data)``;
      ``data`` is bytes for files and JSON parts, str for text parts.
    - ``BODY_FORM``: like `parse_query`. ``BODY_TEXT``: str decoded with the charset.
    - ``BODY_BINARY``: ``body`` itself; also text its charset cannot decode, and
      then ``note`` says why (otherwise ``note`` is None).

    ``parts`` is the multipart index the ingress found; without it the body is
    parsed. Raises ``ValueError`` (with the reason) for malformed JSON or multipart.
    """
