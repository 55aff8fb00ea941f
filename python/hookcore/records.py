"""Where execution records and results live: the layout of their two KV buckets.

The only module that names them (`tests/unit/test_layouts.py` checks it): services read and
write through `store` (records, results), `follow` and `console.live` (record writes as they
happen), all with the keys and subjects built here.

- ``hookcore_records``: ``{execution id}`` -> the execution record (JSON), kept for the
  retention (the bucket's TTL);
- ``hookcore_results``: ``{execution id}`` -> the last step's result, when too big to be kept in
  the record but not for one message (larger ones go to the object store, `hookcore.objects`).
"""

from __future__ import annotations

RECORDS_BUCKET = "hookcore_records"
RESULTS_BUCKET = "hookcore_results"


def record_subject(execution_id: str) -> str:
    """The subject a write of ``execution_id``'s record publishes to (``*`` or ``>``: every
    record's), as nats-py's ``KeyValue.put`` would."""
    return f"$KV.{RECORDS_BUCKET}.{execution_id}"


def result_subject(execution_id: str) -> str:
    """The subject a write of ``execution_id``'s result publishes to."""
    return f"$KV.{RESULTS_BUCKET}.{execution_id}"
