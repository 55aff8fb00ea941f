"""Rust parsers vs the pure-Python equivalents on the same inputs."""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import os
import urllib.parse
from typing import Any

import pytest
from python_multipart import MultipartParser

from hookcore import _core

BOUNDARY = "----hookcoreBenchBoundary7MA4YWxkTrZu0gW"


def _multipart(parts: list[tuple[str, str | None, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, content_type, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        if content_type:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


MULTIPART_CT = f"multipart/form-data; boundary={BOUNDARY}"
MULTIPART_100K = _multipart(
    [
        (
            "person",
            None,
            "application/json",
            json.dumps({"firstname": "Taylor", "lastname": "Reece"}).encode(),
        ),
        ("photo", "taylor.png", "image/png", os.urandom(90_000)),
        ("notes", None, "text/plain", b"x" * 10_000),
    ]
)
MULTIPART_20 = _multipart([(f"field{i}", None, None, f"value {i}".encode()) for i in range(20)])
FORM_50 = urllib.parse.urlencode([(f"name{i}", f"value {i} & more") for i in range(50)])
QUERY = "param-one=ParamValueOne&param-two=ParamValueTwo&tag=a&tag=b&q=hello+world%21"
# 30 parameters as a callback URL carries them: ids, timestamps, escaped text, one repeated name.
QUERY_30 = urllib.parse.urlencode(
    [("event", "order.created"), ("ts", "2026-11-30T09:41:07Z"), ("redirect", "https://shop.example/a?b=c")]
    + [(f"field_{i}", f"value {i} / ü" if i % 4 == 0 else f"v{i}") for i in range(24)]
    + [("tag", "a"), ("tag", "b"), ("tag", "c")]
)
JSON_1K = json.dumps(
    {"event": {"type": "order.created"}, "items": [{"sku": f"W-{i}", "q": i} for i in range(30)]}
)
JSON_100K = json.dumps(
    {
        "event": {"type": "order.created"},
        "items": [{"sku": f"W-{i}", "q": i, "d": "x" * 20} for i in range(1760)],
    }
)


def _python_multipart(body: bytes) -> list[tuple[bytes, bytes]]:
    parts: list[tuple[bytes, bytes]] = []
    state: dict[str, Any] = {}

    def on_part_begin() -> None:
        state.update(data=[], header=b"", disposition=b"")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header"] = data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        if state["header"].lower() == b"content-disposition":
            state["disposition"] += data[start:end]

    def on_part_data(data: bytes, start: int, end: int) -> None:
        state["data"].append(data[start:end])

    def on_part_end() -> None:
        parts.append((state["disposition"], b"".join(state["data"])))

    parser = MultipartParser(
        BOUNDARY,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    parser.write(body)
    parser.finalize()
    return parts


@pytest.mark.parametrize("body", [MULTIPART_100K, MULTIPART_20], ids=["3 parts 100KB", "20 fields"])
def test_multipart_rust(benchmark: Any, body: bytes, request: Any) -> None:
    benchmark.group = f"multipart {request.node.callspec.id}"
    benchmark.extra_info["subject"] = True  # hookcore's side of the group
    parsed = benchmark(_core.parse_body, body, MULTIPART_CT)
    assert parsed.kind == "multipart" and parsed.value


@pytest.mark.parametrize("body", [MULTIPART_100K, MULTIPART_20], ids=["3 parts 100KB", "20 fields"])
def test_multipart_python_multipart(benchmark: Any, body: bytes, request: Any) -> None:
    benchmark.group = f"multipart {request.node.callspec.id}"
    assert benchmark(_python_multipart, body)


@pytest.mark.parametrize(
    "text", [FORM_50, QUERY, QUERY_30], ids=["form 50 fields", "query string", "query string 30 params"]
)
def test_urlencoded_rust(benchmark: Any, text: str, request: Any) -> None:
    benchmark.group = f"urlencoded {request.node.callspec.id}"
    benchmark.extra_info["subject"] = True  # hookcore's side of the group
    assert benchmark(_core.parse_query, text) == _urllib(text)


@pytest.mark.parametrize(
    "text", [FORM_50, QUERY, QUERY_30], ids=["form 50 fields", "query string", "query string 30 params"]
)
def test_urlencoded_urllib(benchmark: Any, text: str, request: Any) -> None:
    benchmark.group = f"urlencoded {request.node.callspec.id}"
    assert benchmark(_urllib, text)


def _urllib(text: str) -> dict[str, Any]:
    return {
        k: v[0] if len(v) == 1 else v for k, v in urllib.parse.parse_qs(text, keep_blank_values=True).items()
    }


@pytest.mark.parametrize("doc", [JSON_1K, JSON_100K], ids=["1KB", "100KB"])
def test_json_validation_rust(benchmark: Any, doc: str, request: Any) -> None:
    benchmark.group = f"json validation {request.node.callspec.id}"
    benchmark.extra_info["subject"] = True  # hookcore's side of the group
    body = doc.encode()
    assert benchmark(_core.parse_body, body, "application/json").kind == "json"


@pytest.mark.parametrize("doc", [JSON_1K, JSON_100K], ids=["1KB", "100KB"])
def test_json_validation_json_loads(benchmark: Any, doc: str, request: Any) -> None:
    benchmark.group = f"json validation {request.node.callspec.id}"
    body = doc.encode()
    assert benchmark(json.loads, body)


class _PurePythonJson(json.JSONDecoder):
    """The json module's own pure-Python decoder (json.loads uses its C accelerator)."""

    def __init__(self) -> None:
        super().__init__()
        self.parse_string = json.decoder.py_scanstring  # type: ignore[attr-defined]
        self.scan_once = json.scanner.py_make_scanner(self)  # type: ignore[attr-defined]


@pytest.mark.parametrize("doc", [JSON_1K, JSON_100K], ids=["1KB", "100KB"])
def test_json_validation_pure_python(benchmark: Any, doc: str, request: Any) -> None:
    benchmark.group = f"json validation {request.node.callspec.id}"
    decoder = _PurePythonJson()
    assert benchmark(decoder.decode, doc) == json.loads(doc)
