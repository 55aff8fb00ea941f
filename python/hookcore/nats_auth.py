"""How a process proves who it is to NATS: credentials and TLS, for nats-py and the publisher.

nats-py is handed these as its ``connect`` options; the publisher, which
speaks the protocol itself, puts them in its ``CONNECT`` (signing the
server's nonce for an nkey or a ``.creds`` JWT) and upgrades its socket to
TLS itself.
"""

from __future__ import annotations

import base64
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nkeys  # type: ignore[import-untyped]

from hookcore.errors import ConfigError

# A .creds file: the user JWT, then the user's nkey seed, each between dashed
# BEGIN/END lines (what `nsc` writes and every NATS client reads).
_CREDS_BLOCK = re.compile(r"^\s*-{3,}[^\n]*-{3,}\s*\n\s*([\w.=-]+)\s*\n\s*-{3,}[^\n]*-{3,}", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class NatsAuth:
    """One process's NATS credentials (at most one kind) and TLS files; empty means none."""

    user: str = ""
    password: str = ""
    token: str = ""
    nkey_seed: str = ""
    """Path of a file holding an nkey seed (``SU…``)."""
    creds: str = ""
    """Path of a ``.creds`` file: a user JWT and its nkey seed."""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    tls_first: bool = False
    """TLS from the first byte (nats-server's ``tls { handshake_first: true }``)."""

    def __post_init__(self) -> None:
        kinds = [
            name
            for name, given in (
                ("user/password", self.user or self.password),
                ("token", self.token),
                ("nkey seed", self.nkey_seed),
                (".creds file", self.creds),
            )
            if given
        ]
        if len(kinds) > 1:
            raise ConfigError(f"give one kind of NATS credentials, not {' and '.join(kinds)}")
        if bool(self.user) != bool(self.password):
            raise ConfigError("HOOKCORE_NATS_USER and HOOKCORE_NATS_PASSWORD go together")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("HOOKCORE_NATS_TLS_CERT and HOOKCORE_NATS_TLS_KEY go together")
        for name in ("nkey_seed", "creds", "tls_ca", "tls_cert", "tls_key"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ConfigError(f"HOOKCORE_NATS_{name.upper()}: no file at {path}")

    @property
    def wants_tls(self) -> bool:
        """Whether TLS was asked for (a CA, a client certificate or TLS first)."""
        return bool(self.tls_ca or self.tls_cert or self.tls_first)

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the server against ``tls_ca`` (else the system's CAs); presents the client
        certificate when there is one."""
        context = ssl.create_default_context(cafile=self.tls_ca or None)
        if self.tls_cert:
            context.load_cert_chain(self.tls_cert, self.tls_key)
        return context

    def nats_py_options(self) -> dict[str, Any]:
        """nats-py's ``connect`` keyword arguments for these credentials and TLS."""
        options: dict[str, Any] = {}
        if self.user:
            options.update(user=self.user, password=self.password)
        elif self.token:
            options["token"] = self.token
        elif self.nkey_seed:
            options["nkeys_seed"] = self.nkey_seed
        elif self.creds:
            options["user_credentials"] = self.creds
        if self.wants_tls:
            options.update(tls=self.ssl_context(), tls_handshake_first=self.tls_first)
        return options

    def connect_fields(self, nonce: str | None) -> dict[str, str]:
        """The ``CONNECT`` fields proving who we are; nkeys and JWTs sign the INFO's ``nonce``."""
        if self.user:
            return {"user": self.user, "pass": self.password}
        if self.token:
            return {"auth_token": self.token}
        if self.nkey_seed:
            seed = Path(self.nkey_seed).read_bytes().strip()
            key = nkeys.from_seed(bytearray(seed))
            return {"nkey": key.public_key.decode(), "sig": _sign(key, nonce)}
        if self.creds:
            jwt, user_seed = _read_creds(Path(self.creds))
            return {"jwt": jwt, "sig": _sign(nkeys.from_seed(bytearray(user_seed.encode())), nonce)}
        return {}


def _sign(key: Any, nonce: str | None) -> str:
    if not nonce:
        raise ConfigError("NATS sent no nonce to sign: the server is not set up for nkeys or JWTs")
    return base64.urlsafe_b64encode(key.sign(nonce.encode())).rstrip(b"=").decode()


def _read_creds(path: Path) -> tuple[str, str]:
    """The user JWT and nkey seed of a ``.creds`` file."""
    blocks = _CREDS_BLOCK.findall(path.read_text())
    if len(blocks) < 2:
        raise ConfigError(f"{path} is not a NATS .creds file (a user JWT and an nkey seed)")
    return blocks[0], blocks[1]
