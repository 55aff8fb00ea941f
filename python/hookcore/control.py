"""The control file: how the CLI finds the `hookcore up` running on a data dir.

`hookcore up` writes ``<data-dir>/control.json`` (mode 0600) once its ingress
answers: the URL of its ``/api``, its admin token and its own pid. It removes
the file when it stops cleanly; one left behind by a killed ``up`` names a pid
that no longer runs, and the CLI says so instead of trying a dead URL.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import msgspec

from hookcore.errors import ControlFileError

CONTROL_FILE = "control.json"


class ControlFile(msgspec.Struct, rename="camel", frozen=True):
    """What `hookcore up` leaves in its data dir for the CLI."""

    url: str
    """Base URL of the running ingress (``/api`` lives under it)."""
    admin_token: str
    pid: int
    """The `hookcore up` process that wrote the file."""


def control_path(data_dir: Path) -> Path:
    return Path(data_dir) / CONTROL_FILE


def write_control(data_dir: Path, url: str, admin_token: str) -> Path:
    """Write the control file of this process (readable by its owner only); returns its path."""
    path = control_path(data_dir)
    partial = path.with_suffix(".tmp")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(msgspec.json.encode(ControlFile(url=url, admin_token=admin_token, pid=os.getpid())))
    partial.replace(path)  # readers never see half a file
    return path


def remove_control(data_dir: Path) -> None:
    """Remove the control file if this process wrote it (a newer `up` may have replaced it)."""
    path = control_path(data_dir)
    with contextlib.suppress(OSError, msgspec.DecodeError):
        if msgspec.json.decode(path.read_bytes(), type=ControlFile).pid == os.getpid():
            path.unlink()


def read_control(data_dir: Path) -> ControlFile:
    """The control file of the `up` running on ``data_dir``; `ControlFileError` says why not."""
    path = control_path(data_dir)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ControlFileError(
            f"no {path} (`hookcore up --data-dir {data_dir}` writes it while it runs)"
        ) from None
    except OSError as e:
        raise ControlFileError(f"cannot read {path}: {e.strerror}") from None
    try:
        control = msgspec.json.decode(data, type=ControlFile)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise ControlFileError(f"{path} is not a hookcore control file: {e}") from None
    if not _running(control.pid):
        raise ControlFileError(
            f"{path} was left by a `hookcore up` (pid {control.pid}) that is no longer running; "
            f"start it again with `hookcore up --data-dir {data_dir}`"
        )
    return control


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it runs
        return True
    return True
