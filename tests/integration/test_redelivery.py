"""At-least-once delivery with idempotent results (SPEC 6): a worker killed mid-execution
causes a redelivery, and the execution still ends with one final record and its result."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import nats

from hookcore.records import record_subject
from support import running_hookcore, running_nats


def test_a_killed_workers_execution_is_redelivered_and_recorded_once(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    with running_nats(tmp_path) as server, running_hookcore(server, tmp_path) as hc:
        # The flow holds until the gate opens (after the kill): the kill always lands mid-execution.
        url = hc.deploy("redelivered")["webhookUrls"]["Gated"] + f"?gate={gate}"

        async def run() -> tuple[str, list[dict]]:
            nc = await nats.connect(server.url)
            writes: list[dict] = []  # every write of execution records, as JetStream receives them

            async def on_write(msg: nats.aio.msg.Msg) -> None:
                writes.append(json.loads(msg.data))

            await nc.subscribe(record_subject(">"), cb=on_write)
            await nc.flush()
            execution_id = (await asyncio.to_thread(hc.client.post, url)).json()["executionId"]
            # The fault while work is in flight: the flow has started (its marker) and its
            # `running` record reached JetStream (the write goes out beside the flow) when the
            # worker dies, so the redelivery knows it is the second attempt.
            deadline = time.monotonic() + 60
            while not (gate / f"{execution_id}.started").exists() or not any(
                w["id"] == execution_id and w["status"] == "running" for w in writes
            ):
                assert time.monotonic() < deadline, "the flow never started"
                await asyncio.sleep(0.01)
            victim = hc.workers[0]
            victim.kill()
            assert victim.popen.returncode == -9
            (gate / "open").touch()
            await asyncio.to_thread(hc.start_worker)
            record = await asyncio.to_thread(hc.wait_final, execution_id, 60)
            await asyncio.sleep(0.5)  # any late duplicate write would arrive by now
            await nc.close()
            assert record["status"] == "succeeded", record
            return execution_id, [w for w in writes if w["id"] == execution_id]

        execution_id, writes = asyncio.run(run())
        assert (gate / f"{execution_id}.started").read_text().count("run") == 2  # ran, killed, ran again
        final = [w for w in writes if w["status"] in ("succeeded", "failed", "dead")]
        assert len(final) == 1, [w["status"] for w in writes]
        assert final[0]["attempts"] == 2
        assert hc.execution(execution_id)["attempts"] == 2
        assert hc.result(execution_id).json() == {"gated": True}
