"""``HOOKCORE_TRACING``'s settings: what is refused at start, and why (hookcore.tracing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hookcore.config import Settings
from hookcore.errors import ConfigError
from hookcore.tracing import TracingMode


def test_tracing_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKCORE_TRACING", raising=False)
    assert Settings.load().tracing is TracingMode.OFF
    monkeypatch.setenv("HOOKCORE_TRACING", "OTLP")  # any case
    assert Settings.load().tracing is TracingMode.OTLP


def test_an_unknown_mode_names_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match="tracing must be one of 'off', 'otlp', got 'jaeger'"):
        Settings(tracing="jaeger")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER must be one of otlp, console, none"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTLP over http/protobuf, not 'grpc'"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", "OTLP over http/protobuf, not 'http/json'"),
    ],
)
def test_an_exporter_hookcore_does_not_have_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        Settings(tracing=TracingMode.OTLP)
    assert Settings().tracing is TracingMode.OFF  # off: the OTEL_* environment is not looked at


def test_tracing_without_the_extra_is_a_config_error_naming_it(tmp_path: Path) -> None:
    """A Python without OpenTelemetry (the extra not installed) refuses HOOKCORE_TRACING=otlp,
    and runs as before with tracing off."""
    # The child process finds no OpenTelemetry, as if the extra were not installed.
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'opentelemetry' or name.startswith('opentelemetry.'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n"
    )
    code = (
        "import sys, hookcore.ingress, hookcore.worker; from hookcore.config import Settings; "
        "print(Settings.load().tracing, any(m.startswith('opentelemetry') for m in sys.modules))"
    )
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    off = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert (off.returncode, off.stdout) == (0, "off False\n"), off.stderr  # nothing imported it
    on = subprocess.run(
        [sys.executable, "-c", code], env={**env, "HOOKCORE_TRACING": "otlp"}, capture_output=True, text=True
    )
    assert on.returncode == 1
    assert "ConfigError: HOOKCORE_TRACING=otlp needs OpenTelemetry" in on.stderr
    assert "pip install 'hookcore[otel]'" in on.stderr
