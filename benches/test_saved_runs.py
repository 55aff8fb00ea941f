"""The tooling over saved runs: ratios from the update_json hook, compare's verdict, the report.

Plain tests (no benchmark fixture): `make test` runs them, `make bench`
(``--benchmark-only``) skips them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benches import compare, report
from benches.conftest import pytest_benchmark_update_json
from benches.load.figures import LoadRun, Row


def _run(rust_min: float, bare_rps: float) -> dict[str, Any]:
    def micro(name: str, minimum: float, subject: bool) -> dict[str, Any]:
        return {
            "group": "json validation 1KB",
            "name": name,
            "fullname": f"benches/test_parsers.py::{name}",
            "stats": {"min": minimum, "median": minimum * 2, "rounds": 100},
            "extra_info": {"subject": True} if subject else {},
        }

    load = LoadRun(
        "req/s",
        "hookcore",
        "bare",
        {"warmup": 1, "duration": 2, "connections": 4, "rounds": 2, "e2e_duration": 1, "customers": 50},
        spec_ratio=0.8,
    )
    for rps in (bare_rps, bare_rps * 0.9):
        load.add(Row("bare", rps, 1.0, 2.0))
    load.add(Row("hookcore", 8000.0, 2.0, 9.0))
    output = {
        "datetime": "2026-11-29T20:00:00+00:00",
        "machine_info": {
            "node": "vm",
            "cpu_count": 2,
            "pinning": "taskset",
            "server_cpu": "0",
            "load_and_nats_cpu": "1",
            "command": "pytest benches",
            "versions": {"wrk": "4.1"},
        },
        "commit_info": {"id": "0123456789abcdef", "dirty": False, "branch": "main"},
        "benchmarks": [
            micro("test_json_validation_rust", rust_min, True),
            micro("test_json_validation_json_loads", 10e-6, False),
            {
                "group": "load: durable ingest",
                "name": "test_durable_ingest",
                "fullname": "benches/test_load.py::test_durable_ingest",
                "stats": {"min": 60.0, "median": 60.0},
                "extra_info": load.extra_info(),
            },
        ],
    }
    pytest_benchmark_update_json(None, None, output)  # type: ignore[arg-type]
    return output


def _save(tmp_path: Path, name: str, run: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(run))
    return path


def test_ratios_are_saved_for_micro_subjects_and_load_runs() -> None:
    run = _run(rust_min=1e-6, bare_rps=10000.0)
    rust, loads, durable = run["benchmarks"]
    assert rust["extra_info"]["ratios"] == {
        "test_json_validation_json_loads / test_json_validation_rust": pytest.approx(10.0)
    }
    assert "ratios" not in loads["extra_info"]
    assert durable["extra_info"]["ratios"] == {"hookcore / bare": 0.8}
    assert durable["extra_info"]["rows"][0]["rounds"] == [10000.0, 9000.0]


def test_compare_passes_when_no_ratio_fell_past_the_threshold(tmp_path: Path, capsys: Any) -> None:
    base = _save(tmp_path, "base.json", _run(rust_min=1e-6, bare_rps=10000.0))
    new = _save(tmp_path, "new.json", _run(rust_min=1.05e-6, bare_rps=10500.0))
    assert compare.compare(base, new, threshold=0.10) == 0
    assert "-4.8%" in capsys.readouterr().out


def test_compare_fails_when_a_ratio_fell_past_the_threshold(tmp_path: Path, capsys: Any) -> None:
    base = _save(tmp_path, "base.json", _run(rust_min=1e-6, bare_rps=10000.0))
    new = _save(tmp_path, "new.json", _run(rust_min=1e-6, bare_rps=12000.0))
    assert compare.compare(base, new, threshold=0.10) == 1
    out = capsys.readouterr().out
    assert "hookcore / bare" in out and "WORSE" in out


def test_report_has_a_table_per_group_with_command_and_commit(tmp_path: Path) -> None:
    text = report.render(_run(rust_min=1e-6, bare_rps=10000.0), tmp_path / "0001_x.json")
    assert "### load: durable ingest" in text and "### json validation 1KB" in text
    assert "| hookcore | 8,000 | 2.00 | 9.00 | 0 | 0.80 | 8,000 |" in text
    assert "| test_json_validation_json_loads | 20 µs | 10 µs | 100 | 10.00x |" in text
    assert "--load-duration=2" in text and "`0123456789ab`" in text
    assert "subject / baseline at least 0.8 (met: 0.80)" in text
