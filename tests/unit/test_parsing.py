"""hookcore.parse_body / parse_query against oracles: urllib.parse, json, python-multipart."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from python_multipart import MultipartParser

from hookcore import Part, parse_body, parse_query


def _grouped(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name not in out:
            out[name] = value
        elif isinstance(out[name], list):
            out[name].append(value)
        else:
            out[name] = [out[name], value]
    return out


def _oracle_query(query: str) -> dict[str, Any]:
    return _grouped(urllib.parse.parse_qsl(query, keep_blank_values=True, errors="replace"))


query_text = st.text(alphabet=st.sampled_from("ab=&+%2Fé0F_ -;?#\x00zZ"), max_size=60)


@given(query_text)
@example("a=1&a=2&a=3&b=")
@example("%zz=%4&%C3=%C3%A9+x&&=&")
def test_parse_query_matches_urllib(query: str) -> None:
    # Names in order of first appearance, as the dict urllib's pairs make.
    assert list(parse_query(query).items()) == list(_oracle_query(query).items())


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "d"]) | st.text(max_size=12), st.text(max_size=20)),
        max_size=40,
    )
)
def test_parse_query_round_trips_urlencode(pairs: list[tuple[str, str]]) -> None:
    encoded = urllib.parse.urlencode(pairs)
    expected = _grouped(pairs) if encoded else {}
    assert list(parse_query(encoded).items()) == list(expected.items())
    assert parse_query(encoded.encode()) == parse_query(encoded)


def test_parse_query_many_names_and_long_names() -> None:
    # More names than the key cache has slots, twice: evicted and colliding keys
    # stay right, and names repeated far apart still gather into lists.
    pairs = [(f"n{i}", str(i)) for i in range(3000)] + [("k" * 100, "long"), ("é" * 40, "wide")]
    pairs += [("n7", "again"), ("k" * 100, "again"), ("n7", "thrice")]
    query = urllib.parse.urlencode(pairs)
    for _ in range(2):
        assert list(parse_query(query).items()) == list(_grouped(pairs).items())


def test_parse_query_examples() -> None:
    assert parse_query("param-one=ParamValueOne&param-two=ParamValueTwo") == {
        "param-one": "ParamValueOne",
        "param-two": "ParamValueTwo",
    }
    assert parse_query("") == {}
    assert parse_query("a+b=c+d&flag") == {"a b": "c d", "flag": ""}
    with pytest.raises(TypeError, match="str or bytes"):
        parse_query(42)  # type: ignore[arg-type]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@given(json_values)
def test_json_bodies_parse_like_json(value: Any) -> None:
    body = json.dumps(value).encode()
    assert parse_body(body, "application/json") == json.loads(body)
    assert parse_body(body, "application/vnd.api+json; charset=utf-8") == json.loads(body)


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


@given(st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v).encode()[:-1]))
@example(b'"\\ud800"')
@example(b"NaN")
@example(b"[1,]")
def test_json_validation_agrees_with_json(body: bytes) -> None:
    if not body:
        assert parse_body(body, "application/json") is None  # no body at all
        return
    try:
        expected = json.loads(body.decode("utf-8"), parse_constant=_refuse)
    except ValueError:  # includes UnicodeDecodeError
        with pytest.raises(ValueError, match="malformed JSON"):
            parse_body(body, "application/json")
        return
    try:
        assert parse_body(body, "application/json") == expected
    except ValueError:
        # Python's json accepts escaped lone surrogates; strict JSON (and msgspec) do not.
        assert _has_lone_surrogate(expected)


def test_bodies_by_content_type() -> None:
    assert parse_body(b"", "application/json") is None
    assert parse_body(b"<a>\xc3\xa9</a>", "application/xml") == "<a>é</a>"
    assert parse_body(b"caf\xe9", "text/plain; charset=latin-1") == "café"
    assert parse_body("h\u00e9".encode("utf-16"), "text/plain; charset=utf-16") == "hé"
    assert parse_body(b"\x89PNG\r\n", "image/png") == b"\x89PNG\r\n"
    assert parse_body(b"raw", None) == b"raw"
    assert parse_body(b"a=1&a=2&b=x+y", "application/x-www-form-urlencoded") == {"a": ["1", "2"], "b": "x y"}
    # undecodable text keeps the exact bytes
    assert parse_body(b"\xff\xfe\xfa", "text/plain; charset=utf-8") == b"\xff\xfe\xfa"


def _multipart(parts: list[tuple[str, str | None, str | None, bytes]], boundary: str) -> bytes:
    out = b""
    for name, filename, content_type, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if content_type:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def _oracle_multipart(body: bytes, boundary: str) -> list[tuple[str, bytes]]:
    parts: list[tuple[str, bytes]] = []
    current: dict[str, Any] = {}

    def on_part_begin() -> None:
        current.clear()
        current.update(data=b"", headers={}, field=b"", value=b"")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        current["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        current["value"] += data[start:end]

    def on_header_end() -> None:
        current["headers"][current["field"].lower()] = current["value"]
        current["field"], current["value"] = b"", b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        current["data"] += data[start:end]

    def on_part_end() -> None:
        disposition = current["headers"][b"content-disposition"].decode()
        name = disposition.split('name="', 1)[1].split('"', 1)[0]
        parts.append((name, current["data"]))

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    parser.write(body)
    parser.finalize()
    return parts


names = st.text(
    alphabet=st.characters(blacklist_characters='"\r\n\\', blacklist_categories=("Cs",)),
    min_size=1,
    max_size=10,
)
part_strategy = st.tuples(
    names,
    st.one_of(st.none(), names),
    st.sampled_from([None, "application/octet-stream", "image/png"]),
    st.binary(max_size=300),
)


@given(
    st.lists(part_strategy, min_size=1, max_size=6),
    st.text(alphabet="abcXYZ0189'()+_,-./:=?", min_size=1, max_size=60),
)
def test_multipart_file_parts_match_python_multipart(parts: list[Any], boundary: str) -> None:
    files = [(n, f or "f.bin", ct or "application/octet-stream", d) for n, f, ct, d in parts]
    body = _multipart(files, boundary)
    if any(boundary.encode() in d for *_, d in files):
        return  # a boundary inside the data is not a valid encoding
    form = parse_body(body, f'multipart/form-data; boundary="{boundary}"')
    ours = []
    for value in form.values():
        ours.extend(value if isinstance(value, list) else [value])
    expected = _oracle_multipart(body, boundary)
    assert sorted((p.filename is not None, p.data) for p in ours) == sorted((True, d) for _, d in expected)
    assert set(form) == {name for name, _ in expected}


def test_seed_multipart_example() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    body = _multipart(
        [
            ("person", None, "application/json", b'{"firstname":"Taylor","lastname":"Reece"}'),
            ("photo", "taylor.png", "image/png", png),
            ("note", None, None, "hé".encode()),
            ("tag", None, None, b"a"),
            ("tag", None, None, b"b"),
        ],
        "----X",
    )
    form = parse_body(body, "multipart/form-data; boundary=----X")
    assert form["person"].data["firstname"] == "Taylor"
    assert form["person"].content_type == "application/json"
    assert form["photo"] == Part(data=png, content_type="image/png", filename="taylor.png")
    assert form["note"].data == "hé"
    assert [p.data for p in form["tag"]] == ["a", "b"]


@pytest.mark.parametrize(
    "body",
    [
        b'--X\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue',  # no closing boundary
        b"no boundary here",
        b"--X\r\nContent-Disposition form-data\r\n\r\nv\r\n--X--",  # bad header
    ],
)
def test_malformed_multipart_raises(body: bytes) -> None:
    with pytest.raises(ValueError, match="malformed multipart"):
        parse_body(body, "multipart/form-data; boundary=X")
