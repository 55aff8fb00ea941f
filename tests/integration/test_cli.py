"""The command line against a real server: deploy, instances, executions."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import signal
import subprocess
import sys
import time

import pytest

from hookcore.errors import ErrorCode
from support import Hookcore, assert_refused


def _cli(hc: Hookcore, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI against the test's server: its URL and token from the environment."""
    return subprocess.run(
        [sys.executable, "-m", "hookcore", *args],
        env={**hc.env, "HOOKCORE_URL": hc.base},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _help(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "hookcore", *args, "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def test_every_verb_has_help_with_an_example() -> None:
    out = _help()
    verbs = ["up", "serve", "worker", "deploy", "instances", "executions"]
    assert "\x1b[" not in out, "colour only on a terminal"
    # each verb is listed as a command (at the start of a line of the commands list)
    listed = re.findall(r"^ {4}([a-z]+)\b", out, flags=re.MULTILINE)
    assert listed == verbs, out
    assert "HOOKCORE_NATS_URL" in out
    for verb in verbs:
        help_text = _help(verb)
        assert help_text.startswith(f"Usage: hookcore {verb}"), help_text
        example = help_text.split("example:", 1)[1]
        assert f"hookcore {verb}" in example, (verb, example)


def test_deploy_instances_and_executions(hookcore: Hookcore) -> None:
    deployed = _cli(
        hookcore,
        "deploy",
        "--integration",
        "testapp",
        "--customer",
        "cli-co",
        "--config",
        "k=v",
        "--json",
    )
    assert deployed.returncode == 0, deployed.stderr
    instance = json.loads(deployed.stdout)
    assert instance["customer"] == "cli-co" and instance["config"] == {"k": "v"}
    assert set(instance["webhookUrls"]) >= {"Echo", "Quick"}
    assert instance == hookcore.admin.get(f"/api/instances/{instance['id']}").json()
    shown = _cli(hookcore, "instances", "show", instance["id"])
    assert shown.returncode == 0, shown.stderr
    for text in (instance["webhookUrls"]["Echo"], 'k="v"', "state:", "customer cli-co"):
        assert text in shown.stdout, shown.stdout

    listed = _cli(hookcore, "instances", "list", "--customer", "cli-co", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [i["id"] for i in json.loads(listed.stdout)["items"]] == [instance["id"]]

    hookcore.wait_for_routes([instance["webhookUrls"]["Fail"]])
    failed = hookcore.client.post(instance["webhookUrls"]["Fail"]).json()["executionId"]
    assert hookcore.wait_final(failed, timeout=60)["status"] == "dead"
    shown = _cli(hookcore, "executions", "show", failed)
    assert shown.returncode == 0, shown.stderr
    assert "dead" in shown.stdout and "not in the database" in shown.stdout
    shown_json = _cli(hookcore, "executions", "show", failed, "--json")
    assert shown_json.returncode == 0, shown_json.stderr
    assert json.loads(shown_json.stdout) == hookcore.execution(failed)

    replayed = _cli(hookcore, "executions", "replay", "--status", "dead", "--customer", "cli-co", "--all")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1 executions" in replayed.stderr
    assert "replaying" not in replayed.stderr, "a progress bar only on a terminal"
    assert replayed.stdout.count("->") == 1, replayed.stdout
    old_id, new_id = (part.strip() for part in replayed.stdout.split("->"))
    assert old_id == failed and new_id > failed
    assert hookcore.wait_final(new_id, timeout=60)["status"] == "dead"
    assert hookcore.execution(failed)["replayedAs"] == [new_id]
    assert hookcore.execution(new_id)["replayOf"] == failed
    # Run again, it replays only what was not replayed yet: the replay, not the original.
    again = _cli(hookcore, "executions", "replay", "--status", "dead", "--customer", "cli-co", "--all")
    assert again.returncode == 0, again.stderr
    assert "skipped 1 already replayed" in again.stderr, again.stderr
    assert again.stdout.count("->") == 1 and again.stdout.split("->")[0].strip() == new_id, again.stdout

    ok = hookcore.client.post(instance["webhookUrls"]["Plain"]).json()["executionId"]
    assert hookcore.wait_final(ok)["status"] == "succeeded"
    result = _cli(hookcore, "executions", "result", ok)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "plain text result"

    removed = _cli(hookcore, "instances", "remove", instance["id"])
    assert removed.returncode == 0, removed.stderr
    gone = hookcore.admin.get(f"/api/instances/{instance['id']}")
    assert gone.status_code == 404 and gone.headers["hookcore-error-code"] == ErrorCode.NOT_FOUND
    # its URLs answer 404 once the removal reached the ingress (a KV watch: well under a second,
    # 60 s allowed on a loaded machine)
    for url in instance["webhookUrls"].values():
        deadline = time.monotonic() + 60
        while (answer := hookcore.client.post(url)).status_code != 404:
            assert time.monotonic() < deadline, f"{url} still answers {answer.status_code} after removal"
            time.sleep(0.05)
        assert answer.json() == {"error": "Endpoint not found."}
        assert answer.headers["hookcore-error-code"] == ErrorCode.ENDPOINT_NOT_FOUND
    listed = _cli(hookcore, "instances", "list", "--customer", "cli-co", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout)["items"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["executions", "show"], "needs an execution id"),
        (["deploy", "--app", "nope:app", "--customer", "x"], "cannot import module 'nope'"),
        (
            ["instances", "show", "0190aaaa-0000-7000-8000-000000000000"],
            "error: No instance with id '0190aaaa-0000-7000-8000-000000000000'. (not_found)",
        ),
        (["deploy", "--integration", "nope", "--customer", "x"], "error: Unknown integration 'nope'"),
        (["executions", "list", "--token", "wrong"], "(admin_token_invalid)"),
    ],
)
def test_errors_are_one_clear_line(hookcore: Hookcore, args: list[str], message: str) -> None:
    result = _cli(hookcore, *args)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""


def test_show_list_pages_and_tail(hookcore: Hookcore) -> None:
    instance = hookcore.deploy("tail-co")
    plain = instance["webhookUrls"]["Plain"]
    with subprocess.Popen(
        [sys.executable, "-m", "hookcore", "executions", "tail", "--customer", "tail-co", "--json"],
        env={**hookcore.env, "HOOKCORE_URL": hookcore.base},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as tail:
        try:
            assert tail.stderr is not None and tail.stdout is not None
            assert "following executions" in tail.stderr.readline()  # subscribed before any request
            other = hookcore.client.post(hookcore.deploy("someone-else")["webhookUrls"]["Plain"])
            ids = [hookcore.client.post(plain).json()["executionId"] for _ in range(3)]
            for execution_id in ids:
                assert hookcore.wait_final(execution_id)["status"] == "succeeded"
            seen: dict[str, list[str]] = {}
            while any(seen.get(i, [""])[-1] != "succeeded" for i in ids):
                event = json.loads(tail.stdout.readline())  # the test's timeout bounds this wait
                assert event["customer"] == "tail-co", (event, other.text)
                seen.setdefault(event["id"], []).append(event["status"])
            assert all(seen[i][0] in ("queued", "running") for i in ids), seen
            tail.send_signal(signal.SIGINT)  # Ctrl-C
            assert tail.wait(30) == 130
            assert "Traceback" not in tail.stderr.read()
        finally:
            tail.kill()

    shown = _cli(hookcore, "executions", "show", ids[0])
    assert shown.returncode == 0, shown.stderr
    assert "logs (1):" in shown.stdout and "plain flow ran in a thread" in shown.stdout, shown.stdout
    assert "steps (" in shown.stdout

    first = _cli(hookcore, "executions", "list", "--customer", "tail-co", "--limit", "2")
    assert first.returncode == 0, first.stderr
    assert [line.split()[0] for line in first.stdout.splitlines()] == ids[:0:-1]
    cursor = re.search(r"more: add --cursor (\S+)", first.stderr)
    assert cursor and cursor.group(1) == ids[1], first.stderr
    rest = _cli(hookcore, "executions", "list", "--customer", "tail-co", "--limit", "2", "--cursor", ids[1])
    assert rest.returncode == 0, rest.stderr
    assert [line.split()[0] for line in rest.stdout.splitlines()] == ids[:1]
    assert "more:" not in rest.stderr

    # replay --all draws a progress bar on a terminal (stderr here is a pseudo-terminal)
    controller, terminal = pty.openpty()
    try:
        bar = subprocess.run(
            [sys.executable, "-m", "hookcore", "executions", "replay", "--all", "--customer", "tail-co"],
            env={**hookcore.env, "HOOKCORE_URL": hookcore.base},
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=60,
        )
    finally:
        os.close(terminal)
    drawn = b""
    with contextlib.suppress(OSError):  # EIO once everything written is read
        while chunk := os.read(controller, 65536):
            drawn += chunk
    os.close(controller)
    assert bar.returncode == 0
    assert bar.stdout.count("->") >= 3, (bar.stdout, drawn)
    assert b"replaying" in drawn and b"replayed" in drawn, drawn


def test_tail_route_checks_its_filters_and_the_token(hookcore: Hookcore) -> None:
    bad = hookcore.admin.get("/api/executions/tail", params={"status": "done"})
    assert bad.status_code == 400 and bad.headers["hookcore-error-code"] == ErrorCode.BAD_REQUEST
    assert "status must be one of queued, running, succeeded, failed, dead" in bad.json()["error"]
    assert_refused(hookcore.client.get("/api/executions/tail"), 401, ErrorCode.ADMIN_TOKEN_INVALID)
