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


def test_the_customers_with_the_most_waiting_are_estimated_from_recent_starts() -> None:
    metrics = WorkerMetrics()
    metrics.watch_backlogs(lambda: {"hookcore-shard-3": 1000, "hookcore-shard-5": 10})
    for n in range(400):  # shard 3: the last 200 starts were acme's 3 to 1 with globex's
        metrics.started("hookcore-shard-3", "globex" if n % 4 == 0 else "acme")
    metrics.started("hookcore-shard-5", "initech")
    for n in range(30):  # started from a queue with nothing waiting now: not named
        metrics.started("hookcore-sync", f"customer-{n}")
    text = metrics.render().decode()
    assert 'hookcore_customer_backlog{customer="acme"} 750.0' in text
    assert 'hookcore_customer_backlog{customer="globex"} 250.0' in text
    assert 'hookcore_customer_backlog{customer="initech"} 10.0' in text
    assert text.count("hookcore_customer_backlog{") == 3


def test_at_most_ten_customers_are_named() -> None:
    metrics = WorkerMetrics()
    metrics.watch_backlogs(lambda: {"hookcore-shard-1": 100})
    for n in range(50):
        metrics.started("hookcore-shard-1", f"customer-{n % 25}")
    assert metrics.render().decode().count("hookcore_customer_backlog{") == 10
