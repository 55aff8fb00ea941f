"""The error-code vocabulary: one list in Python, the Rust core's codes among it, all documented."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

import pytest

from hookcore import _core
from hookcore.errors import (
    ApiError,
    ErrorCode,
    HookcoreError,
    MalformedJson,
    MalformedMultipart,
    MetricsFileError,
    NatsProtocolError,
    RateTableError,
    RecordUnreadable,
)
from support import ROOT


def test_the_core_answers_only_codes_python_knows() -> None:
    assert set(_core.ERROR_CODES) <= set(ErrorCode)


def test_docs_list_every_code_once() -> None:
    text = (ROOT / "docs" / "errors.md").read_text()
    documented = re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE)
    assert sorted(documented) == sorted(set(documented)), "a code is listed twice"
    assert set(documented) == set(ErrorCode)


def _exception_classes() -> list[type[BaseException]]:
    """Every exception class defined in a module of the package."""
    found = []
    for path in sorted((ROOT / "python" / "hookcore").rglob("*.py")):
        if path.name == "__main__.py":  # runs the CLI
            continue
        name = ".".join(path.relative_to(ROOT / "python").with_suffix("").parts).removesuffix(".__init__")
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == name:
                found.append(value)
    return found


def test_every_exception_of_the_package_is_a_hookcore_error_with_a_code() -> None:
    classes = _exception_classes()
    assert len(classes) > 20
    strays = [c.__qualname__ for c in classes if not issubclass(c, HookcoreError)]
    assert strays == []
    uncoded = [c.__qualname__ for c in classes if c is not ApiError and "code" not in vars(c)]
    # TriggerRefused and ConsoleError carry the code of the answer they stand for.
    assert sorted(uncoded) == ["ConsoleError", "TriggerRefused"]


@pytest.mark.parametrize(
    ("call", "raised", "code"),
    [
        (lambda: _core.parse_body(b"{", "application/json"), MalformedJson, "malformed_json"),
        (
            lambda: _core.parse_body(b"x", "multipart/form-data"),
            MalformedMultipart,
            "malformed_multipart",
        ),
        (lambda: _core.verify_signature(b"{", [], [], b"", 0), RecordUnreadable, "record_unreadable"),
        (lambda: _core.NatsWire("_INBOX.x.").feed(b"BOGUS\r\n"), NatsProtocolError, "nats_protocol_error"),
        (
            lambda: _core.check_rate_table(ROOT / "no-such-dir" / "x.rates"),
            RateTableError,
            "rate_table_unavailable",
        ),
        (
            lambda: _core.IngressCounters(ROOT / "no-such-dir" / "x.metrics", customers=1),
            MetricsFileError,
            "metrics_file_unavailable",
        ),
    ],
    ids=["json", "multipart", "spec", "wire", "rate-table", "metrics-file"],
)
def test_the_core_raises_the_package_errors(
    call: Callable[[], object], raised: type[HookcoreError], code: str
) -> None:
    with pytest.raises(raised) as caught:
        call()
    assert isinstance(caught.value, HookcoreError)
    assert caught.value.code == code
    assert str(caught.value)
