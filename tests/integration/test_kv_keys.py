"""`hookcore.jetstream.kv_keys`, the key listing behind machine counts and instance listings,
against a real nats-server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hookcore.config import Settings
from hookcore.jetstream import connect, kv_keys
from support import running_nats


def test_every_key_is_listed_while_others_rewrite_theirs(tmp_path: Path) -> None:
    """A key rewritten during a listing is still listed: nats-py's KeyValue.keys, a consumer,
    can end before such a key's new entry and leave it out (machines counted too few)."""

    async def scenario(url: str) -> None:
        jet = await connect(Settings.load(nats_url=url), name="kv-keys")
        kv = jet.nodes
        try:
            await kv.put("nodes.quiet", b"1")
            await kv.put("other.gone", b"1")
            await kv.delete("other.gone")
            stop = asyncio.Event()

            async def rewrite(key: str) -> None:
                while not stop.is_set():
                    await kv.put(key, b"beat")

            writers = [asyncio.create_task(rewrite(f"nodes.busy-{i}")) for i in range(3)]
            await asyncio.sleep(0.1)
            try:
                for _ in range(200):
                    listed = await kv_keys(kv)
                    assert set(listed) == {
                        "nodes.quiet",
                        "nodes.busy-0",
                        "nodes.busy-1",
                        "nodes.busy-2",
                        "other.gone",
                    }
                    assert len(listed) == len(set(listed))
                    assert sorted(await kv_keys(kv, "other.")) == ["other.gone"]  # deleted keys too
            finally:
                stop.set()
                await asyncio.gather(*writers)
            assert await kv_keys(kv, "none.") == []
        finally:
            await jet.close()

    with running_nats(tmp_path) as server:
        asyncio.run(scenario(server.url))
