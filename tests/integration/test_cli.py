"""The command line against a real server: deploy, instances, executions."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support import APP_FLAGS, Hookcore


def _cli(hc: Hookcore, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hookcore", *args, "--nats", hc.nats.url],
        env=hc.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_verb_has_help_with_an_example() -> None:
    out = subprocess.run([sys.executable, "-m", "hookcore", "--help"], capture_output=True, text=True).stdout
    verbs = ["up", "serve", "worker", "deploy", "instances", "executions"]
    assert all(v in out for v in verbs) and "HOOKCORE_NATS_URL" in out
    for verb in verbs:
        help_text = subprocess.run(
            [sys.executable, "-m", "hookcore", verb, "--help"], capture_output=True, text=True
        ).stdout
        assert "example:" in help_text, verb


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
    assert [i["id"] for i in json.loads(listed.stdout)["items"]] == [instance["id"]]

    hookcore.wait_for_routes([instance["webhookUrls"]["Fail"]])
    failed = hookcore.client.post(instance["webhookUrls"]["Fail"]).json()["executionId"]
    assert hookcore.wait_final(failed, timeout=60)["status"] == "dead"
    shown = _cli(hookcore, "executions", "show", failed)
    assert "dead" in shown.stdout and "not in the database" in shown.stdout

    replayed = _cli(hookcore, "executions", "replay", "--status", "dead", "--customer", "cli-co", "--all")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1 executions" in replayed.stderr
    new_id = replayed.stdout.split("->")[1].strip()
    assert hookcore.wait_final(new_id, timeout=60)["status"] == "dead"

    ok = hookcore.client.post(instance["webhookUrls"]["Plain"]).json()["executionId"]
    hookcore.wait_final(ok)
    result = _cli(hookcore, "executions", "result", ok)
    assert result.stdout == "plain text result"

    removed = _cli(hookcore, "instances", "remove", instance["id"], *APP_FLAGS)
    assert removed.returncode == 0, removed.stderr


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
