"""hookcore.publisher.Publisher against a real nats-server.

Acks, refusals, stalls, restarts, credentials and TLS.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hookcore import publisher as publisher_module
from hookcore.config import Settings
from hookcore.embedded import EmbeddedNats, free_port, nats_server_binary
from hookcore.errors import QueueUnavailable, WriteConflict
from hookcore.publisher import Publisher, Server
from hookcore.queue import EXECUTIONS_STREAM, EXECUTIONS_SUBJECT_PREFIX, RECORDS_BUCKET, connect, kv_subject
from hookcore.store import expect_last
from support import running_nats


def test_server_urls() -> None:
    assert Server.parse("nats://127.0.0.1:4223") == Server("127.0.0.1", 4223)
    assert Server.parse("localhost") == Server("localhost", 4222)
    assert Server.parse("tls://nats.example.com").tls
    assert Server.parse("nats://al%40ice:s3cret@h:1").auth == {"user": "al@ice", "pass": "s3cret"}
    assert Server.parse("nats://tok3n@h").auth == {"auth_token": "tok3n"}
    with pytest.raises(ValueError, match="not a NATS server URL"):
        Server.parse("http://h:4222")
    with pytest.raises(ValueError, match="no NATS server URL"):
        Publisher(" , ", timeout=1, name="test")


async def _stored(nats_url: str, subjects: list[str]) -> list[bytes]:
    jet = await connect(Settings.load(nats_url=nats_url), name="test")
    try:
        return [(await jet.js.get_last_msg(EXECUTIONS_STREAM, s)).data for s in subjects]
    finally:
        await jet.close()


def test_concurrent_publishes_are_stored_and_acked(nats: EmbeddedNats) -> None:
    subjects = [f"{EXECUTIONS_SUBJECT_PREFIX}.pub-{i}" for i in range(300)]

    async def run() -> None:
        await _stored(nats.url, [])  # creates the stream
        publisher = Publisher(nats.url, timeout=5, name="test")
        await publisher.start()
        try:
            await asyncio.gather(*(publisher.publish(s, s.encode()) for s in subjects))
        finally:
            await publisher.stop()
        assert await _stored(nats.url, subjects) == [s.encode() for s in subjects]

    asyncio.run(run())


def test_acks_give_the_sequence_and_expected_sequences_hold(nats: EmbeddedNats) -> None:
    """What record writes rely on: an ack's stream sequence, and a refused
    Nats-Expected-Last-Subject-Sequence raising WriteConflict, not QueueUnavailable."""
    subject = kv_subject(RECORDS_BUCKET, "expected-sequence")

    async def run() -> None:
        await _stored(nats.url, [])  # creates the buckets
        publisher = Publisher(nats.url, timeout=5, name="test")
        await publisher.start()
        try:
            first = await publisher.publish(subject, b"1", headers=expect_last(0))
            with pytest.raises(WriteConflict, match=f"wrong last sequence: {first}"):
                await publisher.publish(subject, b"2", headers=expect_last(0))
            second = await publisher.publish(subject, b"3", headers=expect_last(first))
            assert second > first
            with pytest.raises(WriteConflict):
                await publisher.publish(subject, b"4", headers=expect_last(first))
            assert await publisher.publish(subject, b"5") > second  # no header: no condition
            with pytest.raises(ValueError, match="NATS header block"):
                await publisher.publish(subject, b"6", headers=b"Nats-Expected-Last-Subject-Sequence: 1")
        finally:
            await publisher.stop()
        jet = await connect(Settings.load(nats_url=nats.url), name="test")
        try:
            assert (await jet.records.get("expected-sequence")).value == b"5"
        finally:
            await jet.close()

    asyncio.run(run())


def test_a_subject_without_stream_fails_at_once(nats: EmbeddedNats) -> None:
    async def run() -> None:
        publisher = Publisher(nats.url, timeout=5, name="test")
        await publisher.start()
        try:
            started = time.monotonic()
            with pytest.raises(QueueUnavailable, match="no JetStream stream answered"):
                await publisher.publish("nowhere.at.all", b"{}")
            assert time.monotonic() - started < 2
        finally:
            await publisher.stop()

    asyncio.run(run())


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A server of the test's own, for stopping and pausing."""
    with running_nats(tmp_path) as server:
        try:
            yield server
        finally:  # a paused server could not stop
            if server.process is not None and server.process.poll() is None:
                os.kill(server.process.pid, signal.SIGCONT)


def _pause(pid: int) -> None:
    """Stop the process and wait until it is stopped (the signal is delivered asynchronously)."""
    os.kill(pid, signal.SIGSTOP)
    stat = Path(f"/proc/{pid}/stat")
    deadline = time.monotonic() + 5
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "T":
        assert time.monotonic() < deadline, f"process {pid} did not stop"
        time.sleep(0.01)


def test_a_stalled_server_times_out_and_a_restarted_one_is_used_again(own_nats: EmbeddedNats) -> None:
    subject = f"{EXECUTIONS_SUBJECT_PREFIX}.after-restart"

    async def run() -> None:
        await _stored(own_nats.url, [])
        publisher = Publisher(own_nats.url, timeout=0.5, name="test")
        await publisher.start()
        assert own_nats.process is not None
        try:
            _pause(own_nats.process.pid)
            with pytest.raises(QueueUnavailable, match=r"no acknowledgement within 0\.5s"):
                await publisher.publish(subject, b"stalled")
            os.kill(own_nats.process.pid, signal.SIGCONT)

            await asyncio.to_thread(own_nats.stop)
            await asyncio.sleep(0.2)
            with pytest.raises(QueueUnavailable):
                await publisher.publish(subject, b"while down")
            await asyncio.to_thread(own_nats.start)
            deadline = time.monotonic() + 10
            while True:
                try:
                    await publisher.publish(subject, b"back")
                    break
                except QueueUnavailable:
                    assert time.monotonic() < deadline, "the publisher did not reconnect"
                    await asyncio.sleep(0.1)
        finally:
            await publisher.stop()
        assert await _stored(own_nats.url, [subject]) == [b"back"]

    asyncio.run(run())


def test_a_silent_server_is_left_for_another_connection(
    own_nats: EmbeddedNats, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pings every 0.2 s instead of 30 s: two unanswered ones mark the connection dead.
    monkeypatch.setattr(publisher_module, "PING_INTERVAL", 0.2)

    async def run() -> None:
        publisher = Publisher(own_nats.url, timeout=5, name="test")
        await publisher.start()
        assert own_nats.process is not None
        try:
            _pause(own_nats.process.pid)
            deadline = time.monotonic() + 5
            while publisher.connected:
                assert time.monotonic() < deadline, "the silent connection was kept"
                await asyncio.sleep(0.05)
            os.kill(own_nats.process.pid, signal.SIGCONT)
            deadline = time.monotonic() + 10
            while not publisher.connected:
                assert time.monotonic() < deadline, "the publisher did not reconnect"
                await asyncio.sleep(0.05)
        finally:
            await publisher.stop()

    asyncio.run(run())


@contextmanager
def _plain_server(*args: str) -> Iterator[int]:
    """A nats-server without JetStream, started with `args`; yields its port once it listens."""
    port = free_port()
    server = subprocess.Popen(
        [str(nats_server_binary()), "-a", "127.0.0.1", "-p", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nats-server did not start"
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(10)


async def _no_stream_answers(publisher: Publisher) -> None:
    """Connected and accepted: the server itself answers that no stream listens."""
    await publisher.start()
    try:
        with pytest.raises(QueueUnavailable, match="no JetStream stream answered"):
            await publisher.publish("anything", b"{}")
    finally:
        await publisher.stop()


def test_credentials_in_the_url_are_used() -> None:
    async def run(port: int) -> None:
        wrong = Publisher(f"nats://hook:wrong@127.0.0.1:{port}", timeout=5, name="test")
        with pytest.raises(QueueUnavailable, match=r"(?i)authorization"):
            await wrong.start()
        await _no_stream_answers(Publisher(f"nats://hook:s3cret@127.0.0.1:{port}", timeout=5, name="test"))

    with _plain_server("--user", "hook", "--pass", "s3cret") as port:
        asyncio.run(run(port))


def _openssl(command: str, cwd: Path) -> None:
    subprocess.run(["openssl", *command.split()], cwd=cwd, check=True, capture_output=True)


def test_tls_servers_are_verified_and_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a CA and a server certificate")
    key = "-newkey rsa:2048 -nodes"
    _openssl(f"req -x509 {key} -days 1 -subj /CN=hookcore-test-ca -keyout ca.key -out ca.pem", tmp_path)
    _openssl(f"req {key} -subj /CN=127.0.0.1 -keyout server.key -out server.csr", tmp_path)
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
        "-extfile san.ext -out server.pem",
        tmp_path,
    )
    tls = ("--tls", "--tlscert", str(tmp_path / "server.pem"), "--tlskey", str(tmp_path / "server.key"))

    async def run(port: int) -> None:
        with pytest.raises(QueueUnavailable, match=r"(?i)certificate verify failed"):
            await Publisher(f"tls://127.0.0.1:{port}", timeout=5, name="test").start()
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # trust the test CA
        await _no_stream_answers(Publisher(f"tls://127.0.0.1:{port}", timeout=5, name="test"))
        # A nats:// URL to a server that requires TLS upgrades too.
        await _no_stream_answers(Publisher(f"nats://127.0.0.1:{port}", timeout=5, name="test"))

    with _plain_server(*tls) as port:
        asyncio.run(run(port))
