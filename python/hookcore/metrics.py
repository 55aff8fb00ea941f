"""Prometheus text for /metrics: plain counters, cheap enough for the hot path."""

from __future__ import annotations

from collections import Counter


class Metrics:
    """Counters of one ingress process."""

    def __init__(self) -> None:
        self.trigger_responses: Counter[int] = Counter()
        self.publish_failures = 0
        self.duplicates = 0

    def render(self, routes: int) -> bytes:
        lines = [
            "# HELP hookcore_trigger_responses_total Answers to /trigger requests by HTTP status.",
            "# TYPE hookcore_trigger_responses_total counter",
        ]
        lines += [
            f'hookcore_trigger_responses_total{{status="{status}"}} {count}'
            for status, count in sorted(self.trigger_responses.items())
        ]
        lines += [
            "# HELP hookcore_publish_failures_total Requests JetStream did not store (answered 503).",
            "# TYPE hookcore_publish_failures_total counter",
            f"hookcore_publish_failures_total {self.publish_failures}",
            "# HELP hookcore_duplicates_total Deliveries answered with the first copy's execution id.",
            "# TYPE hookcore_duplicates_total counter",
            f"hookcore_duplicates_total {self.duplicates}",
            "# HELP hookcore_routes Endpoints in this process's routing table.",
            "# TYPE hookcore_routes gauge",
            f"hookcore_routes {routes}",
        ]
        return ("\n".join(lines) + "\n").encode()
