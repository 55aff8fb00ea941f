"""What a load run measured: one row per target and round, and the figures saved with the run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Row:
    """One target measured once: throughput (``unit`` per second) and, from wrk, latency."""

    target: str
    value: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    non_2xx: int = 0


@dataclass
class LoadRun:
    """The rounds of one load run; ``subject`` is hookcore's figure, ``baseline`` its same-run peer.

    The ratios compared across runs are the subject over every other target
    (higher is better for hookcore). ``spec_ratio`` is SPEC section 7's floor
    for subject / baseline, ``spec_value`` its floor for the subject's own
    figure, ``spec_p99_ms`` its ceiling for the subject's p99; ``target_source``
    says where those targets are written.
    """

    unit: str
    subject: str
    baseline: str
    settings: dict[str, Any]
    spec_ratio: float | None = None
    spec_value: float | None = None
    spec_p99_ms: float | None = None
    target_source: str = "SPEC section 7"
    rounds: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rounds.append(row)

    def best(self) -> dict[str, Row]:
        """The best round of each target (the machine's noise only ever slows a run down)."""
        best: dict[str, Row] = {}
        for row in self.rounds:
            if row.target not in best or row.value > best[row.target].value:
                best[row.target] = row
        return best

    def extra_info(self) -> dict[str, Any]:
        best = self.best()
        subject, baseline = best[self.subject], best[self.baseline]
        return {
            "unit": self.unit,
            "subject": self.subject,
            "value": subject.value,
            "p50_ms": subject.p50_ms,
            "p99_ms": subject.p99_ms,
            "baseline": self.baseline,
            "baseline_value": baseline.value,
            "ratio": subject.value / baseline.value,
            "spec_ratio": self.spec_ratio,
            "spec_value": self.spec_value,
            "spec_p99_ms": self.spec_p99_ms,
            "target_source": self.target_source,
            "ratios": {
                f"{self.subject} / {t}": subject.value / row.value
                for t, row in best.items()
                if row is not subject
            },
            "rows": [
                {
                    **asdict(row),
                    "ratio": row.value / baseline.value,
                    "rounds": [r.value for r in self.rounds if r.target == row.target],
                }
                for row in best.values()
            ],
            "settings": self.settings,
        }
