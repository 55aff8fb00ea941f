"""The worker's metrics that are read at scrape time, rendered as Prometheus reads them."""

from __future__ import annotations

from hookcore.metrics import WorkerMetrics


def test_queue_backlogs_are_read_at_each_scrape() -> None:
    metrics = WorkerMetrics()
    backlogs = {"hookcore-shard-3": 5, "hookcore-sync": 1}
    metrics.watch_backlogs(lambda: dict(backlogs))
    text = metrics.render().decode()
    assert 'hookcore_queue_backlog{queue="hookcore-shard-3"} 5.0' in text
    assert 'hookcore_queue_backlog{queue="hookcore-sync"} 1.0' in text
    backlogs.clear()  # drained: the series go away rather than stay at their last value
    assert "hookcore_queue_backlog{" not in metrics.render().decode()


def test_executions_waiting_for_a_slot_are_read_at_each_scrape() -> None:
    metrics = WorkerMetrics()
    waiting = [3]
    metrics.watch_waiting(lambda: waiting[0])
    assert "hookcore_executions_waiting 3.0" in metrics.render().decode()
    waiting[0] = 0
    assert "hookcore_executions_waiting 0.0" in metrics.render().decode()
