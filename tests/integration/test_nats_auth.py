"""Each kind of NATS credentials, and TLS, against a real nats-server set up for it: nats-py
(`hookcore.jetstream.connect`, which also creates hookcore's streams) and the publisher both get
in with them and are refused without (SPEC section 9)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nats
import nkeys
import pytest
from nats.aio.client import Client as NatsClient

from hookcore.config import Settings
from hookcore.embedded import nats_server_binary
from hookcore.errors import QueueUnavailable
from hookcore.jetstream import connect
from hookcore.nats_auth import NatsAuth
from hookcore.publisher import Publisher
from hookcore.queue import EXECUTIONS_STREAM, EXECUTIONS_SUBJECT_PREFIX
from support import ROOT, end, free_port, wait_listening

MAKE_CERTS = ROOT / "deploy" / "tls" / "make-certs.sh"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate: deploy's own script."""
    out = tmp_path_factory.mktemp("tls")
    subprocess.run([str(MAKE_CERTS), str(out), "127.0.0.1", "localhost"], check=True, capture_output=True)
    return out


def _new_seed(prefix: int) -> bytes:
    return bytes(nkeys.encode_seed(os.urandom(32), prefix))


def _public(seed: bytes) -> str:
    return str(nkeys.from_seed(bytearray(seed)).public_key.decode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(issuer_seed: bytes, subject: str, name: str, nats_claims: dict) -> str:
    """A NATS JWT (v2) for ``subject``, signed by ``issuer_seed`` (what `nsc` makes)."""
    claims = {"iat": int(time.time()), "iss": _public(issuer_seed), "name": name, "sub": subject}
    claims["nats"] = {**nats_claims, "version": 2}
    claims["jti"] = (
        base64.b32encode(hashlib.new("sha512_256", json.dumps(claims, sort_keys=True).encode()).digest())
        .decode()
        .rstrip("=")
    )
    signing_input = (
        _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
        + "."
        + _b64(json.dumps(claims).encode())
    )
    signature = nkeys.from_seed(bytearray(issuer_seed)).sign(signing_input.encode())
    return f"{signing_input}.{_b64(signature)}"


def _operator_setup(directory: Path) -> tuple[str, Path]:
    """nats-server configuration for operator mode (an account with JetStream, in memory)
    and a ``.creds`` file of one of its users."""
    operator, system, account, user = (
        _new_seed(prefix)
        for prefix in (
            nkeys.PREFIX_BYTE_OPERATOR,
            nkeys.PREFIX_BYTE_ACCOUNT,
            nkeys.PREFIX_BYTE_ACCOUNT,
            nkeys.PREFIX_BYTE_USER,
        )
    )
    limits = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "conn": -1, "leaf": -1}
    jetstream = {"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}
    operator_jwt = _jwt(
        operator, _public(operator), "test", {"type": "operator", "system_account": _public(system)}
    )
    system_jwt = _jwt(operator, _public(system), "SYS", {"type": "account", "limits": limits})
    account_jwt = _jwt(
        operator, _public(account), "hookcore", {"type": "account", "limits": {**limits, **jetstream}}
    )
    user_jwt = _jwt(
        account, _public(user), "ingress", {"type": "user", "subs": -1, "data": -1, "payload": -1}
    )
    creds = directory / "user.creds"
    creds.write_text(
        f"-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{user.decode()}\n------END USER NKEY SEED------\n"
    )
    config = (
        f'operator: "{operator_jwt}"\nsystem_account: {_public(system)}\nresolver: MEMORY\n'
        f'resolver_preload: {{ {_public(system)}: "{system_jwt}", {_public(account)}: "{account_jwt}" }}\n'
    )
    return config, creds


@dataclass
class Case:
    """A server set up for one kind of credentials, what gets in and what does not."""

    config: str
    good: NatsAuth
    lacking: NatsAuth
    scheme: str = "nats"


def _case(kind: str, certs: Path, directory: Path) -> Case:
    tls = f'cert_file: "{certs / "server.pem"}", key_file: "{certs / "server-key.pem"}"'
    ca = str(certs / "ca.pem")
    if kind == "user_password":
        return Case(
            'authorization { users: [ { user: "ingress", password: "s3cret pass" } ] }',
            NatsAuth(user="ingress", password="s3cret pass"),
            NatsAuth(user="ingress", password="wrong"),
        )
    if kind == "token":
        return Case('authorization { token: "t0ken" }', NatsAuth(token="t0ken"), NatsAuth())
    if kind == "nkey":
        seed = _new_seed(nkeys.PREFIX_BYTE_USER)
        (directory / "user.nk").write_bytes(seed + b"\n")
        other = directory / "other.nk"
        other.write_bytes(_new_seed(nkeys.PREFIX_BYTE_USER))
        return Case(
            f"authorization {{ users: [ {{ nkey: {_public(seed)} }} ] }}",
            NatsAuth(nkey_seed=str(directory / "user.nk")),
            NatsAuth(nkey_seed=str(other)),
        )
    if kind == "creds":
        config, creds = _operator_setup(directory)
        (directory / "elsewhere").mkdir()
        _, foreign = _operator_setup(directory / "elsewhere")  # a user of another operator's account
        return Case(config, NatsAuth(creds=str(creds)), NatsAuth(creds=str(foreign)))
    if kind == "tls_ca":
        return Case(f"tls {{ {tls} }}", NatsAuth(tls_ca=ca), NatsAuth(), scheme="tls")
    if kind == "mutual_tls":
        return Case(
            f'tls {{ {tls}, ca_file: "{ca}", verify: true }}',
            NatsAuth(tls_ca=ca, tls_cert=str(certs / "client.pem"), tls_key=str(certs / "client-key.pem")),
            NatsAuth(tls_ca=ca),
        )
    if kind == "tls_first":
        return Case(
            f"tls {{ {tls}, handshake_first: true }}",
            NatsAuth(tls_ca=ca, tls_first=True),
            NatsAuth(tls_ca=ca),
        )
    raise AssertionError(kind)


@contextmanager
def _server(directory: Path, config: str) -> Iterator[int]:
    """A nats-server with JetStream and ``config``, on a free loopback port."""
    port = free_port()
    conf = directory / "nats-server.conf"
    conf.write_text(
        f'listen: "127.0.0.1:{port}"\njetstream {{ store_dir: "{directory / "js"}" }}\n{config}\n'
    )
    log = directory / "nats-server.log"
    process = subprocess.Popen(
        [str(nats_server_binary()), "-c", str(conf), "-l", str(log)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_listening(port, process, 30, log)  # with handshake_first the server says nothing before TLS
        yield port
    finally:
        end(process)


async def _publish_and_read(settings: Settings) -> None:
    """nats-py connects (and creates the streams); the publisher stores an envelope; nats-py reads it."""
    jet = await connect(settings, name="test")
    publisher = Publisher(settings.nats_url, timeout=10, name="test", auth=settings.nats_auth)
    try:
        await publisher.start()
        subject = f"{EXECUTIONS_SUBJECT_PREFIX}.test"
        seq = await publisher.publish(subject, b"an envelope", msg_id=os.urandom(8).hex())
        stored = await jet.js.get_msg(EXECUTIONS_STREAM, seq)
        assert (stored.subject, stored.data) == (subject, b"an envelope")
    finally:
        await publisher.stop()
        await jet.close()


async def _refused(url: str, auth: NatsAuth) -> None:
    with pytest.raises(QueueUnavailable):
        publisher = Publisher(url, timeout=2, name="test", auth=auth)
        try:
            await publisher.start()
        finally:
            await publisher.stop()
    nc = NatsClient()
    try:
        # The server's -ERR, a failed TLS handshake (an OSError) or silence (TLS first).
        with pytest.raises((nats.errors.Error, OSError, TimeoutError)):
            await nc.connect(
                url,
                allow_reconnect=False,
                max_reconnect_attempts=0,
                connect_timeout=2,
                **auth.nats_py_options(),
            )
    finally:
        with contextlib.suppress(TimeoutError):  # nats-py's close hangs after a failed TLS handshake
            await asyncio.wait_for(nc.close(), 2)


KINDS = ["user_password", "token", "nkey", "creds", "tls_ca", "mutual_tls", "tls_first"]
REFUSALS: dict[str, str | None] = {
    **dict.fromkeys(["user_password", "token", "nkey", "creds"], "authentication error"),
    "tls_ca": "TLS handshake error",  # the client does not trust the server's certificate, and hangs up
    "mutual_tls": "TLS handshake error: tls: client didn't provide a certificate",
    # A client that does not start with TLS waits for the server's INFO, which a TLS-first server
    # never sends before a handshake: both wait, and nothing is logged.
    "tls_first": None,
}
"""What nats-server logs when it refuses the credentials each kind lacks."""


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_credentials_gets_in_and_nothing_less_does(
    kind: str, certs: Path, tmp_path: Path
) -> None:
    case = _case(kind, certs, tmp_path)
    with _server(tmp_path, case.config) as port:
        url = f"{case.scheme}://127.0.0.1:{port}"
        settings = Settings.load(nats_url=url).with_nats_auth(case.good)
        asyncio.run(_publish_and_read(settings))
        log = tmp_path / "nats-server.log"
        before = log.read_text()
        asyncio.run(_refused(url, case.lacking))
        if (refusal := REFUSALS[kind]) is not None:  # the server's refusal, not a slow connection
            deadline = time.monotonic() + 30
            while log.read_text().removeprefix(before).count(refusal) < 2:  # the publisher's, nats-py's
                assert time.monotonic() < deadline, (
                    f"nats-server logged no {refusal!r} twice:\n{log.read_text()}"
                )
                time.sleep(0.05)


def test_credentials_come_from_the_environment(
    certs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `hookcore serve` and `worker` read: HOOKCORE_NATS_* (here mutual TLS and a password)."""
    config = (
        f'tls {{ cert_file: "{certs / "server.pem"}", key_file: "{certs / "server-key.pem"}", '
        f'ca_file: "{certs / "ca.pem"}", verify: true }}\n'
        'authorization { users: [ { user: "worker", password: "pw" } ] }'
    )
    with _server(tmp_path, config) as port:
        for name, value in {
            "HOOKCORE_NATS_URL": f"nats://127.0.0.1:{port}",
            "HOOKCORE_NATS_USER": "worker",
            "HOOKCORE_NATS_PASSWORD": "pw",
            "HOOKCORE_NATS_TLS_CA": str(certs / "ca.pem"),
            "HOOKCORE_NATS_TLS_CERT": str(certs / "client.pem"),
            "HOOKCORE_NATS_TLS_KEY": str(certs / "client-key.pem"),
        }.items():
            monkeypatch.setenv(name, value)
        asyncio.run(_publish_and_read(Settings.load()))


DEPLOY = ROOT / "deploy"


@contextmanager
def _deploy_cluster(root: Path, certs: Path, passwords: dict[str, str]) -> Iterator[list[int]]:
    """deploy/nats-cluster.conf on three loopback nodes: only addresses and paths changed."""
    template = (DEPLOY / "nats-cluster.conf").read_text()
    client_ports = [free_port() for _ in range(3)]
    cluster_ports = [free_port() for _ in range(3)]
    (root / "nats-users.conf").write_text((DEPLOY / "nats-users.conf").read_text())
    env = {**os.environ, **{f"NATS_{role.upper()}_PASSWORD": pw for role, pw in passwords.items()}}
    processes = []
    try:
        for i in range(3):
            conf = template
            changes = {
                "server_name: n1": f"server_name: n{i + 1}",
                "listen: 0.0.0.0:4222": f"listen: 127.0.0.1:{client_ports[i]}",
                "listen: 0.0.0.0:6222": f"listen: 127.0.0.1:{cluster_ports[i]}",
                "/etc/nats/tls/": f"{certs}/",
                "/var/lib/nats/jetstream": str(root / f"n{i + 1}"),
                **{
                    f"nats-route://n{j + 1}:6222": f"nats-route://127.0.0.1:{cluster_ports[j]}"
                    for j in range(3)
                },
            }
            for old, new in changes.items():
                assert old in conf, f"deploy/nats-cluster.conf no longer has {old!r}"
                conf = conf.replace(old, new)
            path = root / f"n{i + 1}.conf"
            path.write_text(conf)
            log = root / f"n{i + 1}.log"
            processes.append(
                subprocess.Popen(
                    [str(nats_server_binary()), "-c", str(path), "-l", str(log)],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        yield client_ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            end(process)  # already sent SIGTERM: the servers stop together


async def _until_cluster_ready(settings: Settings, timeout: float = 90) -> None:
    """Until the cluster has a JetStream leader that can place hookcore's replicated streams."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await _publish_and_read(settings)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def test_the_deploy_cluster_example_takes_only_its_roles_over_tls(certs: Path, tmp_path: Path) -> None:
    passwords = {"ingress": "ingress-pw", "worker": "worker-pw", "admin": "admin-pw"}
    with _deploy_cluster(tmp_path, certs, passwords) as ports:
        url = ",".join(f"tls://127.0.0.1:{port}" for port in ports)
        ca = str(certs / "ca.pem")
        ingress = NatsAuth(user="ingress", password=passwords["ingress"], tls_ca=ca)
        settings = Settings.load(nats_url=url, replicas=3).with_nats_auth(ingress)
        asyncio.run(_until_cluster_ready(settings))
        single = f"tls://127.0.0.1:{ports[1]}"
        asyncio.run(_refused(single, NatsAuth(tls_ca=ca)))  # no password
        asyncio.run(_refused(single, NatsAuth(user="ingress", password="worker-pw", tls_ca=ca)))
        asyncio.run(_refused(single, NatsAuth(user="ingress", password=passwords["ingress"])))  # CA unknown


def test_the_publisher_does_not_go_on_in_the_clear_when_tls_is_asked_for(certs: Path, tmp_path: Path) -> None:
    async def start() -> None:
        publisher = Publisher(url, timeout=2, name="test", auth=NatsAuth(tls_ca=str(certs / "ca.pem")))
        try:
            with pytest.raises(QueueUnavailable, match="does not offer TLS"):
                await publisher.start()
        finally:
            await publisher.stop()

    with _server(tmp_path, "") as port:
        url = f"nats://127.0.0.1:{port}"
        asyncio.run(start())
