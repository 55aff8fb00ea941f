"""The split of rate limits across ingress machines, end to end (SPEC 3 "Limits hold ... across
machines"; docs/rate-limits.md "Many machines: the rate is split").

hookcore tells machines apart by their host name (`hookcore.nodes.machine_id`, no setting
overrides it) and each machine keeps its buckets in its own table in /dev/shm
(`hookcore.ingress.rate_table_file`, named after the user and the NATS URL only). So a second
*machine* on this host is a second `hookcore serve` in a UTS namespace of its own (another host
name) and a mount namespace of its own with a fresh tmpfs on /dev/shm (another rate table),
made with unshare(1): it shares only NATS (and the loopback network) with the first machine,
as a second computer would.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from hookcore.nodes import NODE_TTL
from support import Hookcore, Process, running_hookcore, running_nats

RATE, BURST = 1, 8  # limits_app:limited, flow "Bursty": 1/s, 8 at once
REQUESTS = 20  # sent at once to one machine: well over its burst
OTHER_HOST = "hookcore-test-machine-b"


def machines_live(n: int) -> str:
    """The line an ingress logs when the number of live machines it counts becomes ``n``."""
    return f"{n} ingress machine(s) live: each enforces 1/{n} of every rate limit"


def _namespaces() -> list[str]:
    """unshare(1) giving a process its own host name and mount namespace (as root; otherwise in a
    user namespace of its own, where this user is root)."""
    command = ["unshare", "--uts", "--mount", "--propagation", "private"]
    return command if os.geteuid() == 0 else [*command, "--map-root-user"]


# Inside the namespaces: another host name, a /dev/shm of its own, then the command.
ANOTHER_MACHINE = 'hostname "$0" && mount -t tmpfs -o mode=1777 tmpfs /dev/shm && exec "$@"'


def _can_make_another_machine() -> str | None:
    """Why this host cannot run a process as another machine (None: it can)."""
    try:
        probe = subprocess.run(
            [*_namespaces(), "sh", "-c", ANOTHER_MACHINE, OTHER_HOST, "hostname"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unshare(1) cannot run: {e}"
    if probe.returncode != 0 or probe.stdout.decode().strip() != OTHER_HOST:
        return f"unshare(1) cannot make UTS and mount namespaces here: {probe.stderr.decode().strip()}"
    return None


class OtherMachine(Hookcore):
    """An ingress (no workers) that hookcore sees as running on another machine: its own host
    name, so its own node id, and its own /dev/shm, so its own rate-limit table."""

    def start_ingress(self, wrapper: Sequence[str] = ()) -> None:
        super().start_ingress([*_namespaces(), "sh", "-c", ANOTHER_MACHINE, OTHER_HOST, *wrapper])

    def own_rate_table(self) -> Path:
        """This machine's rate-limit table, seen from here (in its mount namespace's /dev/shm)."""
        assert self.ingress is not None
        tables = list(Path(f"/proc/{self.ingress.popen.pid}/root/dev/shm").glob("hookcore-*.rates"))
        assert len(tables) == 1, tables
        return tables[0]

    def stop(self) -> None:
        """Stop the ingress; its table was in its own tmpfs, gone with its mount namespace (the
        table at `self.rate_table`, on this host's /dev/shm, is the first machine's: kept)."""
        try:
            if self.ingress is not None:
                self.ingress.stop()
        finally:
            self.client.close()
            self.admin.close()


async def _at_once(url: str, total: int) -> tuple[list[httpx.Response], float]:
    """``total`` POSTs at once over connections opened first (HEAD takes no token), and the
    seconds from the first POST sent to the last answer."""
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=total)) as client:
        await asyncio.gather(*(client.head(url) for _ in range(total)))
        start = time.monotonic()
        answers = await asyncio.gather(*(client.post(url) for _ in range(total)))
        return answers, time.monotonic() - start


def _burst_on(machines: list[Hookcore], path: str) -> list[tuple[list[httpx.Response], float]]:
    """`REQUESTS` requests at once to ``path`` on each machine, all machines at the same time."""

    async def all_of_them() -> list[tuple[list[httpx.Response], float]]:
        return list(await asyncio.gather(*(_at_once(m.base + path, REQUESTS) for m in machines)))

    return asyncio.run(all_of_them())


def _check_share(answers: list[httpx.Response], elapsed: float, path: str, machines: int) -> int:
    """What one machine answered a burst when ``machines`` machines split the limit: its share of
    the burst at once (exact) plus what its share of the rate refilled meanwhile; every answer
    says its bucket's size, and a refusal the configured limit. The number accepted."""
    rate, burst = RATE / machines, max(1, BURST // machines)
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 429}, [a.text for a in answers if a.status_code not in (200, 429)]
    accepted = statuses.count(200)
    assert burst <= accepted <= burst + math.floor(rate * elapsed), (accepted, elapsed, machines)
    endpoint_id = path.rsplit("/", 1)[1]
    for answer in answers:
        assert answer.headers["ratelimit-limit"] == str(burst), (answer.headers, machines)
        assert 0 <= int(answer.headers["ratelimit-remaining"]) < burst
        if answer.status_code == 429:
            assert answer.json() == {
                "error": f"Endpoint with id: {endpoint_id} has exceeded maximum allowed throughput of "
                f"{RATE} requests/second. Please throttle your requests."
            }
            assert int(answer.headers["retry-after"]) >= 1
    return accepted


def _wait_log(process: Process | None, line: str, times: int = 1, timeout: float = 60) -> float:
    """Wait until ``line`` is in ``process``'s log ``times`` times; the seconds it took."""
    assert process is not None
    start = deadline = time.monotonic()
    deadline += timeout
    while process.log().count(line) < times:
        assert process.popen.poll() is None, f"{process.name} exited:\n{process.log()}"
        assert time.monotonic() < deadline, f"{process.name}: {line!r} not logged {times}x:\n{process.log()}"
        time.sleep(0.05)
    return time.monotonic() - start


def _fresh_endpoint(first: Hookcore, machines: list[Hookcore], customer: str) -> str:
    """A new instance's "Bursty" URL path (a full bucket), routed by every machine."""
    url = first.deploy(customer, integration="limited")["webhookUrls"]["Bursty"]
    path = url.removeprefix(first.base)
    for machine in machines:
        machine.wait_for_routes([machine.base + path], client=machine.client)
    return path


@pytest.mark.may_skip  # needs UTS and mount namespaces (CI runs as root)
def test_each_machine_enforces_its_share_of_the_limit(tmp_path: Path) -> None:
    if (why := _can_make_another_machine()) is not None:
        pytest.skip(why)
    with running_nats(tmp_path) as server, running_hookcore(server, tmp_path, workers=0) as first:
        try:
            # One machine: it counts itself alone and enforces the whole limit.
            _wait_log(first.ingress, machines_live(1))
            path = _fresh_endpoint(first, [first], "split-alone")
            [(answers, elapsed)] = _burst_on([first], path)
            assert _check_share(answers, elapsed, path, machines=1) >= BURST

            # A second machine joins: each counts two (within a heartbeat) and enforces half.
            second = OtherMachine(server, tmp_path, env=None)
            try:
                second.start_ingress()
                _wait_log(second.ingress, machines_live(2))
                _wait_log(first.ingress, machines_live(2))
                # Really another machine: its own rate-limit table, not the first machine's.
                theirs, ours = os.stat(second.own_rate_table()), os.stat(first.rate_table)
                assert (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino)
                path = _fresh_endpoint(first, [first, second], "split-two")
                (answers_1, elapsed_1), (answers_2, elapsed_2) = _burst_on([first, second], path)
                accepted = [
                    _check_share(answers_1, elapsed_1, path, machines=2),
                    _check_share(answers_2, elapsed_2, path, machines=2),
                ]
                # together the two machines let through the whole burst (and what the whole
                # rate refilled), not twice it
                longest = max(elapsed_1, elapsed_2)
                assert BURST <= sum(accepted) <= BURST + 2 * math.floor(RATE / 2 * longest), accepted
                # ... and neither changed its count meanwhile (no machine dropped out and came back)
                assert first.ingress is not None and second.ingress is not None
                assert first.ingress.log().count(machines_live(1)) == 1, first.ingress.log()
                assert first.ingress.log().count(machines_live(2)) == 1, first.ingress.log()
            except BaseException:
                print(second.logs())
                raise
            finally:
                second.stop()

            # The second machine stops: once its last heartbeat is NODE_TTL older than the
            # first's newest, the first counts itself alone again and enforces the whole limit.
            took = _wait_log(first.ingress, machines_live(1), times=2, timeout=NODE_TTL + 60)
            print(f"the first machine counted itself alone again {took:.1f} s after the second stopped")
            path = _fresh_endpoint(first, [first], "split-alone-again")
            [(answers, elapsed)] = _burst_on([first], path)
            assert _check_share(answers, elapsed, path, machines=1) >= BURST
        except BaseException:
            print(first.logs())
            raise
