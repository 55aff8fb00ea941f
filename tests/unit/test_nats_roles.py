"""`hookcore up`'s NATS credentials, and the roles deploy/ hands to nats-server."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hookcore.errors import ConfigError
from hookcore.nats_auth import NatsAuth
from hookcore.nats_roles import ROLES, RoleKeys, authorization

DEPLOY_USERS = Path(__file__).resolve().parents[2] / "deploy" / "nats-users.conf"


def test_role_keys_are_made_once_private_and_kept(tmp_path: Path) -> None:
    keys = RoleKeys(tmp_path / "nats").ensure()
    seeds = {role: keys.seed_path(role).read_bytes() for role in ROLES}
    for role in ROLES:
        path = keys.seed_path(role)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert seeds[role].startswith(b"SU")
    keys.seed_path("worker").unlink()  # a lost seed is made again; the others stay
    RoleKeys(tmp_path / "nats").ensure()
    assert keys.seed_path("ingress").read_bytes() == seeds["ingress"]
    assert keys.seed_path("worker").read_bytes() != seeds["worker"]
    block = keys.authorization()
    assert all(f"nkey: {keys.public_key(role)}" in block for role in ROLES)
    assert keys.auth("worker") == NatsAuth(nkey_seed=str(keys.seed_path("worker")))


def test_deploy_users_are_the_roles_hookcore_defines() -> None:
    """deploy/nats-users.conf is the same permissions, with passwords from the environment."""
    passwords = {role: f"user: {role}, password: $NATS_{role.upper()}_PASSWORD" for role in ROLES}
    assert DEPLOY_USERS.read_text().endswith(authorization(passwords))


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (dict(user="u", password="p", token="t"), "not user/password and token"),
        (dict(user="u"), "go together"),
        (dict(tls_cert="/etc/hostname"), "go together"),
        (dict(creds="/nonexistent/user.creds"), "no file at /nonexistent/user.creds"),
    ],
)
def test_credentials_that_do_not_fit_are_refused(auth: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        NatsAuth(**auth)  # type: ignore[arg-type]
