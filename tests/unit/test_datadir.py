"""`hookcore.datadir.claim`: one owner per data dir, a free port, nothing written on refusal."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from hookcore.datadir import DataDirInUse, PortInUse, claim
from support import free_port


def test_a_claimed_data_dir_is_refused_until_released(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    held = claim(data_dir, "127.0.0.1", free_port())
    assert (data_dir / "lock").read_text() == f"{os.getpid()}\n"
    with pytest.raises(DataDirInUse, match=f"pid {os.getpid()}"):
        claim(data_dir, "127.0.0.1", free_port())
    held.release()
    claim(data_dir, "127.0.0.1", free_port()).release()  # a lock file left behind is no owner


def test_a_port_in_use_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} on 127.0.0.1 is already in use"):
            claim(tmp_path / "data", "127.0.0.1", port)
    assert not (tmp_path / "data").exists()
