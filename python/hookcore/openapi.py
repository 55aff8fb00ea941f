"""``GET /api/openapi.json``: the OpenAPI 3.1 document of ``/api/*``.

Each route of the control plane is an `Operation` (the table is ``ROUTES`` in
`hookcore.api`, which routes requests by it too), naming the msgspec types it
decodes and answers with; `document` turns the table into OpenAPI, with JSON
Schema from ``msgspec.json.schema_components``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import msgspec

from hookcore.errors import ErrorCode
from hookcore.http import ERROR_CODE_HEADER, JSON, ErrorAnswer

SCHEMAS = "#/components/schemas/{name}"
SECURITY_SCHEME = "adminToken"

ERRORS: dict[int, tuple[str, tuple[ErrorCode, ...]]] = {
    400: (
        "The request is not valid; the message says what was expected.",
        (ErrorCode.BAD_REQUEST, ErrorCode.API_KEYS_NOT_ENABLED),
    ),
    401: (
        "Missing or wrong admin token (send `Authorization: Bearer $HOOKCORE_ADMIN_TOKEN`).",
        (ErrorCode.ADMIN_TOKEN_INVALID,),
    ),
    403: (
        "The control plane is disabled: the server runs without HOOKCORE_ADMIN_TOKEN.",
        (ErrorCode.CONTROL_PLANE_DISABLED,),
    ),
    404: ("Nothing with that id.", (ErrorCode.NOT_FOUND,)),
    409: (
        "It conflicts with what exists: the customer's instance of this shared-endpoint "
        'integration (deploy with `"replace": true` to replace it), or an execution no worker '
        "has started yet (replay it once it has).",
        (ErrorCode.INSTANCE_EXISTS, ErrorCode.EXECUTION_NOT_STARTED),
    ),
    413: (
        "The request body is larger than the control plane's limit (1 MiB).",
        (ErrorCode.BODY_TOO_LARGE,),
    ),
}
"""Error answers of ``/api/*`` by status: what they mean and the ``hookcore-error-code``s
they come with. Every operation may answer `EVERY_OPERATION`'s; a 500 (``internal_error``)
is a bug, not part of the contract."""
EVERY_OPERATION = (401, 403)


@dataclass(frozen=True, slots=True)
class Query:
    """A query parameter: its name, its type (what `msgspec.json.schema` describes) and meaning."""

    name: str
    type: Any
    description: str


@dataclass(frozen=True, slots=True)
class Operation:
    """One route of ``/api/*``: what it takes and what it answers.

    ``answer`` is the type of the success body (JSON), None for an answer without a
    body, or `typing.Any` with ``media`` ``*/*`` for bytes of any content type.
    """

    id: str
    """The operationId, unique in the document."""
    method: str
    path: str
    """An OpenAPI path template: ``/api/instances/{instanceId}``."""
    summary: str
    status: int
    answer: Any = None
    media: str = JSON
    body: Any = None
    """The type of the JSON request body; None: the route takes none."""
    errors: tuple[int, ...] = ()
    """Error statuses besides `EVERY_OPERATION`'s (keys of `ERRORS`)."""
    query: tuple[Query, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    """Headers of the success answer: (name, meaning)."""

    @property
    def pattern(self) -> tuple[str, ...]:
        """The path's segments with ``*`` for each parameter (how the control plane matches it)."""
        return tuple("*" if part.startswith("{") else part for part in self.path.strip("/").split("/"))

    @property
    def path_parameters(self) -> list[str]:
        return [part[1:-1] for part in self.path.strip("/").split("/") if part.startswith("{")]


def document(
    operations: tuple[Operation, ...],
    version: str,
    choices: Mapping[tuple[str, str], Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations``; ``choices`` are the values a property of a
    schema may take on this server: (schema, property) -> values (an ``enum``)."""
    types = [ErrorAnswer]
    for op in operations:
        types += [t for t in (op.answer, op.body) if t is not None]
        types += [q.type for q in op.query]
    schemas, components = msgspec.json.schema_components(types, ref_template=SCHEMAS)
    schema_of = dict(zip(map(_key, types), schemas, strict=True))
    for (name, prop), values in (choices or {}).items():
        components[name]["properties"][prop]["enum"] = list(values)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schema_of)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hookcore control plane",
            "version": version,
            "description": "Deploy integrations for customers, manage their API keys, and list, show "
            'and replay executions. Every error answer is `{"error": message}` with a '
            "`hookcore-error-code` header (docs/errors.md).",
        },
        "security": [{SECURITY_SCHEME: []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "HOOKCORE_ADMIN_TOKEN (`hookcore up` prints it).",
                }
            },
            "responses": {_error_name(status): _error(status, schema_of) for status in ERRORS},
        },
    }


def _operation(op: Operation, schema_of: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": HTTPStatus(op.status).phrase}
    if op.answer is not None:
        answer["content"] = {op.media: {"schema": schema_of[_key(op.answer)]}}
    if op.headers:
        answer["headers"] = {
            name: {"description": meaning, "required": True, "schema": {"type": "string"}}
            for name, meaning in op.headers
        }
    responses: dict[str, Any] = {str(op.status): answer}
    for status in sorted({*EVERY_OPERATION, *op.errors}):
        responses[str(status)] = {"$ref": f"#/components/responses/{_error_name(status)}"}
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in op.path_parameters
    ]
    parameters += [
        {"name": q.name, "in": "query", "description": q.description, "schema": schema_of[_key(q.type)]}
        for q in op.query
    ]
    spec: dict[str, Any] = {"operationId": op.id, "summary": op.summary, "responses": responses}
    if parameters:
        spec["parameters"] = parameters
    if op.body is not None:
        spec["requestBody"] = {"required": True, "content": {JSON: {"schema": schema_of[_key(op.body)]}}}
    return spec


def _error(status: int, schema_of: dict[str, Any]) -> dict[str, Any]:
    description, codes = ERRORS[status]
    return {
        "description": description,
        "headers": {
            ERROR_CODE_HEADER: {
                "description": "The stable code of the error (docs/errors.md).",
                "required": True,
                "schema": {"type": "string", "enum": [str(code) for code in codes]},
            }
        },
        "content": {JSON: {"schema": schema_of[_key(ErrorAnswer)]}},
    }


def _error_name(status: int) -> str:
    return HTTPStatus(status).phrase.title().replace(" ", "")


def _key(kind: Any) -> str:
    """A key telling types apart (``Annotated`` and ``Literal`` types are not all hashable)."""
    return repr(kind)
