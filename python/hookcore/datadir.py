"""Who owns a data dir: one `hookcore up` at a time, on a port nobody else listens on.

`claim` runs first in `hookcore up`, before anything is started or written:
a second `up` on a data dir in use, or on a port in use, stops there with an
error and leaves the first one's files and processes alone. The data dir's
``lock`` file carries an exclusive ``flock`` for the owner's lifetime (the
kernel drops it when the owner exits, however it exits) and the owner's pid,
which the refusal names.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from pathlib import Path

from hookcore.errors import HookcoreError

LOCK_FILE = "lock"


class DataDirInUse(HookcoreError):
    """Another process holds the data dir's lock."""

    code = "data_dir_in_use"

    def __init__(self, data_dir: Path, owner: str) -> None:
        super().__init__(
            f"the data dir {data_dir} is in use by another hookcore up ({owner}; lock file "
            f"{data_dir / LOCK_FILE}); stop that one first, or pass another --data-dir"
        )
        self.data_dir = data_dir
        self.owner = owner


class PortInUse(HookcoreError):
    """Something already listens on the port `hookcore up` was asked to serve on."""

    code = "port_in_use"

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            f"port {port} on {host} is already in use: stop what listens there "
            "(another hookcore up?) or pass another --port"
        )
        self.host = host
        self.port = port


class DataDirLock:
    """The held lock of a data dir; `release` (or the process's exit) gives it up."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def claim(data_dir: Path, host: str, port: int) -> DataDirLock:
    """Lock ``data_dir`` for this process and check ``host:port`` is free.

    Nothing is created or written until both checks pass: `DataDirInUse` or
    `PortInUse` leave the data dir as they found it.
    """
    path = data_dir / LOCK_FILE
    fd = _lock_existing(data_dir, path)
    try:
        _check_port(host, port)
        if fd is None:
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            _lock(fd, data_dir)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise
    return DataDirLock(path, fd)


def _lock_existing(data_dir: Path, path: Path) -> int | None:
    """The locked descriptor of an existing lock file; None when there is none yet."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        _lock(fd, data_dir)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _lock(fd: int, data_dir: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise DataDirInUse(data_dir, _owner(fd)) from None


def _owner(fd: int) -> str:
    """The pid the owner wrote into the lock file, as the refusal shows it."""
    with contextlib.suppress(OSError, ValueError):
        return f"pid {int(os.pread(fd, 32, 0).decode().strip())}"
    return "pid unknown"


def _check_port(host: str, port: int) -> None:
    """`PortInUse` when a socket already listens on ``host:port`` (any of its addresses).

    The probe binds without ``SO_REUSEPORT``, so it fails against any listener,
    also one that set it (two servers sharing a port would split the requests).
    """
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise HookcoreError(f"cannot listen on {host}:{port}: the host does not resolve ({e})") from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
            try:
                probe.bind(address)
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise PortInUse(host, port) from None
                raise HookcoreError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
