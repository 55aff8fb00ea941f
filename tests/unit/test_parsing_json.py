"""JSON bodies reach flows as `json.loads` decodes them (SPEC 9, "accepted means runnable").

Whatever the Rust validator accepts, `parse_body` decodes to exactly what
`json.loads` gives: big integers exact, ``1e400`` -> ``inf``, ``-0.0`` kept.
What neither Python decoder can run (integers over `MAX_INT_DIGITS` digits) the
validator refuses.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hookcore import _core, parse_body
from hookcore.parsing import MAX_INT_DIGITS


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down: ``1 != 1.0``, ``-0.0 != 0.0``,
    ``True != 1``, dict order counts, and NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_same_sees_what_equality_misses() -> None:
    assert _same({"a": [1, -0.0, math.nan]}, {"a": [1, -0.0, math.nan]})
    assert not _same(-0.0, 0.0)
    assert not _same(1, 1.0)
    assert not _same(True, 1)
    assert not _same({"a": 1, "b": 2}, {"b": 2, "a": 1})


def test_the_limit_is_cpythons_and_both_sides_agree() -> None:
    assert MAX_INT_DIGITS == _core.JSON_MAX_INT_DIGITS == sys.int_info.default_max_str_digits


def _digits(n: int) -> str:
    """An integer of ``n`` digits (no leading zero)."""
    return ("9876543210" * (n // 10 + 1))[:n]


integer_texts = st.integers(1, MAX_INT_DIGITS).map(_digits)
number_texts = st.one_of(
    st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,4})?", fullmatch=True),
    st.builds(lambda sign, digits: sign + digits, st.sampled_from(["", "-"]), integer_texts),
    st.builds(
        lambda digits, tail: digits + tail,
        integer_texts,
        st.sampled_from([".5", "e3", ".0E-400", "e+400"]),
    ),
    st.sampled_from(
        [
            "1e400",
            "-1e400",
            "1E+400",
            "-0",
            "-0.0",
            "0e0",
            "-0e-0",
            "1.7976931348623157e308",
            "1.7976931348623159e308",
            "4.9e-324",
            "2.4703282292062327e-324",
            "1e-400",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775809",
            "0." + "0" * 400 + "1",
            "1e" + "0" * 30 + "400",
        ]
    ),
)
key_texts = st.text(max_size=6).map(json.dumps) | st.sampled_from(['"a"', '"\\u00e9"', '"\\ud83d\\ude00"'])
whitespace = st.sampled_from(["", " ", "\n", "\t\r\n  "])


def _array(items: list[str], ws: str) -> str:
    return "[" + ws + ("," + ws).join(items) + ws + "]"


def _object(members: list[tuple[str, str]], ws: str) -> str:
    return "{" + ws + ("," + ws).join(f"{k}{ws}:{ws}{v}" for k, v in members) + ws + "}"


json_texts = st.recursive(
    number_texts | st.sampled_from(["true", "false", "null", '""', '"x\\n\\"y"']) | key_texts,
    lambda children: (
        st.builds(_array, st.lists(children, max_size=5), whitespace)
        # Repeated keys included: the last value wins, in the first key's place.
        | st.builds(_object, st.lists(st.tuples(key_texts, children), max_size=5), whitespace)
    ),
    max_leaves=25,
)


MAX_DEPTH = 512  # rust/parse/json.rs


def _nested(text: str, depth: int) -> str:
    return "[" * depth + text + "]" * depth


@given(json_texts | st.builds(_nested, json_texts, st.integers(0, 511)))
@example('{"quantity":1e400,"big":' + "1" * 400 + "}")
@example("[1e400, -1e400, -0.0, -0, " + _digits(MAX_INT_DIGITS) + "]")
@example(_nested("-1e400", 511))
@example(_nested("{}", 511))
@example('{"a": 1e400, "a": 2}')
def test_accepted_documents_decode_exactly_like_json_loads(text: str) -> None:
    body = text.encode()
    expected = json.loads(body)
    try:
        ours = parse_body(body, "application/json")
    except ValueError as e:
        # The only refusal these documents can meet: nesting beyond 512.
        assert f"at most {MAX_DEPTH} nested" in str(e)
        return
    assert _same(ours, expected), text[:200]
    assert _same(parse_body(body, "application/vnd.api+json; charset=utf-8"), expected)


def test_out_of_range_floats_become_infinities() -> None:
    body = b'{"quantity":1e400,"neg":-1e400,"big":' + b"1" * 400 + b',"tiny":1e-400}'
    assert _same(
        parse_body(body, "application/json"),
        {"quantity": math.inf, "neg": -math.inf, "big": int("1" * 400), "tiny": 0.0},
    )


@pytest.mark.parametrize(
    "text",
    [
        "1" * (MAX_INT_DIGITS + 1),
        "[-" + "1" * (MAX_INT_DIGITS + 1) + "]",
        '{"x": ' + "2" * (MAX_INT_DIGITS + 1) + ".5}",
        "7" * (10 * 1024 * 1024),
    ],
)
def test_integers_python_cannot_decode_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=f"malformed JSON payload: expected at most {MAX_INT_DIGITS} digits"):
        parse_body(text.encode(), "application/json")


def _form(parts: list[tuple[str, bytes]]) -> bytes:
    out = b""
    for name, data in parts:
        out += f'--X\r\nContent-Disposition: form-data; name="{name}"\r\n'.encode()
        out += b"Content-Type: application/json\r\n\r\n"
        out += data + b"\r\n"
    return out + b"--X--\r\n"


def test_multipart_json_parts_follow_the_same_rule() -> None:
    too_long = b"[" + b"3" * (MAX_INT_DIGITS + 1) + b"]"
    form = parse_body(
        _form([("order", b'{"quantity":1e400,"big":' + b"1" * 400 + b"}"), ("huge", too_long)]),
        "multipart/form-data; boundary=X",
    )
    assert _same(form["order"].data, {"quantity": math.inf, "big": int("1" * 400)})
    # Not JSON Python can run: the part is text, like any other part that is not JSON.
    assert form["huge"].data == too_long.decode()
    assert form["huge"].content_type == "application/json"
