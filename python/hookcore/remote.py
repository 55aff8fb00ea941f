"""The CLI verbs that read or change state — `deploy`, `instances`, `executions` —
as calls to a running hookcore's ``/api`` (`hookcore.client`)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from hookcore import render
from hookcore.apps import load_app
from hookcore.client import Api, resolve
from hookcore.errors import HookcoreError
from hookcore.integration import InstanceConfig

REPLAY_PAGE = 500


def add_target_args(parser: argparse.ArgumentParser) -> None:
    """``--url``, ``--token`` and ``--data-dir``: which hookcore to talk to."""
    where = parser.add_argument_group(
        "connection", "each from its flag, else the environment, else the `hookcore up` running on --data-dir"
    )
    where.add_argument("--url", help="hookcore's base URL (default $HOOKCORE_URL)")
    where.add_argument("--token", help="the admin token (default $HOOKCORE_ADMIN_TOKEN)")
    where.add_argument(
        "--data-dir",
        default=".hookcore",
        help="else ask the `hookcore up` running on this data dir (default .hookcore)",
    )


def _connected(
    work: Callable[[Api, argparse.Namespace], int],
    check: Callable[[argparse.Namespace], None] = lambda args: None,
) -> Callable[[argparse.Namespace], int]:
    """A verb: ``check`` its arguments, then ``work`` against the hookcore the flags name."""

    def run(args: argparse.Namespace) -> int:
        check(args)
        api = Api(resolve(args.url, args.token, args.data_dir, dict(os.environ)))
        try:
            return work(api, args)
        finally:
            api.close()

    return run


def _deploy(api: Api, args: argparse.Namespace) -> int:
    integration = args.integration or load_app(args.app).name
    body: dict[str, Any] = {"integration": integration, "customer": args.customer}
    if args.config:
        body["config"] = parse_config(args.config)
    if args.name:
        body["name"] = args.name
    if args.replace:
        body["replace"] = True
    view = api.post("/api/instances", body)
    if args.json:
        print(render.dump(view))
        return 0
    print(render.instance(view))
    print("\nSend it a request:\n")
    print("\n".join(f"  {line}" for line in render.curl_lines(view)))
    return 0


def _check_instances(args: argparse.Namespace) -> None:
    if args.action != "list" and not args.id:
        raise HookcoreError(f"`hookcore instances {args.action}` needs an instance id")
    if args.action == "add-key" and not args.flow:
        raise HookcoreError("`hookcore instances add-key ID` needs --flow NAME")


def _instances(api: Api, args: argparse.Namespace) -> int:
    path = f"/api/instances/{quote(args.id or '', safe='')}"
    if args.action == "remove":
        api.delete(path)
        print(f"Removed instance {args.id}; its URLs now answer 404")
        return 0
    if args.action == "add-key":
        answer = api.post(f"{path}/api-keys", {"flow": args.flow})
        print(render.dump(answer) if args.json else answer["apiKey"])
        return 0
    if args.action == "show":
        view = api.get(path)
        print(render.dump(view) if args.json else render.instance(view))
        return 0
    page = api.get("/api/instances", {"customer": args.customer})
    if args.json:
        print(render.dump(page))
        return 0
    for view in page["items"]:
        print(render.instance_line(view))
        for flow, url in view["webhookUrls"].items():
            print(f"    {flow}: {url}")
    if not page["items"]:
        print("no instances" + (f" of customer {args.customer}" if args.customer else ""))
    return 0


def _check_executions(args: argparse.Namespace) -> None:
    if args.action in ("show", "result") and not args.id:
        raise HookcoreError(f"`hookcore executions {args.action}` needs an execution id")
    if args.action == "replay" and bool(args.id) == args.all:
        raise HookcoreError("`hookcore executions replay` needs an execution id or --all (with filters)")


def _executions(api: Api, args: argparse.Namespace) -> int:
    filters = {"flow": args.flow, "customer": args.customer, "status": args.status}
    if args.action == "tail":
        return _tail(api, args, filters)
    if args.action == "list":
        page = api.get("/api/executions", {**filters, "limit": str(args.limit), "cursor": args.cursor})
        if args.json:
            print(render.dump(page))
            return 0
        for view in page["items"]:
            print(render.execution_line(view))
        if not page["items"]:
            print("no executions match", file=sys.stderr)
        if page["next"]:
            print(f"more: add --cursor {page['next']}", file=sys.stderr)
        return 0
    path = f"/api/executions/{quote(args.id or '', safe='')}"
    if args.action == "show":
        view = api.get(path)
        print(render.dump(view) if args.json else render.execution(view))
        return 0
    if args.action == "result":
        sys.stdout.buffer.write(api.call("GET", f"{path}/result").content)
        sys.stdout.flush()
        return 0
    if args.id:
        answer = api.post(f"{path}/replay", {})
        print(render.dump(answer) if args.json else answer["executionId"])
        return 0
    return _replay_all(api, args, filters)


def _replay_all(api: Api, args: argparse.Namespace, filters: dict[str, str | None]) -> int:
    matching = list(_all_executions(api, filters))
    targets = [v["id"] for v in matching if args.again or not v.get("replayedAs")]
    skipped = len(matching) - len(targets)
    with _progress(len(targets)) as advance:
        for execution_id in targets:
            new_id = api.post(f"/api/executions/{quote(execution_id, safe='')}/replay", {})["executionId"]
            print(f"{execution_id} -> {new_id}", flush=True)
            advance()
    note = f"; skipped {skipped} already replayed (--again replays them too)" if skipped else ""
    print(f"replayed {len(targets)} executions{note}", file=sys.stderr)
    return 0


def _all_executions(api: Api, filters: dict[str, str | None]) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        page = api.get("/api/executions", {**filters, "limit": str(REPLAY_PAGE), "cursor": cursor})
        yield from page["items"]
        if not page["next"]:
            return
        cursor = page["next"]


class _progress:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, total: int) -> None:
        self._total = total
        self._bar: Any = None

    def __enter__(self) -> Callable[[], None]:
        if not sys.stderr.isatty() or not self._total:
            return lambda: None
        from rich.console import Console
        from rich.progress import Progress

        # Lines printed meanwhile go above the bar when stdout is the same terminal, else to stdout.
        self._bar = Progress(
            console=Console(stderr=True), transient=True, redirect_stdout=sys.stdout.isatty()
        )
        self._bar.start()
        task = self._bar.add_task("replaying", total=self._total)
        return lambda: self._bar.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _tail(api: Api, args: argparse.Namespace, filters: dict[str, str | None]) -> int:
    def stop(signum: int, frame: object) -> None:
        # Ctrl-C while the stream waits: leave at once. A KeyboardInterrupt unwinding through
        # the HTTP client can stop inside its connection pool's lock, and closing the client
        # then waits for that lock for ever (a tail ignored Ctrl-C for 30 s in a CI run).
        sys.stdout.flush()
        print(file=sys.stderr, flush=True)
        os._exit(130)

    signal.signal(signal.SIGINT, stop)

    def opened() -> None:
        print(f"following executions at {api.target.url} (Ctrl-C stops)", file=sys.stderr, flush=True)

    for view in api.events("/api/executions/tail", filters, opened):
        line = json.dumps(view, ensure_ascii=False) if args.json else render.tail_line(view)
        print(line, flush=True)
    raise HookcoreError(f"{api.target.url} ended the stream of executions (the server stopped?)")


def parse_config(items: list[str]) -> InstanceConfig:
    """``--config KEY=VALUE`` values; a key given twice holds a list (a secret being rotated)."""
    config: InstanceConfig = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise HookcoreError(f"--config needs KEY=VALUE, got {item!r}")
        earlier = config.get(key)
        if earlier is None:
            config[key] = value
        elif isinstance(earlier, list):
            earlier.append(value)
        else:
            config[key] = [earlier, value]
    return config


run_deploy = _connected(_deploy)
run_instances = _connected(_instances, _check_instances)
run_executions = _connected(_executions, _check_executions)
