"""The CLI's HTTP client of a running hookcore's ``/api`` (never NATS).

Where to connect comes, for the URL and the token each, from the flag
(``--url``, ``--token``), else the environment (``HOOKCORE_URL``,
``HOOKCORE_ADMIN_TOKEN``), else the control file of the `hookcore up` running
on ``--data-dir`` (`hookcore.control`). Every error says what was tried.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse

from hookcore.control import control_path, read_control
from hookcore.errors import ApiError, ControlFileError, HookcoreError, Unreachable

URL_ENV = "HOOKCORE_URL"
TOKEN_ENV = "HOOKCORE_ADMIN_TOKEN"
CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection: a CLI with no server to reach gives up well within 10 s."""
READ_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Target:
    """Which hookcore the CLI talks to, and where it learned each part."""

    url: str
    token: str
    url_from: str
    token_from: str

    def describe(self) -> str:
        return f"URL from {self.url_from}; token from {self.token_from}"


def resolve(url: str | None, token: str | None, data_dir: str, env: dict[str, str]) -> Target:
    """The target from the flags, then the environment, then ``data_dir``'s control file."""
    given_url = _given(url, "--url", env, URL_ENV)
    given_token = _given(token, "--token", env, TOKEN_ENV)
    if given_url and given_token:
        return Target(given_url[0].rstrip("/"), given_token[0], given_url[1], given_token[1])
    try:
        control = read_control(Path(data_dir))
    except ControlFileError as e:
        missing = " and ".join(
            name
            for name, given in (
                ("--url/$HOOKCORE_URL", given_url),
                ("--token/$HOOKCORE_ADMIN_TOKEN", given_token),
            )
            if not given
        )
        raise Unreachable(f"no hookcore to talk to: {missing} not given, and {e}") from None
    where = str(control_path(Path(data_dir)))
    url_value, url_from = given_url or (control.url, where)
    token_value, token_from = given_token or (control.admin_token, where)
    return Target(url_value.rstrip("/"), token_value, url_from, token_from)


def _given(flag_value: str | None, flag: str, env: dict[str, str], env_name: str) -> tuple[str, str] | None:
    """A value from its flag or else its environment variable, with where it came from."""
    if flag_value:
        return flag_value, flag
    if env.get(env_name):
        return env[env_name], f"${env_name}"
    return None


class Api:
    """Synchronous calls to ``/api``: JSON answers, or `ApiError` / `Unreachable`."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._http = httpx.Client(
            base_url=target.url,
            headers={"authorization": f"Bearer {target.token}"},
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
        )

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: dict[str, str | None] | None = None) -> Any:
        return self._json(self.call("GET", path, params=params))

    def post(self, path: str, body: Any) -> Any:
        return self._json(self.call("POST", path, json=body))

    def delete(self, path: str) -> None:
        self.call("DELETE", path)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; an error answer raises `ApiError`, no answer `Unreachable`."""
        if kwargs.get("params"):
            kwargs["params"] = {k: v for k, v in kwargs["params"].items() if v is not None}
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as e:
            raise self._unreachable(e) from None
        self._check(response)
        return response

    def events(self, path: str, params: dict[str, str | None], on_open: Callable[[], None]) -> Iterator[Any]:
        """Each event of a server-sent-events route, decoded from JSON; ends when the server does.
        ``on_open`` runs once the server answered (it follows from then on)."""
        query = {k: v for k, v in params.items() if v is not None}
        try:
            with connect_sse(
                self._http, "GET", path, params=query, timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT)
            ) as source:
                if source.response.status_code >= 400:
                    source.response.read()
                    self._check(source.response)
                on_open()
                for event in source.iter_sse():
                    yield json.loads(event.data)
        except httpx.TransportError as e:
            raise self._unreachable(e) from None
        except SSEError as e:
            raise HookcoreError(f"{self.target.url}{path} did not answer with events: {e}") from None

    def _unreachable(self, error: httpx.TransportError) -> Unreachable:
        reason = str(error) or type(error).__name__
        return Unreachable(f"cannot reach hookcore at {self.target.url} ({self.target.describe()}): {reason}")

    def _check(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        try:
            message = str(response.json()["error"])
        except (ValueError, KeyError, TypeError):
            message = f"{response.status_code} {response.reason_phrase} from {response.url}"
        code = response.headers.get("hookcore-error-code", str(response.status_code))
        if response.status_code == 401:
            message += f" [{self.target.describe()}]"
        raise ApiError(message, code, response.status_code)

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        return response.json() if response.content else None
