"""The error-code vocabulary: one list in Python, the Rust core's codes among it, all documented."""

from __future__ import annotations

import re

from hookcore import _core
from hookcore.errors import ErrorCode
from support import ROOT


def test_the_core_answers_only_codes_python_knows() -> None:
    assert set(_core.ERROR_CODES) <= set(ErrorCode)


def test_docs_list_every_code_once() -> None:
    text = (ROOT / "docs" / "errors.md").read_text()
    documented = re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE)
    assert sorted(documented) == sorted(set(documented)), "a code is listed twice"
    assert set(documented) == set(ErrorCode)
