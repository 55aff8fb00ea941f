"""`GET /api/openapi.json` describes `/api/*`, and the live server keeps to it (schemathesis)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from support import ADMIN_TOKEN, Hookcore

CONFIG = Path(__file__).with_name("schemathesis.toml")


def test_api_keeps_to_its_openapi_document(
    hookcore: Hookcore, instance: dict[str, Any], tmp_path: Path
) -> None:
    """schemathesis (its CLI: its pytest plugin does not run under pytest 9) sends generated
    requests, valid and deliberately invalid, to every operation of the live server's own
    document, with the admin token: no 5xx, and every answer matches the document (status,
    content type, headers, body schema: schemathesis' default checks)."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(CONFIG),
            "run",
            f"{hookcore.base}/api/openapi.json",
            "--header",
            f"Authorization: Bearer {ADMIN_TOKEN}",
            "--max-examples",
            "10",
            "--seed",
            "1",
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
            "--no-color",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # its cache (.schemathesis/) too
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_document_lists_every_api_route(hookcore: Hookcore) -> None:
    document = hookcore.admin.get("/api/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    operations = {(method.upper(), path) for path, methods in document["paths"].items() for method in methods}
    assert operations == {
        ("POST", "/api/instances"),
        ("GET", "/api/instances"),
        ("GET", "/api/instances/{instanceId}"),
        ("DELETE", "/api/instances/{instanceId}"),
        ("POST", "/api/instances/{instanceId}/api-keys"),
        ("DELETE", "/api/instances/{instanceId}/api-keys/{apiKey}"),
        ("GET", "/api/executions"),
        ("GET", "/api/executions/tail"),
        ("GET", "/api/executions/{executionId}"),
        ("POST", "/api/executions/{executionId}/replay"),
        ("GET", "/api/executions/{executionId}/result"),
        ("GET", "/api/openapi.json"),
    }
    shown = document["paths"]["/api/executions/{executionId}"]["get"]
    assert shown["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ExecutionView"
    }
    assert document["components"]["securitySchemes"]["adminToken"]["scheme"] == "bearer"


def test_document_needs_the_admin_token(hookcore: Hookcore) -> None:
    answer = httpx.get(f"{hookcore.base}/api/openapi.json", timeout=30)
    assert answer.status_code == 401
    assert answer.headers["hookcore-error-code"] == "admin_token_invalid"
