from __future__ import annotations

import pytest

from hookcore.config import Settings
from hookcore.errors import ConfigError
from hookcore.logs import LogFormat, LogLevel


def test_precedence_explicit_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKCORE_MAX_BODY", "2048")
    monkeypatch.setenv("HOOKCORE_PUBLISH_TIMEOUT", "1.5")
    assert Settings.load().max_body == 2048
    assert Settings.load().publish_timeout == 1.5
    assert Settings.load(max_body=4096).max_body == 4096
    assert Settings.load().max_headers == 64


def test_env_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.load(
        nats_url="nats://127.0.0.1:1", max_body=123, ack_wait=2.5, admin_token="t", log_format="json"
    )
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert Settings.load() == settings


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_body", 0, "max_body must be between 1"),
        ("replicas", 2, "replicas must be 1, 3 or 5"),
        ("public_url", "example.com", "must start with http"),
        ("ack_wait", 0.1, "ack_wait must be between"),
        ("max_redeliveries", -1, "max_redeliveries must be between 0 and 1000"),
        ("running_record_after", -1, "running_record_after must be between 0 and 3600"),
        ("max_record_bytes", 1024, "max_record_bytes must be between 16384 and 67108864"),
        ("max_log_lines", 1, "max_log_lines must be between 2 and 1000000"),
        ("max_stream_bytes", 1024, "max_stream_bytes must be between 65536"),
        ("max_bucket_bytes", 0, "max_bucket_bytes must be between 65536"),
        ("max_object_bytes", -1, "max_object_bytes must be between 65536"),
        ("max_publish_buffer", 1024, "max_publish_buffer must be between 1048576"),
        ("duplicate_window", 0.5, "duplicate_window must be between 1"),
        ("log_format", "yaml", "log_format must be one of 'text', 'json', got 'yaml'"),
        ("log_level", "loud", "log_level must be one of 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'"),
    ],
)
def test_invalid_values_name_the_allowed_range(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.load(**{field: value})


def test_env_that_is_not_a_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKCORE_MAX_BODY", "ten")
    with pytest.raises(ConfigError, match="HOOKCORE_MAX_BODY must be a number"):
        Settings.load()


def test_public_url_trailing_slash_is_dropped() -> None:
    assert Settings.load(public_url="https://hooks.example.com/").public_url == "https://hooks.example.com"


def test_unknown_setting() -> None:
    with pytest.raises(ConfigError, match="unknown settings: bogus"):
        Settings.load(bogus=1)


def test_signing_key_falls_back_to_the_admin_token_and_is_required() -> None:
    assert Settings.load(admin_token="t").signing_key == b"t"
    assert Settings.load(admin_token="t", secret="s").signing_key == b"s"
    with pytest.raises(ConfigError, match="set HOOKCORE_SECRET"):
        Settings.load(admin_token="", secret="").require_signing_key()


def test_boolean_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKCORE_RATE_LIMITS", "off")
    assert Settings.load().rate_limits is False
    monkeypatch.setenv("HOOKCORE_RATE_LIMITS", "True")
    assert Settings.load().rate_limits is True
    monkeypatch.setenv("HOOKCORE_RATE_LIMITS", "maybe")
    with pytest.raises(ConfigError, match="HOOKCORE_RATE_LIMITS must be true or false"):
        Settings.load()


def test_the_duplicate_window_covers_the_publish_timeout() -> None:
    assert Settings.load(publish_timeout=30, duplicate_window=30).duplicate_window == 30
    with pytest.raises(
        ConfigError, match=r"duplicate_window \(15s\) must be at least publish_timeout \(30s\)"
    ):
        Settings.load(publish_timeout=30)


def test_log_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings().log_format, Settings().log_level) == (LogFormat.TEXT, LogLevel.INFO)
    monkeypatch.setenv("HOOKCORE_LOG_FORMAT", "json")
    monkeypatch.setenv("HOOKCORE_LOG_LEVEL", "warning")  # any case
    settings = Settings.load()
    assert (settings.log_format, settings.log_level) == (LogFormat.JSON, LogLevel.WARNING)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ("acme=2", r"customer_weights must be a JSON object, got 'acme=2': Expecting value"),
        ('{"acme": 2', r"customer_weights must be a JSON object, got '\{\"acme\": 2': Expecting"),
        ('[["acme", 2]]', r'customer_weights must be a JSON object like \{"acme": 2\}, got'),
        ("2", r'customer_weights must be a JSON object like \{"acme": 2\}, got \'2\''),
        ('{"acme": 0}', r"the weight of 'acme' must be a number from 0.01 to 100, got 0$"),
        ('{"acme": -1}', r"the weight of 'acme' must be a number from 0.01 to 100, got -1$"),
        ('{"acme": 101}', r"the weight of 'acme' must be a number from 0.01 to 100, got 101$"),
        ('{"acme": "2"}', r"the weight of 'acme' must be a number from 0.01 to 100, got '2'$"),
        ('{"acme": true}', r"the weight of 'acme' must be a number from 0.01 to 100, got True$"),
        ('{"acme": null}', r"the weight of 'acme' must be a number from 0.01 to 100, got None$"),
        ('{"ok": 1, "acme": [2]}', r"the weight of 'acme' must be a number from 0.01 to 100, got \[2\]$"),
    ],
)
def test_customer_weights_that_are_not_a_table_of_weights(
    monkeypatch: pytest.MonkeyPatch, weights: str, message: str
) -> None:
    # Read from the environment, as an operator sets it; refused when the settings load (at start).
    monkeypatch.setenv("HOOKCORE_CUSTOMER_WEIGHTS", weights)
    with pytest.raises(ConfigError, match=message):
        Settings.load()


def test_customer_weights_read() -> None:
    assert Settings.load().weights == {}
    assert Settings.load(customer_weights="  ").weights == {}
    settings = Settings.load(customer_weights='{"acme": 2, "globex": 0.5, "initech": 100, "umbrella": 0.01}')
    assert settings.weights == {"acme": 2.0, "globex": 0.5, "initech": 100.0, "umbrella": 0.01}
