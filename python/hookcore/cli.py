"""The ``hookcore`` command line. Every verb has --help with an example."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from hookcore import logs
from hookcore.apps import APPS_ENV, DEFAULT_APP, load_apps
from hookcore.config import Settings, describe, env_name
from hookcore.errors import HookcoreError
from hookcore.integration import InstanceConfig

if TYPE_CHECKING:
    from hookcore.executions import Executions

log = logging.getLogger("hookcore.cli")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    log_format = _configure_logging()
    try:
        return int(args.run(args) or 0)
    except HookcoreError as e:
        if log_format is logs.LogFormat.JSON:
            log.error("%s", e)
        else:
            print(f"hookcore: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def _configure_logging() -> logs.LogFormat:
    """Logging as HOOKCORE_LOG_FORMAT and HOOKCORE_LOG_LEVEL say (the defaults while a
    setting is wrong: the verb then says which)."""
    try:
        settings = Settings.load()
    except HookcoreError:
        settings = Settings()
    logs.configure(settings.log_format, settings.log_level)
    return settings.log_format


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hookcore",
        description="Webhook trigger ingress: accept, store durably in NATS JetStream, run Python flows.",
        epilog="Start everything on one machine:  hookcore up\n"
        "Settings (flags win over these environment variables):\n"
        + "\n".join(f"  {env:<32} {doc} (default {default})" for env, default, doc in describe()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(title="commands", metavar="COMMAND")

    up = _verb(
        verbs,
        "up",
        "run nats-server, the ingress and a worker in one command",
        "hookcore up\n  hookcore up --app myflows:app --port 9000",
    )
    _app_args(up, required=False)
    up.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    up.add_argument("--data-dir", default=".hookcore", help="where JetStream stores data (default .hookcore)")
    up.add_argument("--public-url", help="base of handed-out URLs (default http://HOST:PORT)")
    up.add_argument("--concurrency", type=int, default=16, help="executions the worker runs at once")
    up.set_defaults(run=_run_up)

    serve = _verb(
        verbs,
        "serve",
        "run the HTTP ingress and control plane (no worker)",
        "HOOKCORE_ADMIN_TOKEN=secret hookcore serve --app myflows:app --nats nats://10.0.0.5:4222 \\\n"
        "      --workers 4",
    )
    _app_args(serve, required=True)
    _nats_arg(serve)
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    serve.add_argument("--workers", type=int, default=1, help="ingress processes (default 1)")
    serve.add_argument("--public-url", help="base of handed-out URLs (default http://HOST:PORT)")
    serve.set_defaults(run=_run_serve)

    worker = _verb(
        verbs,
        "worker",
        "run flows for accepted requests",
        "hookcore worker --app myflows:app --nats nats://10.0.0.5:4222 --concurrency 32",
    )
    _app_args(worker, required=True)
    _nats_arg(worker)
    worker.add_argument("--concurrency", type=int, default=16, help="executions run at once (default 16)")
    worker.add_argument("--public-url", help="base of the URLs flows see in webhook_urls")
    worker.set_defaults(run=_run_worker)

    deploy = _verb(
        verbs,
        "deploy",
        "deploy an integration for a customer and print its webhook URLs",
        "hookcore deploy --app myflows:app --customer acme-42 --config region=eu --json",
    )
    _app_args(deploy, required=True)
    _nats_arg(deploy)
    deploy.add_argument("--customer", required=True, help="the customer's external id (created if new)")
    deploy.add_argument("--integration", help="integration name, when --app loads several")
    deploy.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config value of the instance (repeatable; a key given twice: a list, for a rotated secret)",
    )
    deploy.add_argument("--name", help="instance name")
    deploy.add_argument("--public-url", help="base of handed-out URLs")
    _json_arg(deploy)
    deploy.set_defaults(run=_run_deploy)

    instances = _verb(
        verbs,
        "instances",
        "list, show or remove deployed instances, or add an API key",
        "hookcore instances --nats nats://127.0.0.1:4222\n  hookcore instances show ID --json\n"
        "  hookcore instances remove ID --app myflows:app\n"
        "  hookcore instances add-key ID --flow 'Order created'",
    )
    instances.add_argument("action", nargs="?", default="list", choices=["list", "show", "remove", "add-key"])
    instances.add_argument("id", nargs="?", help="instance id (show, remove, add-key)")
    instances.add_argument("--flow", help="the flow a new API key is for (add-key)")
    instances.add_argument("--customer", help="only this customer's instances (list)")
    _app_args(instances, required=False, help_extra=" (remove: runs its on_instance_remove)")
    _nats_arg(instances)
    instances.add_argument("--public-url", help="base of handed-out URLs")
    _json_arg(instances)
    instances.set_defaults(run=_run_instances)

    executions = _verb(
        verbs,
        "executions",
        "list, show or replay executions, or print a result",
        "hookcore executions list --status dead\n  hookcore executions show 01937c2e-... --json\n"
        "  hookcore executions result 01937c2e-...\n  hookcore executions replay --status dead --all",
    )
    executions.add_argument("action", choices=["list", "show", "result", "replay"])
    executions.add_argument("id", nargs="?", help="execution id (show, result, replay one)")
    executions.add_argument("--flow", help="only this flow (list, replay --all)")
    executions.add_argument("--customer", help="only this customer (list, replay --all)")
    executions.add_argument(
        "--status",
        choices=["queued", "running", "succeeded", "failed", "dead"],
        help="only this status (list, replay --all)",
    )
    executions.add_argument("--limit", type=int, default=50, help="executions per page (list; default 50)")
    executions.add_argument("--all", action="store_true", help="replay every matching execution")
    _nats_arg(executions)
    _json_arg(executions)
    executions.set_defaults(run=_run_executions)
    return parser


def _verb(verbs: Any, name: str, help_text: str, example: str) -> argparse.ArgumentParser:
    return verbs.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _app_args(parser: argparse.ArgumentParser, required: bool, help_extra: str = "") -> None:
    parser.add_argument(
        "--app",
        action="append",
        default=[],
        required=required,
        metavar="MODULE:ATTR",
        help=f"an Integration to load, e.g. myflows:app (repeatable){help_extra}",
    )


def _nats_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nats", help="NATS URL (default $HOOKCORE_NATS_URL or nats://127.0.0.1:4222)")


def _json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _settings(args: argparse.Namespace, default_public_url: str | None = None) -> Settings:
    """Settings from the flags, then HOOKCORE_* env, then ``default_public_url`` / defaults."""
    public_url = (
        getattr(args, "public_url", None) or os.environ.get(env_name("public_url")) or default_public_url
    )
    return Settings.load(nats_url=getattr(args, "nats", None), public_url=public_url)


def _run_up(args: argparse.Namespace) -> int:
    from hookcore.up import run_up

    return run_up(args)


def _run_serve(args: argparse.Namespace) -> int:
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    settings = _settings(args, default_public_url=f"http://{args.host}:{args.port}")
    load_apps(args.app)  # fail here, with a clear message, rather than in every worker process
    settings.require_signing_key()
    if not settings.admin_token:
        log.warning("HOOKCORE_ADMIN_TOKEN is not set: /api/* answers 401 to everyone")
    os.environ.update(settings.to_env())
    os.environ[APPS_ENV] = ",".join(args.app)
    Server(
        "hookcore.ingress:create_app",
        address=args.host,
        port=args.port,
        interface=Interfaces.RSGI,
        workers=args.workers,
        factory=True,
        log_level=LogLevels(settings.log_level.lower()),
        log_dictconfig=logs.dict_config(settings.log_format, settings.log_level),
        log_access=settings.access_log,
        log_access_format=logs.ACCESS_FORMAT,
    ).serve()
    return 0


def _run_worker(args: argparse.Namespace) -> int:
    from hookcore.worker import Worker

    settings = _settings(args)
    worker = Worker(settings, load_apps(args.app), concurrency=args.concurrency)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(run())
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (Linux, macOS), else asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _with_jetstream(args: argparse.Namespace, work: Callable[[Any], Awaitable[int]]) -> int:
    from hookcore.queue import connect

    async def run() -> int:
        jet = await connect(_settings(args), name="hookcore-cli")
        try:
            return await work(jet)
        finally:
            await jet.close()

    return asyncio.run(run())


def _run_deploy(args: argparse.Namespace) -> int:
    from hookcore.instances import Instances

    apps = load_apps(args.app)
    integration = args.integration or (next(iter(apps)) if len(apps) == 1 else None)
    if integration is None:
        raise HookcoreError(f"--app loads {len(apps)} integrations; choose one with --integration")
    config = _config(args.config)

    async def work(jet: Any) -> int:
        instances = Instances(jet, apps, _settings(args))
        view = await instances.view(*await instances.deploy(integration, args.customer, config, args.name))
        if args.json:
            _print_json(view)
        else:
            print(f"Deployed {view.integration} for {view.customer}: instance {view.id}")
            for flow, url in view.webhook_urls.items():
                print(f"  {flow}: {url}")
        return 0

    return _with_jetstream(args, work)


def _run_instances(args: argparse.Namespace) -> int:
    from hookcore.apps import Apps
    from hookcore.instances import Instances

    if args.action in ("show", "remove", "add-key") and not args.id:
        raise HookcoreError(f"`hookcore instances {args.action}` needs an instance id")
    apps = load_apps(args.app) if args.app else Apps([])

    async def work(jet: Any) -> int:
        instances = Instances(jet, apps, _settings(args))
        if args.action == "add-key":
            if not args.flow:
                raise HookcoreError("`hookcore instances add-key ID` needs --flow NAME")
            key = await instances.add_api_key(args.id, args.flow)
            print(msgspec.json.encode({"apiKey": key}).decode() if args.json else key)
            return 0
        if args.action == "remove":
            await instances.remove(args.id)
            print(f"Removed instance {args.id}")
            return 0
        records = (
            [await instances.get(args.id)] if args.action == "show" else await instances.list(args.customer)
        )
        views = [await instances.view(r) for r in records]
        if args.json:
            _print_json(views[0] if args.action == "show" else {"items": views, "next": None})
        else:
            for v in views:
                print(f"{v.id}  {v.integration}  customer={v.customer}  flows={len(v.webhook_urls)}")
                for flow, url in v.webhook_urls.items():
                    print(f"    {flow}: {url}")
        return 0

    return _with_jetstream(args, work)


def _run_executions(args: argparse.Namespace) -> int:
    from hookcore.executions import Executions
    from hookcore.publisher import Publisher
    from hookcore.store import Records

    if args.action in ("show", "result") and not args.id:
        raise HookcoreError(f"`hookcore executions {args.action}` needs an execution id")
    if args.action == "replay" and bool(args.id) == args.all:
        raise HookcoreError("`hookcore executions replay` needs an execution id or --all (with filters)")

    async def work(jet: Any) -> int:
        records = Records(jet)
        if args.action == "result":
            data, _ = await records.result(args.id)
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            return 0
        if args.action == "show":
            record = await records.get(args.id)
            if args.json:
                _print_json(record.view())
            else:
                print(f"{record.id}  {record.status}  flow={record.flow!r}  attempts={record.attempts}")
                if record.error:
                    print(f"  error: {record.error}")
            return 0
        settings = _settings(args)
        publisher = Publisher(settings.nats_url, timeout=10, name="hookcore-cli", auth=settings.nats_auth)
        await publisher.start()
        try:
            return await _list_or_replay(args, Executions(jet, publisher))
        finally:
            await publisher.stop()

    return _with_jetstream(args, work)


async def _list_or_replay(args: argparse.Namespace, executions: Executions) -> int:
    filters = {"flow": args.flow, "customer": args.customer, "status": args.status}
    if args.action == "list":
        page = await executions.list(**filters, limit=args.limit)
        if args.json:
            _print_json(page)
        else:
            for r in page.items:
                print(f"{r.id}  {r.status:<9}  {r.customer}  {r.flow!r}  attempts={r.attempts}")
        return 0
    if args.id:
        print(await executions.replay(args.id))
        return 0
    targets = []
    cursor = None
    while True:
        page = await executions.list(**filters, limit=500, cursor=cursor)
        targets += [r.id for r in page.items]
        if page.next is None:
            break
        cursor = page.next
    for done, execution_id in enumerate(targets, 1):
        new_id = await executions.replay(execution_id)
        print(f"{execution_id} -> {new_id}")
        _progress("replaying", done, len(targets))
    print(f"\rreplayed {len(targets)} executions{' ' * 40}", file=sys.stderr)
    return 0


def _progress(what: str, done: int, total: int, width: int = 30) -> None:
    """A one-line progress bar on stderr, redrawn in place."""
    filled = width * done // max(total, 1)
    bar = "#" * filled + "." * (width - filled)
    print(f"\r{what} [{bar}] {done}/{total}", end="", file=sys.stderr, flush=True)


def _config(items: list[str]) -> InstanceConfig:
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


def _print_json(value: Any) -> None:
    print(msgspec.json.format(msgspec.json.encode(value), indent=2).decode())


__all__ = ["DEFAULT_APP", "main"]
