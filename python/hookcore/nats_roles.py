"""Who may do what on hookcore's NATS: one user per role, and the nkeys `hookcore up` makes for them.

- ``ingress`` publishes accepted requests and reads configuration; it cannot
  take executions off the queue (no ``$JS.ACK``) nor answer a waiting request.
- ``worker`` takes executions, acknowledges them and answers the ingress
  waiting on a synchronous one.
- ``admin`` may do anything: the operator's CLI, and whoever sets up streams by hand.

Both ``ingress`` and ``worker`` create and update hookcore's streams and
buckets at start (`hookcore.jetstream.ensure_resources`) and so use the
JetStream API (`hookcore.jetstream.JETSTREAM_API`), but neither may delete a
stream, nor purge, delete messages of or remove the consumers of the stream of
accepted requests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import nkeys  # type: ignore[import-untyped]

from hookcore.index import INDEX_ENTRIES
from hookcore.jetstream import JETSTREAM_API
from hookcore.nats_auth import NatsAuth
from hookcore.queue import ALL_EXECUTIONS, EXECUTIONS_STREAM, work_queues

ROLES = ("ingress", "worker", "admin")

_DESTRUCTIVE = (
    "$JS.API.STREAM.DELETE.>",
    f"$JS.API.STREAM.PURGE.{EXECUTIONS_STREAM}",
    f"$JS.API.STREAM.MSG.DELETE.{EXECUTIONS_STREAM}",
    # The work queues (a worker may delete the previous release's consumer once it is empty).
    *(f"$JS.API.CONSUMER.DELETE.{EXECUTIONS_STREAM}.{queue.name}" for queue in work_queues()),
)


@dataclass(frozen=True, slots=True)
class Permissions:
    """Subjects a role may publish to (but not ``deny_publish``) and subscribe to."""

    publish: tuple[str, ...]
    deny_publish: tuple[str, ...]
    subscribe: tuple[str, ...]

    def render(self) -> list[str]:
        """nats-server's ``permissions`` block, line by line."""
        return [
            "permissions {",
            f"  publish {{ allow: {_list(self.publish)}",
            f"            deny: {_list(self.deny_publish)} }}",
            f"  subscribe {{ allow: {_list(self.subscribe)} }}",
            "}",
        ]


PERMISSIONS: dict[str, Permissions | None] = {
    "ingress": Permissions(
        # INDEX_ENTRIES: record writes file executions in the executions index (`hookcore.index`):
        # the worker's, and the control plane's when a replay links an execution recorded before
        # the index existed.
        publish=(ALL_EXECUTIONS, INDEX_ENTRIES, *JETSTREAM_API),
        deny_publish=_DESTRUCTIVE,
        subscribe=("_INBOX.>",),
    ),
    "worker": Permissions(
        # _INBOX: the completion of a synchronous execution goes to the waiting ingress's inbox.
        publish=(
            f"$JS.ACK.{EXECUTIONS_STREAM}.>",  # every work queue's (`queue.work_queues`)
            "_INBOX.>",
            INDEX_ENTRIES,
            *JETSTREAM_API,
        ),
        deny_publish=_DESTRUCTIVE,
        subscribe=("_INBOX.>",),
    ),
    "admin": None,
}


def authorization(credentials: Mapping[str, str]) -> str:
    """nats-server's ``authorization`` block: one user per role, ``credentials`` mapping each
    role to how it proves itself, in the server's config syntax (``nkey: U…`` or
    ``user: ingress, password: $INGRESS_PASSWORD``)."""
    lines = ["authorization {", "  users: ["]
    for role in ROLES:
        permissions = PERMISSIONS[role]
        lines += ["    {", f"      {credentials[role]}"]
        lines += [f"      {line}" for line in (permissions.render() if permissions else [])]
        lines.append("    }")
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


class RoleKeys:
    """The nkey seed of each role, one file each under ``directory`` (mode 0600).

    Made once and kept: a restart, which rewrites the server's configuration
    from them, lets every process back in with the credentials it has.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def seed_path(self, role: str) -> Path:
        return self.directory / f"{role}.nk"

    def ensure(self) -> RoleKeys:
        """Make the seeds that do not exist yet; leave those that do."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for role in ROLES:
            path = self.seed_path(role)
            if path.exists():
                continue
            seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(seed + b"\n")
        return self

    def public_key(self, role: str) -> str:
        seed = self.seed_path(role).read_bytes().strip()
        return str(nkeys.from_seed(bytearray(seed)).public_key.decode())

    def authorization(self) -> str:
        """The server's ``authorization`` block admitting these keys."""
        return authorization({role: f"nkey: {self.public_key(role)}" for role in ROLES})

    def auth(self, role: str) -> NatsAuth:
        """What a process of ``role`` connects with."""
        return NatsAuth(nkey_seed=str(self.seed_path(role)))


def _list(subjects: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{s}"' for s in subjects) + "]"
