"""`hookcore up`: the embedded nats-server, the ingress and a worker, in one command.

Children run in their own sessions, so Ctrl-C reaches only this process,
which stops them in order: the ingress (no new work), the worker (finishes
what it holds), then nats-server (flushes JetStream to disk).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from hookcore.apps import APPS_ENV, DEFAULT_APP, load_apps
from hookcore.config import Settings
from hookcore.control import remove_control, write_control
from hookcore.datadir import claim
from hookcore.embedded import EmbeddedNats
from hookcore.errors import HookcoreError
from hookcore.ingress import rate_table_file
from hookcore.logs import LogFormat
from hookcore.nats_roles import RoleKeys

log = logging.getLogger("hookcore.up")

DEMO_CUSTOMER = "demo"
READY_TIMEOUT = 60.0


def run_up(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    # First of all: a second `up` on this data dir or port stops here, having changed nothing.
    lock = claim(data_dir, args.host, args.port)
    apps = args.app or [DEFAULT_APP]
    integrations = list(load_apps(apps))  # fail fast with a clear message
    token = os.environ.get("HOOKCORE_ADMIN_TOKEN") or _stored_token(data_dir)
    public_url = args.public_url or f"http://{args.host}:{args.port}"

    stopping = False

    def request_stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    keys = RoleKeys(data_dir / "nats").ensure()
    nats = EmbeddedNats(data_dir / "nats", extra_config=keys.authorization())
    nats.start()
    settings = Settings.load(nats_url=nats.url, public_url=public_url, admin_token=token)

    def env(role: str) -> dict[str, str]:
        return {**os.environ, **settings.with_nats_auth(keys.auth(role)).to_env(), APPS_ENV: ",".join(apps)}

    hookcore = [sys.executable, "-m", "hookcore"]
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        children.append(
            (
                "ingress",
                _spawn(
                    [*hookcore, "serve", "--host", args.host, "--port", str(args.port), *_app_flags(apps)],
                    env("ingress"),
                ),
            )
        )
        children.append(
            (
                "worker",
                _spawn(
                    [*hookcore, "worker", "--concurrency", str(args.concurrency), *_app_flags(apps)],
                    env("worker"),
                ),
            )
        )
        base = f"http://{args.host}:{args.port}"
        _wait_ready(base, children, lambda: stopping)
        # /api and /console: on the admin port when there is one (HOOKCORE_ADMIN_PORT)
        local = _local_base(args.host, args.port)
        admin_url = public_url
        if settings.admin_port:
            local = admin_url = _local_base(settings.admin_host, settings.admin_port)
            _wait_ready(local, children, lambda: stopping)
        if stopping:
            return 0
        write_control(data_dir, local, token)
        demo = _demo_instance(local, token) if not args.app else None
        nats_admin = f"HOOKCORE_NATS_URL={nats.url} HOOKCORE_NATS_NKEY_SEED={keys.seed_path('admin')}"
        banner = _banner(public_url, admin_url, token, data_dir, demo, nats_admin)
        banner += _cli_setup(local, token, args.data_dir, [] if demo else integrations)
        if settings.log_format is LogFormat.JSON:
            log.info("%s", banner.strip())
        else:
            print(banner, flush=True)
        while not stopping:
            for name, child in children:
                if child.poll() is not None:
                    log.error("the %s exited with code %d; stopping", name, child.returncode)
                    return 1
            time.sleep(0.2)
        log.info("stopping the ingress, the worker, then nats-server")
        return 0
    finally:
        remove_control(data_dir)
        for _, child in children:
            _stop(child)
        nats.stop()
        # The ingress's machine-wide rate-limit table (in /dev/shm) belongs to this deployment,
        # whose nats-server gets a new port each start: left behind, each start would add one.
        rate_table_file(settings).unlink(missing_ok=True)
        lock.release()


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, start_new_session=True)


def _app_flags(apps: list[str]) -> list[str]:
    return [flag for app in apps for flag in ("--app", app)]


def _stop(child: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Ask a child to stop; past ``timeout`` kill it and whatever it started (its own session)."""
    if child.poll() is None:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def _stored_token(data_dir: Path) -> str:
    """The admin token kept in the data dir, so it survives restarts; created on first use."""
    path = data_dir / "admin-token"
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token


def _wait_ready(base: str, children: list[tuple[str, subprocess.Popen[bytes]]], stopping: Any) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline and not stopping():
        for name, child in children:
            if child.poll() is not None:
                raise HookcoreError(f"the {name} exited with code {child.returncode} while starting")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    if not stopping():
        raise HookcoreError(f"the ingress was not ready at {base}/readyz within {READY_TIMEOUT:g}s")


def _api(base: str, token: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}{path}",
        data=data,
        method=method,
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _demo_instance(base: str, token: str) -> dict[str, Any]:
    """The demo customer's instance of the bundled example: reused across restarts."""
    existing = _api(base, token, "GET", f"/api/instances?customer={DEMO_CUSTOMER}")["items"]
    for item in existing:
        if item["integration"] == "quickstart":
            return dict(item)
    return dict(
        _api(base, token, "POST", "/api/instances", {"integration": "quickstart", "customer": DEMO_CUSTOMER})
    )


def _banner(
    public_url: str,
    admin_url: str,
    token: str,
    data_dir: Path,
    demo: dict[str, Any] | None,
    nats_admin: str,
) -> str:
    lines = [
        "",
        f"hookcore is up at {public_url}  (data in {data_dir}; Ctrl-C stops everything)",
        f"Admin token (Authorization: Bearer …): {token}",
        f"NATS as admin (for NATS tools; the CLI uses /api): {nats_admin}",
        f"Console (log in with the admin token): {admin_url}/console/",
    ]
    if demo:
        echo = demo["webhookUrls"]["Echo"]
        order = demo["webhookUrls"]["Order created"]
        lines += [
            "",
            f"The bundled example is deployed for customer {demo['customer']!r}. Try:",
            "",
            f"  curl '{echo}/my/custom/path?param-one=One&param-two=Two' \\",
            "    --header 'header-one: First header value' \\",
            "    --header 'Content-Type: application/json' \\",
            '    --data \'{"Payload Key 1":"Payload Value 1","Do Thing?":true,"quantity":123}\'',
            "",
            f"  curl '{order}' --header 'Content-Type: application/json' \\",
            '    --data \'{"id":"A-1001","items":[{"sku":"W-1","quantity":5}]}\'',
            "",
            "Then look at an execution (use the executionId from the answer):",
            "",
            f"  curl -H 'Authorization: Bearer {token}' {admin_url}/api/executions/EXECUTION_ID",
            f"  curl -H 'Authorization: Bearer {token}' {admin_url}/api/executions/EXECUTION_ID/result",
        ]
    return "\n".join(lines)


def _local_base(host: str, port: int) -> str:
    """The URL the CLI on this machine reaches the ingress at (a wildcard address is loopback)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _cli_setup(local: str, token: str, data_dir_flag: str, integrations: list[str]) -> str:
    """How the CLI finds this hookcore, and the deploy command of each loaded integration."""
    found = (
        "run from this directory finds this hookcore by itself (through .hookcore/control.json)"
        if data_dir_flag == ".hookcore"
        else f"finds this hookcore with --data-dir {shlex.quote(data_dir_flag)}"
    )
    lines = [
        "",
        f"The CLI (hookcore deploy, instances, executions) {found}; from anywhere else, first:",
        "",
        f"  export HOOKCORE_URL={local} HOOKCORE_ADMIN_TOKEN={token}",
    ]
    if integrations:
        lines += ["", "Deploy an integration for a customer (prints its webhook URLs and curl lines):", ""]
        lines += [
            f"  hookcore deploy --integration {shlex.quote(n)} --customer CUSTOMER_ID" for n in integrations
        ]
    return "\n".join(lines)
