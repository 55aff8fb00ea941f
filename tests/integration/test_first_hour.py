"""The newcomer's path, as README.md and docs/flows.md tell it (issue 19): write a flow
module, `hookcore up --app`, deploy two customers with the CLI, send, inspect with the CLI,
replay, remove. Real processes throughout; the CLI only ever talks to `up`'s /api."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from hookcore.embedded import nats_server_binary
from support import APPS_DIR, end, free_port, kill_group, rate_table_of_up

FLOWS = textwrap.dedent(
    """
    from hookcore import Integration

    app = Integration("acme-erp")

    @app.flow("Order created")
    async def order_created(ctx, payload):
        order = payload.body.data
        count = await ctx.flow_state.update(lambda n: (n or 0) + 1)
        ctx.log.info("order %s from %s (%d so far)", order["id"], payload.customer, count)
        return {"received": order["id"]}

    @app.flow("Order failed", attempts=1)
    def order_failed(ctx, payload):
        return payload.body.data["missing"]
    """
)
CLI_TIMEOUT = 60
UP = [sys.executable, "-m", "hookcore", "up"]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKCORE_")}
    env.update(extra)
    return env


def _cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "hookcore", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _ok(cwd: Path, env: dict[str, str], *args: str) -> str:
    result = _cli(cwd, env, *args)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


@contextmanager
def _up(workdir: Path, data_dir: Path, port: int) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """`hookcore up --app myflows:app` in ``workdir``; yields it and the file its stdout goes to."""
    out = workdir / "up.out"
    with out.open("w") as sink:
        up = subprocess.Popen(
            [*UP, "--app", "myflows:app", "--data-dir", str(data_dir), "--port", str(port)],
            cwd=workdir,
            env=_clean_env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    table = None
    try:
        deadline = time.monotonic() + 90
        while "export HOOKCORE_URL=" not in out.read_text():
            assert up.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.1)
        table = rate_table_of_up(data_dir)  # `up` removes it when it ends
        yield up, out
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(60)
            except subprocess.TimeoutExpired:
                kill_group(up)
                up.wait()
        # Checked at once, before another run's NATS may take the port the table is named after.
        table = table or rate_table_of_up(data_dir)
        left = table is not None and table.exists()
        if table is not None and left:
            table.unlink(missing_ok=True)
    assert not left, f"hookcore up left its rate-limit table behind: {table}"


@contextmanager
def _bystander_nats(tmp: Path) -> Iterator[str]:
    """An unrelated nats-server with a monitoring port; yields the monitoring base URL."""
    port, monitor = free_port(), free_port()
    with (tmp / "bystander.log").open("ab") as log:
        server = subprocess.Popen(
            [str(nats_server_binary()), "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{monitor}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/varz").raise_for_status()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the bystander nats-server did not start"
                time.sleep(0.1)
        yield f"nats://127.0.0.1:{port}|{base}"
    finally:
        end(server)


def _wait_final(base: str, token: str, execution_id: str) -> dict:
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=30) as api:
        while True:
            record = api.get(f"/api/executions/{execution_id}").json()
            if record.get("status") in ("succeeded", "failed", "dead"):
                return dict(record)
            assert time.monotonic() < deadline, record
            time.sleep(0.1)


def _wait_routed(url: str, expect_found: bool = True) -> None:
    deadline = time.monotonic() + 30
    while (httpx.head(url).status_code != 404) != expect_found:
        assert time.monotonic() < deadline, f"{url}: routing did not follow the deploy/removal"
        time.sleep(0.05)


@pytest.mark.parametrize("discovery", ["exports with a bystander NATS", "data dir alone"])
def test_the_first_hour(tmp_path: Path, discovery: str) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "myflows.py").write_text(FLOWS)
    data_dir = workdir / "data"
    port = free_port()
    with _up(workdir, data_dir, port) as (up, out), _maybe_bystander(tmp_path, discovery) as bystander:
        printed = out.read_text()
        exported = re.search(r"export HOOKCORE_URL=(\S+) HOOKCORE_ADMIN_TOKEN=(\S+)", printed)
        assert exported, printed
        url, token = exported.groups()
        assert url == f"http://127.0.0.1:{port}"
        assert f"Admin token (Authorization: Bearer …): {token}" in printed
        assert "hookcore deploy --integration acme-erp --customer CUSTOMER_ID" in printed
        control = data_dir / "control.json"
        assert control.stat().st_mode & 0o777 == 0o600

        if bystander:  # the environment `up` printed, plus a NATS URL the CLI must ignore
            nats_url, monitor = bystander.split("|")
            env = _clean_env(HOOKCORE_URL=url, HOOKCORE_ADMIN_TOKEN=token, HOOKCORE_NATS_URL=nats_url)
            where: list[str] = []
        else:  # nothing but the data dir `up` was given
            env, where = _clean_env(), ["--data-dir", str(data_dir)]

        def cli(*args: str) -> str:
            return _ok(tmp_path, env, *args, *where)

        instances = {}
        for customer in ("acme", "globex"):
            text = cli("deploy", "--integration", "acme-erp", "--customer", customer, "--config", "k=v")
            assert f"acme-erp for customer {customer}" in text and 'k="v"' in text, text
            pasted = text.split("# Order failed\n", 1)[1].splitlines()[0]  # the curl line printed for it
            assert pasted.lstrip().startswith("curl http://127.0.0.1:"), text
            instances[customer] = json.loads(cli("instances", "list", "--customer", customer, "--json"))[
                "items"
            ][0]
        acme, globex = instances["acme"], instances["globex"]
        _wait_routed(globex["webhookUrls"]["Order failed"])
        answer = subprocess.run(pasted, shell=True, capture_output=True, text=True, timeout=30, check=True)
        assert _wait_final(url, token, json.loads(answer.stdout)["executionId"])["status"] == "dead"
        assert acme["webhookUrls"]["Order created"] != globex["webhookUrls"]["Order created"]
        shown = cli("instances", "show", acme["id"])
        assert acme["webhookUrls"]["Order created"] in shown and "customer acme" in shown

        sent = {}
        for customer, instance in instances.items():
            _wait_routed(instance["webhookUrls"]["Order created"])
            answer = httpx.post(instance["webhookUrls"]["Order created"], json={"id": f"{customer}-1"})
            assert answer.status_code == 200, answer.text
            sent[customer] = answer.json()["executionId"]
        for customer, execution_id in sent.items():
            record = _wait_final(url, token, execution_id)
            assert record["status"] == "succeeded" and record["customer"] == customer, record
        listed = cli("executions", "list", "--customer", "acme")
        assert sent["acme"] in listed and sent["globex"] not in listed, listed
        shown = cli("executions", "show", sent["acme"])
        assert "succeeded" in shown and "order acme-1 from acme (1 so far)" in shown, shown
        assert json.loads(cli("executions", "show", sent["acme"], "--json"))["id"] == sent["acme"]

        _wait_routed(acme["webhookUrls"]["Order failed"])
        failed = httpx.post(acme["webhookUrls"]["Order failed"], json={"id": "x"}).json()["executionId"]
        assert _wait_final(url, token, failed)["status"] == "dead"
        assert "missing" in cli("executions", "show", failed)
        replayed = cli("executions", "replay", failed).strip()
        assert replayed != failed and _wait_final(url, token, replayed)["status"] == "dead"

        assert "Removed instance" in cli("instances", "remove", acme["id"])
        for flow_url in acme["webhookUrls"].values():
            _wait_routed(flow_url, expect_found=False)
            assert httpx.post(flow_url, json={"id": "late"}).status_code == 404
        still = httpx.post(globex["webhookUrls"]["Order created"], json={"id": "globex-2"})
        assert still.status_code == 200, still.text

        if bystander:
            varz = httpx.get(f"{monitor}/varz").json()
            assert varz["total_connections"] == 0, "the CLI connected to a NATS server"
        assert up.poll() is None
        # a follower still attached when `up` stops neither holds it up nor hangs itself
        follower = subprocess.Popen(
            [sys.executable, "-m", "hookcore", "executions", "tail", *where],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert follower.stderr is not None
        assert "following executions" in follower.stderr.readline()
        stop_started = time.monotonic()
    with follower:
        assert follower.wait(30) == 1
        assert "ended the stream of executions" in follower.stderr.read()
    assert time.monotonic() - stop_started < 25  # `up` kills a child only after 30 s
    assert up.returncode == 0, out.read_text()
    assert not control.exists(), "a clean stop removes the control file"


@contextmanager
def _maybe_bystander(tmp: Path, discovery: str) -> Iterator[str | None]:
    """The bystander NATS for the first variant, nothing for the second."""
    if discovery.startswith("exports"):
        with _bystander_nats(tmp) as bystander:
            yield bystander
    else:
        yield None


def test_no_server_to_reach_fails_fast_saying_what_was_tried(tmp_path: Path) -> None:
    port = free_port()
    started = time.monotonic()
    refused = _cli(
        tmp_path, _clean_env(), "instances", "list", "--url", f"http://127.0.0.1:{port}", "--token", "t"
    )
    assert time.monotonic() - started < 10
    assert refused.returncode == 1 and refused.stdout == ""
    assert f"cannot reach hookcore at http://127.0.0.1:{port} (URL from --url; token from --token)" in (
        refused.stderr
    )

    nothing = _cli(tmp_path, _clean_env(), "executions", "list")
    assert nothing.returncode == 1
    assert "--url/$HOOKCORE_URL and --token/$HOOKCORE_ADMIN_TOKEN not given" in nothing.stderr
    assert "no .hookcore/control.json" in nothing.stderr

    # a control file left by an `up` that is gone (killed, so it could not remove it)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / ".hookcore").mkdir()
    (tmp_path / ".hookcore" / "control.json").write_text(
        json.dumps({"url": f"http://127.0.0.1:{port}", "adminToken": "t", "pid": gone.pid})
    )
    stale = _cli(tmp_path, _clean_env(), "executions", "list")
    assert stale.returncode == 1
    assert f"left by a `hookcore up` (pid {gone.pid}) that is no longer running" in stale.stderr


def test_a_worker_with_no_nats_to_reach_fails_naming_it(tmp_path: Path) -> None:
    nats_url = f"nats://127.0.0.1:{free_port()}"
    started = time.monotonic()
    worker = _cli(
        tmp_path,
        _clean_env(PYTHONPATH=str(APPS_DIR)),
        "worker",
        "--app",
        "basic_app:app",
        "--nats",
        nats_url,
    )
    assert time.monotonic() - started < 30  # the connect deadline is 10 s
    assert worker.returncode == 1
    assert f"hookcore: error: cannot connect to NATS at {nats_url} (" in worker.stderr, worker.stderr
