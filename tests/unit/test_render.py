"""What the CLI prints for the API's JSON."""

from __future__ import annotations

import shlex

from hookcore import render

INSTANCE = {
    "id": "01937c2e-0000-7000-8000-000000000001",
    "integration": "acme-erp",
    "customer": "acme",
    "name": "acme-erp for acme",
    "webhookUrls": {"Order created": "http://h/trigger/a", "Order paid": "http://h/trigger/a"},
    "webhookApiKeys": {"Order created": ["hk_key'1"]},
    "invokeUrl": "http://h/trigger/a",
    "state": {"webhookId": 7},
    "config": {"region": "eu", "secret": ["old", "new"]},
    "createdAt": "2026-11-29T20:00:00Z",
}


def test_an_instance_shows_keys_config_and_state() -> None:
    text = render.instance(INSTANCE)
    for part in ('region="eu"', 'secret=["old", "new"]', "hk_key'1", '{"webhookId": 7}', "invoke URL"):
        assert part in text, text


def test_curl_lines_paste_into_a_shell() -> None:
    lines = list(render.curl_lines(INSTANCE))
    assert lines[0] == "# Order created, Order paid"  # one line per URL the flows share
    argv = shlex.split(lines[1])
    assert argv[:2] == ["curl", "http://h/trigger/a"]
    assert argv[argv.index("--header") + 1] == "Api-Key: hk_key'1"
    assert len(lines) == 2


def test_an_execution_shows_steps_logs_the_error_and_replays() -> None:
    view = {
        "id": "e1",
        "status": "dead",
        "integration": "acme-erp",
        "flow": "Order created",
        "instance": "i1",
        "customer": "acme",
        "receivedAt": "2026-11-29T20:00:00Z",
        "attempts": 3,
        "error": "'data'",
        "errorDetail": {"type": "KeyError", "traceback": "Traceback:\n  line 1\nKeyError: 'data'"},
        "replayOf": "e0",
        "replayedAs": ["e2", "e3"],
        "steps": [{"name": "fetch", "result": {"n": 1}, "startedAt": "a", "finishedAt": "b"}],
        "logs": [{"at": "2026-11-29T20:00:01Z", "level": "INFO", "message": "order A-1"}],
    }
    text = render.execution(view)
    for part in (
        "error:     'data'",
        "errorDetail.type: KeyError",
        "\n    Traceback:\n      line 1\n    KeyError: 'data'",
        "replay of: e0",
        "replayed as: e2, e3",
        'fetch  a -> b: {"n": 1}',
        "INFO    order A-1",
    ):
        assert part in text, text
    assert "replayed" in render.execution_line(view)


def test_long_values_are_cut_in_text() -> None:
    text = render.instance({**INSTANCE, "state": "x" * 5000})
    assert "characters; --json shows all" in text and len(text) < 3000
