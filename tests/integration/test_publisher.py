"""hookcore.publisher.Publisher against a real nats-server.

Acks, refusals, stalls, restarts, credentials and TLS.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from nats.js.api import DiscardPolicy
from nats.js.errors import BadRequestError, ServerError, ServiceUnavailableError

from hookcore import publisher as publisher_module
from hookcore.config import Settings
from hookcore.embedded import EmbeddedNats, nats_server_binary
from hookcore.errors import ConfigError, QueueUnavailable, StorageFull, WriteConflict
from hookcore.jetstream import connect, storage_error
from hookcore.objects import OBJECTS_STREAM
from hookcore.publisher import MAX_PROBE_AFTER, Publisher, Server
from hookcore.queue import EXECUTIONS_STREAM, EXECUTIONS_SUBJECT_PREFIX, execution_id_of
from hookcore.records import record_subject
from hookcore.store import expect_last
from support import end, free_port, pause, running_hookcore, running_nats, wait_listening


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
    subject = record_subject("expected-sequence")

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
        publisher = Publisher(nats.url, timeout=60, name="test")
        await publisher.start()
        try:
            started = time.monotonic()
            with pytest.raises(QueueUnavailable, match="no JetStream stream answered"):
                await publisher.publish("nowhere.at.all", b"{}")
            assert time.monotonic() - started < 30  # the answer, not the 60 s timeout
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


def test_a_stalled_server_times_out_and_a_restarted_one_is_used_again(own_nats: EmbeddedNats) -> None:
    subject = f"{EXECUTIONS_SUBJECT_PREFIX}.after-restart"

    async def run() -> None:
        await _stored(own_nats.url, [])
        publisher = Publisher(own_nats.url, timeout=0.5, name="test")
        await publisher.start()
        assert own_nats.process is not None
        try:
            pause(own_nats.process.pid)
            # Sent, and no other server to send it again on: its fate is unknown.
            with pytest.raises(QueueUnavailable, match=r"no acknowledgement within 0\.5s") as stalled:
                await publisher.publish(subject, b"stalled", msg_id="stalled-1")
            assert stalled.value.maybe_stored
            assert "may not have been stored" in stalled.value.answer
            os.kill(own_nats.process.pid, signal.SIGCONT)

            await asyncio.to_thread(own_nats.stop)
            await asyncio.sleep(0.2)
            with pytest.raises(QueueUnavailable):
                await publisher.publish(subject, b"while down")
            await asyncio.to_thread(own_nats.start)
            deadline = time.monotonic() + 60
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
            pause(own_nats.process.pid)
            deadline = time.monotonic() + 30
            while publisher.connected:
                assert time.monotonic() < deadline, "the silent connection was kept"
                await asyncio.sleep(0.05)
            os.kill(own_nats.process.pid, signal.SIGCONT)
            deadline = time.monotonic() + 60
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
        wait_listening(port, server, 60)
        yield port
    finally:
        end(server)


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


async def _subject_counts(nats_url: str, prefix: str) -> dict[str, int]:
    """How many messages the executions stream holds per subject under `prefix`."""
    jet = await connect(Settings.load(nats_url=nats_url), name="test")
    try:
        info = await jet.js.stream_info(EXECUTIONS_STREAM, subjects_filter=f"{prefix}.>")
        return dict(info.state.subjects or {})
    finally:
        await jet.close()


def test_a_message_id_is_stored_once(nats: EmbeddedNats) -> None:
    prefix = f"{EXECUTIONS_SUBJECT_PREFIX}.dedup"

    async def run() -> None:
        await _stored(nats.url, [])
        publisher = Publisher(nats.url, timeout=5, name="test")
        await publisher.start()
        try:
            # A frame sent again (the publisher does so after a reconnect) is acked, not stored twice.
            await publisher.publish(f"{prefix}.a", b"first", msg_id="exec-a")
            await publisher.publish(f"{prefix}.a", b"again", msg_id="exec-a")
            await publisher.publish(f"{prefix}.b", b"other", msg_id="exec-b")
            with pytest.raises(ValueError, match="message id"):
                await publisher.publish(f"{prefix}.c", b"x", msg_id="bad\r\nX-Injected: 1")
        finally:
            await publisher.stop()
        assert await _subject_counts(nats.url, prefix) == {f"{prefix}.a": 1, f"{prefix}.b": 1}
        assert await _stored(nats.url, [f"{prefix}.a"]) == [b"first"]

    asyncio.run(run())


def test_a_full_write_buffer_fails_at_once(own_nats: EmbeddedNats) -> None:
    """A server that stops reading must not make the publisher queue without bound."""
    payload = b"x" * (256 * 1024)

    async def run() -> None:
        await _stored(own_nats.url, [])
        # A timeout far beyond the test: only the buffer cap can fail these publishes quickly.
        publisher = Publisher(own_nats.url, timeout=60, name="test", max_buffer=1024 * 1024)
        await publisher.start()
        assert own_nats.process is not None
        tasks = []
        try:
            pause(own_nats.process.pid)
            started = time.monotonic()
            refused = None
            for i in range(400):  # 100 MiB: more than the kernel's socket buffers take
                task = asyncio.ensure_future(
                    publisher.publish(f"{EXECUTIONS_SUBJECT_PREFIX}.buf-{i}", payload)
                )
                tasks.append(task)
                await asyncio.sleep(0)  # the task writes its frame, or fails at once
                if task.done():
                    refused = task.exception()
                    break
            assert isinstance(refused, QueueUnavailable), "every publish was queued"
            assert "bytes wait to be sent" in str(refused)
            assert not refused.maybe_stored
            assert "nothing was stored" in refused.answer
            assert time.monotonic() - started < 30  # the cap, not the 60 s timeout
        finally:
            os.kill(own_nats.process.pid, signal.SIGCONT)
            await publisher.stop()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(run())


class _Server:
    """A standalone nats-server with JetStream and extra configuration, for failover tests."""

    def __init__(self, root: Path, name: str, extra: str = "") -> None:
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        root.mkdir(parents=True, exist_ok=True)
        conf = root / f"{name}.conf"
        conf.write_text(
            f'server_name: {name}\nlisten: "127.0.0.1:{self.port}"\n'
            f'jetstream {{ store_dir: "{(root / name).as_posix()}" }}\n{extra}'
        )
        self.log = (root / f"{name}.log").open("ab")
        self.process = subprocess.Popen(
            [str(nats_server_binary()), "-c", str(conf)], stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_listening(self.port, self.process, 20, root / f"{name}.log")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(5)  # one in lame duck mode does not hurry
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@contextmanager
def _two_servers(root: Path, extra: str = "") -> Iterator[dict[str, _Server]]:
    """Two independent JetStream servers, each with hookcore's stream, keyed by URL."""
    servers: list[_Server] = []
    try:
        for name in ("a", "b"):
            servers.append(_Server(root, name, extra))
            asyncio.run(_stored(servers[-1].url, []))
        yield {str(Server.parse(s.url)): s for s in servers}
    finally:
        for server in servers:
            server.stop()


def test_a_silent_server_is_left_within_the_publish_timeout(tmp_path: Path) -> None:
    """Acks overdue → a ping → no PONG → the next server, where the publish is sent again.

    Switching takes about twice the probe delay (1 s, `MAX_PROBE_AFTER`) and must happen within
    the publish timeout, else the publish fails: 8 s leaves room for a busy machine."""
    timeout = 8.0

    async def run(servers: dict[str, _Server]) -> None:
        publisher = Publisher(",".join(s.url for s in servers.values()), timeout=timeout, name="test")
        await publisher.start()
        try:
            silent = servers[str(publisher.server)]
            pause(silent.process.pid)
            started = time.monotonic()
            await publisher.publish(f"{EXECUTIONS_SUBJECT_PREFIX}.moved", b"{}", msg_id="moved-1")
            assert time.monotonic() - started < timeout
            assert str(publisher.server) != str(Server.parse(silent.url))
            # Later publishes go straight to the new server: one sent to the silent server would
            # wait twice the probe delay before it moved.
            started = time.monotonic()
            await publisher.publish(f"{EXECUTIONS_SUBJECT_PREFIX}.after", b"{}", msg_id="after-1")
            assert time.monotonic() - started < 2 * MAX_PROBE_AFTER
            assert str(publisher.server) != str(Server.parse(silent.url))
        finally:
            await publisher.stop()

    with _two_servers(tmp_path) as servers:
        asyncio.run(run(servers))


def test_lame_duck_mode_moves_the_publisher_before_the_server_goes(tmp_path: Path) -> None:
    # The server closes its clients only after the grace period: a publisher that waits
    # for that (what it did before) is still on it when the test gives up.
    grace = 'lame_duck_grace_period: "60s"\nlame_duck_duration: "120s"\n'
    prefix = f"{EXECUTIONS_SUBJECT_PREFIX}.ldm"

    async def run(servers: dict[str, _Server]) -> None:
        publisher = Publisher(",".join(s.url for s in servers.values()), timeout=5, name="test")
        await publisher.start()
        sent = 0
        failures: dict[int, QueueUnavailable] = {}
        moved = asyncio.Event()

        async def keep_publishing() -> None:
            nonlocal sent
            while not moved.is_set() or sent % 50:
                try:
                    await publisher.publish(f"{prefix}.{sent}", b"{}", msg_id=f"ldm-{sent}")
                except QueueUnavailable as e:
                    failures[sent] = e
                    await asyncio.sleep(0.01)
                sent += 1

        try:
            first = publisher.server
            leaving = servers[str(first)]
            publishing = asyncio.ensure_future(keep_publishing())
            await asyncio.sleep(0.2)
            signal_ldm = [str(nats_server_binary()), "--signal", f"ldm={leaving.process.pid}"]
            await asyncio.to_thread(subprocess.run, signal_ldm, check=True)
            deadline = time.monotonic() + 20
            while publisher.server in (first, None):
                assert time.monotonic() < deadline, "the publisher stayed on the server in lame duck mode"
                await asyncio.sleep(0.05)
            moved_at = sent
            moved.set()
            await publishing
            assert leaving.process.poll() is None, "the grace period had already ended"
        finally:
            await publisher.stop()
        # A lone server stops its JetStream as lame duck mode begins, so publishes sent
        # before the move may be refused (in a cluster the stream's other nodes take
        # them): by no responders (503) once the stream is gone, or by JetStream's own error
        # while it stops. They are refused for sure, never left in doubt. After it, none fails.
        doubts = {i: (e.maybe_stored, e.reason) for i, e in failures.items()}
        assert not any(e.maybe_stored for e in failures.values()), doubts
        assert max(failures, default=-1) < moved_at
        # What was sent after the move is on the other server, once (the one in lame
        # duck mode has stopped its JetStream and cannot be read).
        other = next(s for s in servers.values() if s is not leaving)
        counts = await _subject_counts(other.url, prefix)
        assert all(counts.get(f"{prefix}.{i}") == 1 for i in range(moved_at, sent))
        assert set(counts.values()) == {1}

    with _two_servers(tmp_path, grace) as servers:
        asyncio.run(run(servers))


async def _fill(publisher: Publisher, prefix: str, limit: int = 10_000) -> tuple[int, StorageFull]:
    """Publish 1 KB envelopes until JetStream refuses one: (how many it took, the refusal)."""
    for i in range(limit):
        try:
            await publisher.publish(f"{prefix}.{i}", b"x" * 1000, msg_id=f"{prefix}-{i}")
        except StorageFull as e:
            return i, e
    raise AssertionError(f"{limit} KB stored and the stream is still not full")


def test_a_full_stream_refuses_new_requests_and_keeps_the_stored_ones(own_nats: EmbeddedNats) -> None:
    prefix = f"{EXECUTIONS_SUBJECT_PREFIX}.full"

    async def run() -> None:
        settings = Settings.load(nats_url=own_nats.url, max_stream_bytes=128 * 1024)
        jet = await connect(settings, name="test")  # creates the stream with its limit
        publisher = Publisher(own_nats.url, timeout=5, name="test")
        await publisher.start()
        try:
            stored, full = await _fill(publisher, prefix)
            assert 100 < stored < 128
            assert isinstance(full, QueueUnavailable)
            assert full.code == "storage_full"
            assert not full.maybe_stored
            assert "maximum bytes exceeded" in full.reason
            assert "Storage is full; nothing was stored" in full.answer
            info = await jet.js.stream_info(EXECUTIONS_STREAM)
            assert info.state.messages == stored
            # A lower limit deletes nothing stored (discard=new); a higher one makes room.
            jet2 = await connect(
                Settings.load(nats_url=own_nats.url, max_stream_bytes=64 * 1024), name="test"
            )
            await jet2.close()
            info = await jet.js.stream_info(EXECUTIONS_STREAM)
            assert (info.config.max_bytes, info.state.messages) == (64 * 1024, stored)
            jet3 = await connect(
                Settings.load(nats_url=own_nats.url, max_stream_bytes=256 * 1024), name="test"
            )
            await jet3.close()
            await publisher.publish(f"{prefix}.more", b"x" * 1000, msg_id=f"{prefix}-more")
        finally:
            await publisher.stop()
            await jet.close()
        counts = await _subject_counts(own_nats.url, prefix)
        assert counts == {**{f"{prefix}.{i}": 1 for i in range(stored)}, f"{prefix}.more": 1}

    asyncio.run(run())


def test_every_bucket_has_a_byte_limit_and_keeps_old_data_when_full(own_nats: EmbeddedNats) -> None:
    async def run() -> None:
        settings = Settings.load(
            nats_url=own_nats.url, max_bucket_bytes=256 * 1024, max_object_bytes=512 * 1024
        )
        jet = await connect(settings, name="test")
        try:
            for stream in await jet.js.streams_info():
                config = stream.config
                assert config.discard == DiscardPolicy.NEW, config.name
                expected = {
                    EXECUTIONS_STREAM: settings.max_stream_bytes,
                    OBJECTS_STREAM: 512 * 1024,
                }.get(config.name or "", 256 * 1024)
                assert config.max_bytes == expected, config.name
            with pytest.raises(Exception, match="maximum bytes exceeded"):
                await jet.objects.put("big", b"x" * (600 * 1024))
        finally:
            await jet.close()

    asyncio.run(run())


def test_nats_py_refusals_become_typed_errors() -> None:
    """What the ingress answers when the object store (nats-py) fails before the envelope."""
    full = storage_error(ServiceUnavailableError(503, "maximum bytes exceeded", 10077))
    assert isinstance(full, StorageFull)
    assert "maximum bytes exceeded (code 10077)" in full.reason
    assert isinstance(storage_error(ServerError(500, "insufficient resources", 10023)), StorageFull)
    other = storage_error(BadRequestError(400, "wrong last sequence", 10071))
    assert type(other) is QueueUnavailable
    timeout = storage_error(TimeoutError())
    assert type(timeout) is QueueUnavailable
    assert not timeout.maybe_stored  # the envelope, which is the request, was never sent


def test_limits_the_server_cannot_reserve_are_a_config_error(own_nats: EmbeddedNats) -> None:
    async def run() -> None:
        settings = Settings.load(nats_url=own_nats.url, max_stream_bytes=1024**5)
        with pytest.raises(ConfigError, match="HOOKCORE_MAX_STREAM_BYTES"):
            await connect(settings, name="test")

    asyncio.run(run())


def test_the_ingress_answers_storage_full_and_loses_nothing(tmp_path: Path) -> None:
    with (
        running_nats(tmp_path) as server,
        running_hookcore(
            server, tmp_path, workers=0, env={"HOOKCORE_MAX_STREAM_BYTES": str(64 * 1024)}
        ) as hc,
    ):
        url = hc.deploy("full")["webhookUrls"]["Quick"]
        accepted = []
        for _ in range(500):
            response = hc.client.post(url, json={"pad": "x" * 1000})
            if response.status_code != 200:
                break
            accepted.append(response.json()["executionId"])
        else:
            raise AssertionError("500 requests of 1 KB accepted by a 64 KiB stream")
        assert response.status_code == 503, response.text
        assert response.headers["hookcore-error-code"] == "storage_full"
        assert int(response.headers["retry-after"]) >= 1
        assert response.json() == {"error": "Storage is full; nothing was stored. Retry the request later."}
        assert accepted
        counts = asyncio.run(_subject_counts(server.url, EXECUTIONS_SUBJECT_PREFIX))
        assert {execution_id_of(subject): n for subject, n in counts.items()} == {i: 1 for i in accepted}
