"""Prometheus metrics of the orchestrator (prometheus-client, label `service`).

- `atlas_saga_started_total`, `atlas_saga_duplicate_starts_total`
- `atlas_saga_events_total{verdict}`: advanced, duplicate, out_of_order, late, unmatched, unchanged
- `atlas_saga_version_conflicts_total`, `atlas_saga_conflict_retries_total`
- `atlas_saga_timed_out_total`, `atlas_saga_recovered_total`
- `atlas_saga_finished_total{status}`: completed, compensated, failed
"""

from __future__ import annotations

from prometheus_client import Counter

_SIMPLE = {
    name: Counter(f"atlas_saga_{name}", help_text, ["service"])
    for name, help_text in {
        "started": "Sagas started",
        "duplicate_starts": "Start requests for a transaction id that already existed",
        "conflicts": "Version conflicts met while writing a saga",
        "conflict_retries": "Re-reads after a version conflict",
        "timed_out": "Sagas compensated by the reaper after their deadline",
        "recovered": "Sagas moved on by start-up recovery",
    }.items()
}
EVENTS = Counter("atlas_saga_events", "Status events by what they did to their saga", ["service", "verdict"])
FINISHED = Counter("atlas_saga_finished", "Sagas that reached a terminal state", ["service", "status"])


def record(service: str, stat: str, amount: int = 1) -> None:
    """Count `amount` of the orchestrator statistic `stat` (the keys of `SagaOrchestrator.stats`)."""
    if amount <= 0:
        return
    if stat in _SIMPLE:
        _SIMPLE[stat].labels(service).inc(amount)
    elif stat.startswith("event_"):
        EVENTS.labels(service, stat.removeprefix("event_")).inc(amount)
    elif stat.startswith("terminal_"):
        FINISHED.labels(service, stat.removeprefix("terminal_")).inc(amount)
