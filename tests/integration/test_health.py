"""Health routes and /metrics (SPEC 5), and header limits (SPEC 3), against a real server."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from hookcore.errors import ErrorCode
from support import Hookcore


def _metrics(hc: Hookcore) -> dict[str, int]:
    response = hc.client.get("/metrics")  # no admin token needed
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    values = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            values[sample.name + (f"{{{labels}}}" if labels else "")] = int(sample.value)
    return values


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after.keys() | before.keys() if k in after}


def test_healthz_and_readyz(hookcore: Hookcore) -> None:
    health = hookcore.client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert health.headers["content-type"] == "application/json"
    ready = hookcore.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "endpoints": _metrics(hookcore)["hookcore_routes"]}


def test_metrics_count_exactly_what_was_sent(hookcore: Hookcore, instance: dict) -> None:
    urls = instance["webhookUrls"]
    scarce = hookcore.deploy("metrics-scarce")["webhookUrls"]["Scarce"]  # burst 1, then 429
    before = _metrics(hookcore)
    json = {"content-type": "application/json"}
    sent = [
        hookcore.client.post(urls["Quick"]),
        hookcore.client.post(urls["Quick"], content=b"{}", headers=json),
        hookcore.client.get(urls["Quick"]),
        hookcore.client.post(urls["Quick"], content=b"{nope", headers=json),
        hookcore.client.post(hookcore.base + "/trigger/no-such-endpoint"),
        hookcore.client.get(hookcore.base + "/trigger/no-such-endpoint"),
        hookcore.client.request("OPTIONS", urls["Quick"]),
        hookcore.client.post(scarce),
        hookcore.client.post(scarce),
    ]
    assert [r.status_code for r in sent] == [200, 200, 200, 400, 404, 404, 405, 200, 429]
    after = _metrics(hookcore)
    moved = {k: v for k, v in _delta(before, after).items() if v and "trigger_responses" in k}
    assert moved == {
        'hookcore_trigger_responses_total{status="200"}': 4,
        'hookcore_trigger_responses_total{status="400"}': 1,
        'hookcore_trigger_responses_total{status="404"}': 2,
        'hookcore_trigger_responses_total{status="405"}': 1,
        'hookcore_trigger_responses_total{status="429"}': 1,
    }
    assert after["hookcore_publish_failures_total"] == 0


def test_routes_gauge_follows_deploys(hookcore: Hookcore) -> None:
    before = _metrics(hookcore)["hookcore_routes"]
    deployed = hookcore.deploy("metrics-routes")  # waits until its URLs route
    urls = deployed["webhookUrls"]
    assert _metrics(hookcore)["hookcore_routes"] == before + len(set(urls.values()))
    assert hookcore.admin.delete(f"/api/instances/{deployed['id']}").status_code == 204
    # the gauge drops back once the removal is in (a KV watch: well under the 60 s allowed)
    deadline = time.monotonic() + 60
    while _metrics(hookcore)["hookcore_routes"] != before:
        assert time.monotonic() < deadline, "the routes gauge did not drop after a removal"
        time.sleep(0.05)


def test_431_on_too_many_header_bytes_or_lines(hookcore: Hookcore, instance: dict) -> None:
    url = instance["webhookUrls"]["Quick"]
    too_long = {f"x-pad-{i}": "v" * 2000 for i in range(40)}  # 80 KB > HOOKCORE_MAX_HEADER_BYTES (64 KiB)
    too_many = {f"x-line-{i}": "v" for i in range(70)}  # > HOOKCORE_MAX_HEADERS (64)
    for headers in (too_long, too_many):
        answer = hookcore.client.post(url, headers=headers)
        assert answer.status_code == 431, answer.text
        assert answer.headers["hookcore-error-code"] == ErrorCode.HEADERS_TOO_LARGE
        assert list(answer.json()) == ["error"]
        assert "hookcore-execution-id" not in answer.headers
    # just under both limits is accepted
    fine = {f"x-pad-{i}": "v" * 2000 for i in range(30)}
    assert hookcore.client.post(url, headers=fine).status_code == 200
