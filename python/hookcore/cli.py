"""The ``hookcore`` command line. Every verb has --help with an example."""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from rich_argparse import RawDescriptionRichHelpFormatter

from hookcore import __version__, logs
from hookcore.apps import APPS_ENV, DEFAULT_APP, load_apps
from hookcore.client import TOKEN_ENV, URL_ENV
from hookcore.config import Settings, describe, env_name
from hookcore.embedded import nats_server_version
from hookcore.errors import ApiError, HookcoreError
from hookcore.remote import add_target_args, run_deploy, run_executions, run_instances

log = logging.getLogger("hookcore.cli")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    log_format = _configure_logging()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per CLI request
    try:
        return int(args.run(args) or 0)
    except ApiError as e:  # the server's answer: its message and code
        print(f"error: {e}", file=sys.stderr)
        return 1
    except HookcoreError as e:
        if log_format is logs.LogFormat.JSON:
            log.error("%s", e)
        else:
            print(f"hookcore: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C in a verb without its own handling (`up` and the servers have one)
        print(file=sys.stderr)
        return 130


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
        "deploy, instances and executions call a running hookcore's /api: --url/--token, else\n"
        f"  {URL_ENV}/{TOKEN_ENV}, else the `hookcore up` running on --data-dir (default .hookcore)\n"
        "Settings (flags win over these environment variables):\n"
        + "\n".join(f"  {env:<32} {doc} (default {default})" for env, default, doc in describe()),
        formatter_class=RawDescriptionRichHelpFormatter,
    )
    parser.add_argument(
        "--version", action=_Version, help="print hookcore's version and the nats-server `up` would start"
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
        "deploy an integration for a customer (through the running hookcore's /api) and print its URLs",
        "hookcore deploy --integration acme-erp --customer acme-42 --config region=eu\n"
        "  hookcore deploy --app myflows:app --customer acme-42 --replace --json",
    )
    which = deploy.add_mutually_exclusive_group(required=True)
    which.add_argument("--integration", help="the integration's name (as the server runs it)")
    which.add_argument(
        "--app", metavar="MODULE:ATTR", help="or: the integration this module defines (imported for its name)"
    )
    deploy.add_argument("--customer", required=True, help="the customer's external id (created if new)")
    deploy.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config value of the instance (repeatable; a key given twice: a list, for a rotated secret)",
    )
    deploy.add_argument("--name", help="instance name")
    deploy.add_argument(
        "--replace",
        action="store_true",
        help="replace the customer's instance of a shared-endpoint integration (else: 409)",
    )
    add_target_args(deploy)
    _json_arg(deploy)
    deploy.set_defaults(run=run_deploy)

    instances = _verb(
        verbs,
        "instances",
        "list, show or remove deployed instances, or add an API key",
        "hookcore instances\n  hookcore instances list --customer acme-42\n"
        "  hookcore instances show ID --json\n  hookcore instances remove ID\n"
        "  hookcore instances add-key ID --flow 'Order created'",
    )
    instances.add_argument("action", nargs="?", default="list", choices=["list", "show", "remove", "add-key"])
    instances.add_argument("id", nargs="?", help="instance id (show, remove, add-key)")
    instances.add_argument("--flow", help="the flow a new API key is for (add-key)")
    instances.add_argument("--customer", help="only this customer's instances (list)")
    add_target_args(instances)
    _json_arg(instances)
    instances.set_defaults(run=run_instances)

    executions = _verb(
        verbs,
        "executions",
        "list, show, follow or replay executions, or print a result",
        "hookcore executions list --status dead\n  hookcore executions list --cursor 01937c2e-...\n"
        "  hookcore executions show 01937c2e-... --json\n  hookcore executions result 01937c2e-...\n"
        "  hookcore executions tail --customer acme-42\n  hookcore executions replay --status dead --all",
    )
    executions.add_argument("action", choices=["list", "show", "result", "replay", "tail"])
    executions.add_argument("id", nargs="?", help="execution id (show, result, replay one)")
    executions.add_argument("--flow", help="only this flow (list, tail, replay --all)")
    executions.add_argument("--customer", help="only this customer (list, tail, replay --all)")
    executions.add_argument(
        "--status",
        choices=["queued", "running", "succeeded", "failed", "dead"],
        help="only this status (list, tail, replay --all)",
    )
    executions.add_argument("--limit", type=int, default=50, help="executions per page (list; default 50)")
    executions.add_argument("--cursor", help="the page after this one (list; the 'more:' line names it)")
    executions.add_argument("--all", action="store_true", help="replay every matching execution")
    executions.add_argument(
        "--again", action="store_true", help="replay --all: also those replayed before (skipped otherwise)"
    )
    add_target_args(executions)
    _json_arg(executions)
    executions.set_defaults(run=run_executions)
    return parser


class _Version(argparse.Action):
    """``--version``: looks nats-server up only when asked (building the parser runs nothing)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(
            option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0, help=help
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"hookcore {__version__}\nnats-server for `hookcore up`: {nats_server_version()}")
        parser.exit()


def _verb(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str, example: str
) -> argparse.ArgumentParser:
    return verbs.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        epilog=f"example:\n  {example}",
        formatter_class=RawDescriptionRichHelpFormatter,
    )


def _app_args(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--app",
        action="append",
        default=[],
        required=required,
        metavar="MODULE:ATTR",
        help="an Integration to load, e.g. myflows:app (repeatable)",
    )


def _nats_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nats", help="NATS URL (default $HOOKCORE_NATS_URL or nats://127.0.0.1:4222)")


def _json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead of text")


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
    from hookcore.metrics import COUNTERS_ENV, counters_block

    settings = _settings(args, default_public_url=f"http://{args.host}:{args.port}")
    load_apps(args.app)  # fail here, with a clear message, rather than in every worker process
    settings.require_signing_key()
    if not settings.admin_token:
        log.warning("HOOKCORE_ADMIN_TOKEN is not set: the control plane is disabled (/api/* answers 403)")
    os.environ.update(settings.to_env())
    os.environ[APPS_ENV] = ",".join(args.app)
    with counters_block(settings) as block:
        os.environ[COUNTERS_ENV] = str(block)  # every process of this server counts into it
        if not settings.admin_port:
            _granian("hookcore.ingress:create_app", args.host, args.port, args.workers)
            return 0
        # The admin port is a Granian server of its own (one process), started like this one.
        admin = multiprocessing.get_context("spawn").Process(
            target=_granian,
            args=("hookcore.ingress:create_admin_app", settings.admin_host, settings.admin_port, 1),
            name="hookcore-admin",
        )
        admin.start()
        stopping, admin_ended = threading.Event(), threading.Event()
        threading.Thread(target=_stop_with, args=(admin, stopping, admin_ended), daemon=True).start()
        try:
            _granian("hookcore.ingress:create_app", args.host, args.port, args.workers)
        finally:
            stopping.set()
            admin.terminate()
            admin.join()
        return 1 if admin_ended.is_set() else 0


def _stop_with(
    admin: multiprocessing.process.BaseProcess, stopping: threading.Event, ended: threading.Event
) -> None:
    """Stop this server when its admin port's server ends on its own (it could not bind, say)."""
    admin.join()
    if not stopping.is_set():
        ended.set()
        log.error(
            "the admin port's server (HOOKCORE_ADMIN_PORT) exited with code %s; stopping", admin.exitcode
        )
        os.kill(os.getpid(), signal.SIGTERM)


def _granian(target: str, host: str, port: int, workers: int) -> None:
    """Serve the RSGI app ``target`` on ``host:port`` until told to stop (settings from the env)."""
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    settings = Settings.load()
    Server(
        target,
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        workers=workers,
        factory=True,
        log_level=LogLevels(settings.log_level.lower()),
        log_dictconfig=logs.dict_config(settings.log_format, settings.log_level),
        log_access=settings.access_log,
        log_access_format=logs.ACCESS_FORMAT,
    ).serve()


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


__all__ = ["DEFAULT_APP", "main"]
