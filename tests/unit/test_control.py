"""The control file `hookcore up` leaves in its data dir for the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hookcore.control import read_control, remove_control, write_control
from hookcore.errors import ControlFileError


def test_the_control_file_round_trip(tmp_path: Path) -> None:
    path = write_control(tmp_path, "http://127.0.0.1:8080", "tok")
    assert path.stat().st_mode & 0o777 == 0o600
    control = read_control(tmp_path)
    assert (control.url, control.admin_token, control.pid) == ("http://127.0.0.1:8080", "tok", os.getpid())
    remove_control(tmp_path)
    assert not path.exists()
    with pytest.raises(ControlFileError, match=r"control\.json \(`hookcore up --data-dir"):
        read_control(tmp_path)


def test_a_control_file_of_a_gone_up_is_stale(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    pid = int(gone.stdout)
    (tmp_path / "control.json").write_text(f'{{"url":"http://x","adminToken":"t","pid":{pid}}}')
    with pytest.raises(ControlFileError, match=rf"\(pid {pid}\) that is no longer running"):
        read_control(tmp_path)
    remove_control(tmp_path)  # not this process's: left alone
    assert (tmp_path / "control.json").exists()
