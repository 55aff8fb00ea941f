from __future__ import annotations

import pytest

from hookcore import HttpResponse, Integration, body, header
from hookcore.apps import load_app
from hookcore.errors import AppLoadError, ConfigError


def test_flows_register_and_keep_the_function() -> None:
    app = Integration("acme-erp")

    @app.flow("Order created", attempts=5)
    async def order_created(ctx: object, payload: object) -> None: ...

    @app.flow("Sync")
    def sync(ctx: object, payload: object) -> None: ...

    assert app.flows["Order created"].fn is order_created
    assert app.flows["Order created"].is_async
    assert app.flows["Order created"].attempts == 5
    assert not app.flows["Sync"].is_async


def test_duplicate_flow_names_are_refused() -> None:
    app = Integration("a")
    app.flow("x")(lambda ctx, payload: None)
    with pytest.raises(ConfigError, match="already has a flow named 'x'"):
        app.flow("x")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "has space"}, "without dots or spaces"),
        ({"name": "a", "endpoint": "global"}, "endpoint must be one of"),
        ({"name": "a", "rate_limit": 0}, "rate_limit must be > 0"),
    ],
)
def test_invalid_integrations(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Integration(**kwargs)


def test_routing_rules() -> None:
    assert header("X-Acme-Account").selector == "x-acme-account"
    assert body("/event/type", {"order.created": "Order created"}).mapping == {
        "order.created": "Order created"
    }
    with pytest.raises(ConfigError, match="JSON pointer"):
        body("event/type")


def test_http_response_status_is_checked() -> None:
    assert HttpResponse(200, "text/plain", "ok").status_code == 200
    with pytest.raises(ConfigError, match="100-599"):
        HttpResponse(700, "text/plain", "")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nocolon", "MODULE:ATTR"),
        ("no_such_module_xyz:app", "cannot import module"),
        ("hookcore:nothing", "has no attribute"),
        ("hookcore:__version__", "expected a hookcore.Integration"),
    ],
)
def test_load_app_errors(spec: str, message: str) -> None:
    with pytest.raises(AppLoadError, match=message):
        load_app(spec)


def test_bundled_example_loads() -> None:
    app = load_app("hookcore.examples.quickstart:app")
    assert set(app.flows) == {"Echo", "Order created"}


def test_a_routing_map_naming_no_flow_is_refused_at_load() -> None:
    app = Integration("maps", endpoint="instance", flow_from=body("/t", {"a": "A", "b": "Bee"}))
    app.flow("A")(lambda ctx, payload: None)
    with pytest.raises(ConfigError, match=r"\('b' -> 'Bee'\); its flows are 'A'"):
        app.check_routing()
    app.flow("Bee")(lambda ctx, payload: None)
    app.check_routing()
