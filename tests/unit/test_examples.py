"""The examples load and are valid integrations."""

from __future__ import annotations

import pytest

from hookcore.apps import load_app


@pytest.mark.parametrize(
    "spec",
    [
        "hookcore.examples.quickstart:app",
        "examples.shared_endpoint:app",
        "examples.xml_challenge:app",
    ],
)
def test_example_loads(spec: str) -> None:
    app = load_app(spec)
    assert app.flows
