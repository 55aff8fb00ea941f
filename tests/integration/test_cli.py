"""The command line against a real server: deploy, instances, executions."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from hookcore.errors import ErrorCode
from support import APP_FLAGS, Hookcore


def _cli(hc: Hookcore, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hookcore", *args, "--nats", hc.nats.url],
        env=hc.env,
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
    # each verb is listed as a command (at the start of a line of the commands list)
    listed = re.findall(r"^ {4}([a-z]+)\b", out, flags=re.MULTILINE)
    assert listed == verbs, out
    assert "HOOKCORE_NATS_URL" in out
    for verb in verbs:
        help_text = _help(verb)
        assert help_text.startswith(f"usage: hookcore {verb}"), help_text
        example = help_text.split("example:", 1)[1]
        assert f"hookcore {verb}" in example, (verb, example)


def test_deploy_instances_and_executions(hookcore: Hookcore) -> None:
    deployed = _cli(
        hookcore,
        "deploy",
        *APP_FLAGS,
        "--integration",
        "testapp",
        "--customer",
        "cli-co",
        "--config",
        "k=v",
        "--public-url",
        hookcore.base,
        "--json",
    )
    assert deployed.returncode == 0, deployed.stderr
    instance = json.loads(deployed.stdout)
    assert instance["customer"] == "cli-co" and instance["config"] == {"k": "v"}
    assert set(instance["webhookUrls"]) >= {"Echo", "Quick"}

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
    assert replayed.stdout.count("->") == 1, replayed.stdout
    old_id, new_id = (part.strip() for part in replayed.stdout.split("->"))
    assert old_id == failed and new_id > failed
    assert hookcore.wait_final(new_id, timeout=60)["status"] == "dead"

    ok = hookcore.client.post(instance["webhookUrls"]["Plain"]).json()["executionId"]
    assert hookcore.wait_final(ok)["status"] == "succeeded"
    result = _cli(hookcore, "executions", "result", ok)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "plain text result"

    removed = _cli(hookcore, "instances", "remove", instance["id"], *APP_FLAGS)
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
        (["instances", "show", "0190aaaa-0000-7000-8000-000000000000"], "No instance with id"),
    ],
)
def test_errors_are_one_clear_line(hookcore: Hookcore, args: list[str], message: str) -> None:
    result = _cli(hookcore, *args)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""
