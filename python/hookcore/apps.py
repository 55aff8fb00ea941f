"""Loading integrations named on the command line as ``MODULE:ATTR``."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Mapping

from hookcore.errors import AppLoadError
from hookcore.integration import Flow, Integration

DEFAULT_APP = "hookcore.examples.quickstart:app"
APPS_ENV = "HOOKCORE_APPS"


class Apps(Mapping[str, Integration]):
    """The integrations one process serves, by name."""

    def __init__(self, integrations: Iterable[Integration]) -> None:
        self._by_name: dict[str, Integration] = {}
        for integration in integrations:
            if integration.name in self._by_name:
                raise AppLoadError(f"two --app values define integration {integration.name!r}")
            self._by_name[integration.name] = integration

    def __getitem__(self, name: str) -> Integration:
        return self._by_name[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def flow(self, integration: str, flow: str) -> Flow | None:
        app = self._by_name.get(integration)
        return app.flows.get(flow) if app else None


def load_app(spec: str) -> Integration:
    """Import ``module:attr`` (the current directory is importable) and check it is an Integration."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise AppLoadError(f"--app must look like MODULE:ATTR (e.g. myflows:app), got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise AppLoadError(f"cannot import module {module_name!r} for --app {spec}: {e}") from e
    try:
        app = getattr(module, attr)
    except AttributeError:
        raise AppLoadError(f"module {module_name!r} has no attribute {attr!r} (--app {spec})") from None
    if not isinstance(app, Integration):
        raise AppLoadError(f"--app {spec} is a {type(app).__name__}, expected a hookcore.Integration")
    app.check_routing()
    return app


def load_apps(specs: Iterable[str]) -> Apps:
    return Apps(load_app(spec) for spec in specs)


def specs_from_env() -> list[str]:
    """The ``--app`` values a parent process handed down in ``HOOKCORE_APPS``."""
    return [s for s in os.environ.get(APPS_ENV, "").split(",") if s]
